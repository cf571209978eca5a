import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { analyzeTemplate, routeOutputThroughPrintHelper, SourcePositions } from '../../../engine/template/analyze-template.ts';
import { compileWithHandlebars, parseTemplate, precompileTemplate } from '../../../engine/template/handlebars-engine.ts';
import { compileTemplate, TemplateRenderError, type TemplateContext } from '../../../engine/template/index.ts';
import { specTemplateSources } from '../../../engine/template/prepare-templates.ts';
import { templatePlan } from '../../../engine/template/compile-template.ts';
import type { PlanPart, PlanValue } from '../../../engine/template/plan-template.ts';

// Differential test: every template that renders from a plan renders exactly as Handlebars
// renders it (same text, or the same error: class, code, message, line, column) in every context.

const REPOSITORY = join(import.meta.dirname, '../../..');

/** Handlebars' rendering of a template, as compileTemplate did it before render plans. */
function handlebarsTemplate(source: string, missingAsEmpty: boolean): (context: TemplateContext) => string {
  const positions = new SourcePositions(source);
  const program = parseTemplate(source);
  const { problems, helpers } = analyzeTemplate(program, positions);
  if (problems.length > 0) throw new Error(`${source}: ${problems[0]!.message}`);
  const routed = routeOutputThroughPrintHelper(program, positions, missingAsEmpty);
  precompileTemplate(routed);
  const render = compileWithHandlebars(routed, helpers);
  return (context) => {
    try {
      return render(context);
    } catch (error) {
      if (error instanceof TemplateRenderError) throw error;
      const excerpt = source.length > 80 ? `${source.slice(0, 77)}...` : source;
      throw new TemplateRenderError('render-failed', `template ${JSON.stringify(excerpt)}: ${(error as Error).message}`);
    }
  };
}

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

/** The base context, then each path of the template set to each kind of value, then every path at once. */
function contextsFor(source: string): TemplateContext[] {
  const plan = templatePlan(source);
  const paths = plan ? pathsOf(plan.parts) : [];
  const contexts: TemplateContext[] = [baseContext(), {}, { ...baseContext(), now: undefined }];
  for (const [, value] of VALUES) {
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
    for (const missing of ['error', 'empty'] as const) {
      const specialized = compileTemplate(source, { missing });
      const handlebars = handlebarsTemplate(source, missing === 'empty');
      for (const context of contextsFor(source)) {
        expect(outcome(specialized, context), JSON.stringify({ source, missing })).toEqual(outcome(handlebars, context));
      }
    }
  });
});
