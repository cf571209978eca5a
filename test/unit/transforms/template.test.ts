import { describe, expect, it } from 'vitest';
import { TemplateError } from '../../../engine/template/index.ts';
import { templateStep } from '../../../engine/transforms/template/step.ts';
import { aMeta, anInvocation, compile, recordErrorOf, run } from './factories.ts';

const template = (config: Record<string, string>) => compile(templateStep, config);

describe('template', () => {
  it('has the YAML key as its kind', () => {
    expect(templateStep.kind).toBe('template');
  });

  it('assigns the rendered string', () => {
    expect(run(template({ label: '{{record.first}} {{record.last}}' }), { first: 'Ada', last: 'Lovelace' })).toEqual({
      first: 'Ada',
      last: 'Lovelace',
      label: 'Ada Lovelace',
    });
  });

  it('reads the record meta', () => {
    expect(run(template({ origin: '{{meta.source}}' }), {}, undefined, aMeta({ source: 'clicks' }))).toEqual({ origin: 'clicks' });
  });

  it("formats the invocation's time as now", () => {
    const invocation = anInvocation({ now: new Date('2026-11-27T12:34:56Z') });
    expect(run(template({ day: "{{date now 'yyyy-MM-dd'}}" }), {}, invocation)).toEqual({ day: '2026-11-27' });
  });

  it('renders every template against the record as it was before the step', () => {
    expect(run(template({ a: '{{record.b}}', b: 'new' }), { b: 'old' })).toEqual({ a: 'old', b: 'new' });
  });

  it('creates missing parents of a dotted target', () => {
    expect(run(template({ 'labels.name': 'x{{record.id}}' }), { id: 1 })).toEqual({ id: 1, labels: { name: 'x1' } });
  });

  it('fails the record, naming the field, when a printed value is missing', () => {
    const error = recordErrorOf(() => run(template({ label: '{{record.absent}}' }), {}));
    expect(error.code).toBe('transform-error');
    expect(error.message).toMatch(/^field `label`: /);
  });

  it('throws TemplateError when compiling an invalid template', () => {
    expect(() => template({ label: '{{record.a' })).toThrow(TemplateError);
  });

  it('does not expose prototypes to templates', () => {
    const error = recordErrorOf(() => run(template({ leak: '{{record.constructor.name}}' }), {}));
    expect(error.code).toBe('transform-error');
  });

  it('refuses a constructor target when compiling', () => {
    expect(() => template({ constructor: 'x' })).toThrow(/prototype safety/);
  });
});
