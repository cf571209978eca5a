import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { parse } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileTemplate, TemplateError, usePreparedTemplates } from '../../../engine/template/index.ts';
import { prepareTemplates, specTemplateSources } from '../../../engine/template/prepare-templates.ts';

const CONTEXT = {
  record: { id: 'o-1', ts: '2026-11-27T23:30:05Z', status: 'open' },
  meta: { source: 'orders' },
  stage: 'prod',
  now: new Date('2026-01-02T03:04:05Z'),
};

describe('prepareTemplates', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('gives every template of the common forms a plan, so no Handlebars is needed', () => {
    const prepared = prepareTemplates(["orders/dt={{date record.ts 'yyyy-MM-dd'}}/", '{{upper record.status}} {{record.id}}', 'plain']);

    expect(prepared.needsHandlebars).toBe(false);
    expect(prepared.plans.map((entry) => entry.source)).toEqual([
      "orders/dt={{date record.ts 'yyyy-MM-dd'}}/",
      '{{upper record.status}} {{record.id}}',
      'plain',
    ]);
  });

  it('says Handlebars is needed for a template without a plan, and gives it none', () => {
    const prepared = prepareTemplates(['{{record.id}}', '{{#each record.tags}}{{this}}{{/each}}']);

    expect(prepared.needsHandlebars).toBe(true);
    expect(prepared.plans.map((entry) => entry.source)).toEqual(['{{record.id}}']);
  });

  it('leaves a template that does not compile to the handler, which reports it as before', () => {
    const prepared = prepareTemplates(['{{format record.ts}}']);

    expect(prepared).toEqual({ needsHandlebars: true, plans: [] });
    expect(() => compileTemplate('{{format record.ts}}')).toThrow(TemplateError);
  });

  it('compiles a prepared template from its plan, without parsing it, after a trip through JSON', () => {
    const source = "p/{{stage}}/{{date record.ts 'yyyy/MM/dd'}}/{{#if record.missing}}x{{/if}}{{record.id}}";
    const expected = compileTemplate(source)(CONTEXT);
    usePreparedTemplates(JSON.parse(JSON.stringify(prepareTemplates([source]))));
    const parses = vi.spyOn(Handlebars, 'parseWithoutProcessing');

    const template = compileTemplate(source);

    expect(template(CONTEXT)).toBe(expected);
    expect(template(CONTEXT)).toBe('p/prod/2026/11/27/o-1');
    expect(parses).not.toHaveBeenCalled();
  });

  it('keeps the missing option of each compilation of a prepared template', () => {
    const source = 'a-{{record.tenant}}-b';
    usePreparedTemplates(prepareTemplates([source]));

    expect(compileTemplate(source, { missing: 'empty' })(CONTEXT)).toBe('a--b');
    expect(() => compileTemplate(source)(CONTEXT)).toThrow('{{record.tenant}} has no value');
  });
});

describe('specTemplateSources', () => {
  it('finds every template of a spec, wherever the schema types one', () => {
    const spec = parse(readFileSync(join(import.meta.dirname, '../../../examples/cloudwatch-logs.yaml'), 'utf8'));

    expect(specTemplateSources(spec).sort()).toEqual(
      [
        "checkout-logs/{{stage}}/{{date now 'yyyy/MM/dd'}}/",
        '{{record.id}}-{{record.log_items.sku}}',
        '{{upper record.log_level}} {{record.log_msg}} ({{record.log_request_path}})',
        "checkout-{{date record.timestamp 'yyyy.MM.dd'}}",
        '{{record.doc_id}}',
        "checkout/order-lines/dt={{date record.timestamp 'yyyy-MM-dd'}}/",
      ].sort(),
    );
  });
});
