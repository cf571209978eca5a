import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { checkTemplate, compileTemplate, type TemplateContext, type TemplateRenderError } from '../../../engine/template/index.ts';
import { specTemplateSources } from '../../../engine/template/prepare-templates.ts';
import { templatePlan } from '../../../engine/template/compile-template.ts';
import type { PlanPart, PlanValue } from '../../../engine/template/plan-template.ts';
import { handlebarsTemplate } from './handlebars-reference.ts';

// Differential test: every template that renders from a plan, and every template that Handlebars
// renders with its setup done once, renders exactly as plain Handlebars renders it (same text, or
// the same error: class, code, message, line, column) in every context.

const REPOSITORY = join(import.meta.dirname, '../../..');

type Outcome = { text: string } | { error: { name: string; code: unknown; message: string; line: unknown; column: unknown } };

function outcome(render: (context: TemplateContext) => string, context: TemplateContext): Outcome {
  try {
    return { text: render(context) };
  } catch (error) {
    const { name, code, message, line, column } = error as TemplateRenderError;
    return { error: { name, code, message, line, column } };
  }
}

/** Every kind of value a path can meet. */
const VALUES: ReadonlyArray<readonly [string, unknown]> = [
  ['missing', undefined],
  ['null', null],
  ['text', 'Page View'],
  ['empty text', ''],
  ['accented text', '  Crème Brûlée: 2 × Déjà-Vu!  '],
  ['punctuation', '!!!'],
  ['html', `a < b & c = 'd' "e"`],
  ['zero', 0],
  ['number', 1.5],
  ['negative', -3],
  ['NaN', Number.NaN],
  ['infinity', Number.POSITIVE_INFINITY],
  ['true', true],
  ['false', false],
  ['object', { a: 1, b: 'x', length: 2 }],
  ['empty object', {}],
  ['list', ['x', 'y']],
  ['empty list', []],
  ['date-time', '2026-11-27T23:30:05Z'],
  ['offset date-time', '2026-11-28T00:30:05+01:00'],
  ['date without zone', '2026-11-27T23:30:05'],
  ['day', '2026-11-27'],
  ['not a date', 'yesterday'],
  ['epoch seconds', 1_764_286_205],
  ['epoch milliseconds', 1_764_286_205_123],
  ['epoch nanoseconds', 1_764_286_205_123_456_789],
  ['Date', new Date('2026-11-27T23:30:05Z')],
  ['invalid Date', new Date(Number.NaN)],
  ['function', () => 'called'],
  ['own constructor', JSON.parse('{"constructor": "acme", "__proto__": "p"}')],
];

/** The paths a plan reads, to put each kind of value at. */
function pathsOf(parts: readonly PlanPart[]): string[][] {
  const paths: string[][] = [];
  const ofValue = (value: PlanValue): void => {
    if ('path' in value) paths.push(value.path);
    else if ('call' in value) value.arguments.forEach(ofValue);
  };
  for (const part of parts) {
    if (typeof part === 'string') continue;
    if ('print' in part) ofValue(part.print);
    else {
      ofValue(part.if);
      paths.push(...pathsOf(part.then), ...pathsOf(part.else));
    }
  }
  return paths;
}

function baseContext(): TemplateContext {
  return {
    record: { event_id: 'e1', ts: '2026-11-27T23:30:05Z', status: 'open', tags: ['a', 'b'], n: 0 },
    meta: { source: 'clicks', arrival_time: 1_764_286_205_000 },
    stage: 'prod',
    now: new Date('2026-01-02T03:04:05Z'),
    sink: { name: 'orders' },
    table: { name: 'public.orders' },
  };
}

/** A copy of the context with `value` at `path`; the objects along the path are copied, not changed. */
function withValue(context: TemplateContext, path: readonly string[], value: unknown): TemplateContext {
  const set = (parent: unknown, index: number): unknown => {
    const copy: Record<string, unknown> = typeof parent === 'object' && parent !== null && !Array.isArray(parent) ? { ...parent } : {};
    const name = path[index]!;
    const child = index === path.length - 1 ? value : set(Object.hasOwn(copy, name) ? copy[name] : undefined, index + 1);
    Object.defineProperty(copy, name, { value: child, enumerable: true, writable: true, configurable: true });
    return copy;
  };
  return set(context, 0) as TemplateContext;
}

/** Paths the templates that need Handlebars read. */
const HANDLEBARS_PATHS = [['record', 'a'], ['record', 'b'], ['record', 'tags'], ['record']];

/** The base context, then each path of the template set to each kind of value, then every path at once. */
function contextsFor(source: string, values: typeof VALUES = VALUES): TemplateContext[] {
  const plan = templatePlan(source);
  const paths = plan ? pathsOf(plan.parts) : HANDLEBARS_PATHS;
  const contexts: TemplateContext[] = [baseContext(), {}, { ...baseContext(), now: undefined }];
  for (const [, value] of values) {
    let all = baseContext();
    for (const path of paths) {
      contexts.push(withValue(baseContext(), path, value));
      all = withValue(all, path, value);
    }
    contexts.push(all);
  }
  return contexts;
}

/** Template forms: each helper, paths, literals, blocks, whitespace control, prototype names. */
const FORMS: readonly string[] = [
  'plain text',
  '',
  '{{record.a}}',
  '{{record.a.b}}',
  '{{record.a.b.c}}',
  '{{meta.source}}/{{stage}}/{{now}}',
  '{{record}}',
  '{{record.a.length}}',
  '{{record.[a]}}',
  '{{record.a.[0]}}',
  "{{date record.a 'yyyy-MM-dd'}}",
  "orders/dt={{date record.a 'yyyy-MM-dd'}}/",
  "{{date now 'yyyy/MM/dd'}}",
  "{{date record.a 'yyyy-MM-dd HH:mm:ss.SSS'}}",
  "{{date record.a \"QQQ 'q' yyyy\"}}",
  "{{date record.a 'EEEE'}}",
  "{{date meta.arrival_time 'yyyy/MM/dd/HH'}}",
  "{{date '2026-11-27' 'yyyy'}}",
  '{{upper record.a}} {{lower record.a}}',
  '{{slug record.a}}',
  '{{hash record.a}}',
  '{{hash record.a 12}}',
  '{{upper (slug record.a)}}',
  '{{hash (lower record.a) 8}}',
  '{{lookup record "a"}}',
  '{{lookup record.a 0}}',
  '{{lookup record "constructor"}}',
  '{{lookup record.a "length"}}',
  '{{lookup (lookup record "a") "b"}}',
  '{{lookup record record.b}}',
  '{{"literal"}}-{{1}}-{{true}}-{{null}}',
  "{{upper 'x'}}",
  '{{#if record.a}}yes{{else}}no{{/if}}',
  '{{#unless record.a}}none{{else}}{{record.a}}{{/unless}}',
  '{{#if record.a includeZero=true}}yes{{else}}no{{/if}}',
  '{{#if record.a}}{{record.a}}{{else if record.b}}{{record.b}}{{else}}-{{/if}}',
  '{{#if (upper record.a)}}y{{/if}}',
  '{{#if record.a}}{{#unless record.b}}a-only{{/unless}}{{/if}}',
  'a {{~record.a~}} b',
  'a {{~#if record.a~}} x {{~/if~}} b',
  '{{!-- a comment --}}x{{! another }}y',
  '  {{! standalone }}  \n{{record.a}}',
  'DELETE FROM t\n{{#if record.a}}\nWHERE id = {{~record.a~}}\n{{/if}}\n;',
  '{{#if record.a}}\n  line {{record.a}}\n{{else}}\n  other\n{{/if}}\n',
  '  {{#if record.a}}  \n  x\n  {{/if}}  \n',
  '\\{{record.a}} {{record.a}}',
  '{{{record.a}}}-{{&record.a}}',
  '{{record.constructor}}',
  '{{record.__proto__}}',
  '{{record.constructor.name}}',
  '{{record.a.constructor}}',
  '{{record.a.__proto__}}',
  '{{record.toString}}',
  '{{record.a}}{{record.a}}\n{{record.a}}',
  'DELETE FROM {{table.name}} WHERE sink = {{sink.name}}',
];

/** Forms without a plan, which Handlebars renders. */
const HANDLEBARS_FORMS: readonly string[] = [
  '{{#each record.tags}}{{this}}{{#unless @last}},{{/unless}}{{/each}}',
  '{{#each record.a}}{{@key}}={{this}};{{else}}none{{/each}}',
  '{{#each record}}{{@key}} {{/each}}',
  '{{#each record.tags as |tag index|}}{{index}}:{{tag}} {{/each}}',
  '{{#each record.tags}}{{../stage}}-{{this}}-{{lookup ../record.a @index}}{{/each}}',
  '{{#with record}}{{a}}-{{b}}{{/with}}',
  '{{#with record}}{{constructor}}{{/with}}',
  '{{#with record as |r|}}{{r.a}}{{else}}no record{{/with}}',
  '{{#record.tags}}{{.}}{{/record.tags}}',
  '{{#record.a}}[{{this}}]{{/record.a}}',
  '{{@root.record.a}}',
  '{{this.record.a}}',
  '{{undefined}}',
  '{{#if record.a}}{{else}}{{#each record.tags}}{{this}}{{/each}}{{/if}}',
  '{{#with record}}{{#if a}}{{upper a}}{{/if}}{{/with}}',
  '{{lookup record.tags @index}}',
];

function examplesTemplates(): string[] {
  const directory = join(REPOSITORY, 'examples');
  return readdirSync(directory)
    .filter((name) => name.endsWith('.yaml'))
    .flatMap((name) => specTemplateSources(parse(readFileSync(join(directory, name), 'utf8'))));
}

/** Template-looking strings in the tests' sources and fixtures: quoted text with `{{`. */
function testTemplates(): string[] {
  const found = new Set<string>();
  const visit = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (/\.(ts|yaml)$/.test(entry.name)) {
        for (const match of readFileSync(path, 'utf8').matchAll(/'([^'\n\\]*\{\{[^'\n\\]*)'|"([^"\n\\]*\{\{[^"\n\\]*)"/g)) {
          found.add(match[1] ?? match[2]!);
        }
      }
    }
  };
  visit(join(REPOSITORY, 'test'));
  return [...found];
}

describe('render plans', () => {
  const examples = examplesTemplates();
  const fromTests = testTemplates();
  const sources = [...new Set([...FORMS, ...examples, ...fromTests])];
  const planned = sources.filter((source) => templatePlan(source) !== undefined);

  it('cover the templates of every example and the common forms', () => {
    expect(examples.length).toBeGreaterThan(10);
    expect(examples.filter((source) => templatePlan(source) === undefined)).toEqual([]);
    expect(FORMS.filter((source) => templatePlan(source) === undefined)).toEqual([]);
    expect(planned.length).toBeGreaterThan(100);
  });

  it.each(planned.map((source) => [source]))('%j renders as Handlebars renders it', (source) => {
    expectSameOutcomes(source);
  });

  it('leave the forms they do not cover to Handlebars', () => {
    expect(HANDLEBARS_FORMS.filter((source) => templatePlan(source) !== undefined)).toEqual([]);
  });
});

describe('templates rendered by Handlebars with its setup done once', () => {
  it.each(HANDLEBARS_FORMS.map((source) => [source]))('%j renders as plain Handlebars renders it', (source) => {
    expectSameOutcomes(source);
  });
});

/**
 * What `validate` accepts runs: a template `checkTemplate` accepts never fails to render with
 * `render-failed` (Handlebars' own error, such as a helper the environment left out); every
 * value a record can hold either renders or fails as one of the value errors.
 */
describe('templates validate accepts', () => {
  // What a record can hold: JSON values, and the non-finite numbers an expression can make.
  const recordValues = VALUES.filter(([, value]) => typeof value !== 'function' && !(value instanceof Date));
  const accepted = [...new Set([...FORMS, ...HANDLEBARS_FORMS, ...examplesTemplates(), ...testTemplates()])].filter((source) => checkTemplate(source).length === 0);
  it.each(accepted.map((source) => [source]))('%j renders every context or fails with a value error', (source) => {
    for (const missing of ['error', 'empty'] as const) {
      const template = compileTemplate(source, { missing });
      for (const context of contextsFor(source, recordValues)) {
        const result = outcome(template, context);
        const error = 'error' in result ? result.error : undefined;
        expect(error?.code, JSON.stringify({ source, missing, message: error?.message })).not.toBe('render-failed');
      }
    }
  });
});

function expectSameOutcomes(source: string): void {
  for (const missing of ['error', 'empty'] as const) {
    const template = compileTemplate(source, { missing });
    const handlebars = handlebarsTemplate(source, missing === 'empty');
    for (const context of contextsFor(source)) {
      expect(outcome(template, context), JSON.stringify({ source, missing })).toEqual(outcome(handlebars, context));
    }
  }
}
