import Handlebars from 'handlebars';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  checkTemplate,
  compileTemplate,
  TemplateError,
  TemplateRenderError,
  type TemplateContext,
} from '../../../engine/template/index.ts';

function aContext(overrides: Partial<TemplateContext> = {}): TemplateContext {
  return {
    record: { event_id: 'e1', event_type: 'Page View', ts: '2026-11-27T23:30:05Z', amount: 1.5, count: 0, tags: ['a', 'b'] },
    meta: { source: 'clicks', position: 'shard-0/42' },
    stage: 'prod',
    now: new Date('2026-01-02T03:04:05Z'),
    ...overrides,
  };
}

function render(source: string, context: TemplateContext = aContext()): string {
  return compileTemplate(source)(context);
}

function compileError(source: string): TemplateError {
  try {
    compileTemplate(source);
  } catch (error) {
    if (error instanceof TemplateError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(source)} not to compile`);
}

function renderError(source: string, context: TemplateContext = aContext()): TemplateRenderError {
  try {
    render(source, context);
  } catch (error) {
    if (error instanceof TemplateRenderError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(source)} to fail`);
}

describe('rendering values', () => {
  it('prints record, meta and stage values', () => {
    expect(render('{{stage}}/{{meta.source}}/{{record.event_id}}')).toBe('prod/clicks/e1');
  });

  it('prints numbers, including zero', () => {
    expect(render('{{record.amount}}-{{record.count}}')).toBe('1.5-0');
  });

  it('does not escape HTML characters: templates build keys and SQL, not HTML', () => {
    expect(render('{{record.sql}}', aContext({ record: { sql: `a < b & c = 'd' "e"` } }))).toBe(`a < b & c = 'd' "e"`);
  });

  it('iterates lists and reads optional values in blocks', () => {
    expect(render('{{#each record.tags}}{{this}}{{#unless @last}},{{/unless}}{{/each}}')).toBe('a,b');
    expect(render('{{#if record.missing}}yes{{else}}no{{/if}}')).toBe('no');
  });

  it('applies whitespace control as Handlebars does', () => {
    const sql = 'DELETE FROM t\n{{#if record.event_id}}\nWHERE id = {{~record.event_id~}}\n{{/if}}\n;';

    expect(render(sql)).toBe('DELETE FROM t\nWHERE id =e1;');
  });

  it('fails on a missing value instead of printing an empty key segment', () => {
    const error = renderError('clicks/{{record.tenant}}/');

    expect(error.code).toBe('missing-value');
    expect(error.message).toContain('{{record.tenant}}');
    expect([error.line, error.column]).toEqual([1, 8]);
  });

  it('treats null like a missing value', () => {
    expect(renderError('{{record.tenant}}', aContext({ record: { tenant: null } })).code).toBe('missing-value');
  });

  it('prints a missing value as empty when asked to', () => {
    const template = compileTemplate('a-{{record.tenant}}-b', { missing: 'empty' });

    expect(template(aContext())).toBe('a--b');
  });

  it('fails on an object or a list instead of printing [object Object]', () => {
    expect(renderError('{{meta}}').code).toBe('invalid-value');
    expect(renderError('{{record.tags}}').code).toBe('invalid-value');
  });
});

describe('compile errors', () => {
  it('reports a syntax error with its line and column', () => {
    const error = compileError('prefix/\n  {{ record.id &}}');

    expect(error.code).toBe('invalid-template');
    expect([error.line, error.column, error.offset]).toEqual([2, 16, 23]);
    expect(error.message).toBe('syntax error: unexpected character');
  });

  it('reports an unclosed block', () => {
    const error = compileError('{{#if record.id}}x');

    expect(error.code).toBe('invalid-template');
    expect(error.message).toContain('end of template');
  });

  it('reports a block closed with the wrong name at the opening block', () => {
    const error = compileError('{{#if record.a}}\nx\n{{/each}}');

    expect(error.code).toBe('invalid-template');
    expect(error.message).toBe("if doesn't match each");
    expect(error.line).toBe(1);
  });

  it('rejects partials, which Ingest never registers', () => {
    expect(compileError('{{> header}}').code).toBe('invalid-template');
  });

  it('rejects a helper called with the wrong number of arguments', () => {
    const error = compileError("{{date record.ts}}");

    expect(error.code).toBe('invalid-template');
    expect(error.message).toContain('date takes 2 argument(s), not 1');
  });

  it('rejects a block helper used inline and an inline helper used as a block', () => {
    expect(compileError('{{if record.a}}').message).toContain('block helper');
    expect(compileError('{{#lower record.a}}x{{/lower}}').message).toContain('not a block helper');
  });

  it('rejects a literal date format that date-fns would reject or misread', () => {
    expect(compileError("{{date now 'YYYY-MM-DD'}}").message).toContain('use yyyy');
    expect(compileError("{{date now 'yyyy-nn'}}").message).toContain('not a date-fns format');
  });

  it('rejects a quoted now, which would be the text "now" rather than the time', () => {
    expect(compileError("{{date 'now' 'yyyy'}}").message).toContain('without quotes');
  });

  it('rejects a literal hash length outside 1 to 64', () => {
    expect(compileError('{{hash record.id 65}}').code).toBe('invalid-template');
    expect(compileError('{{hash record.id "8"}}').code).toBe('invalid-template');
  });

  it('keeps the template source on the error', () => {
    expect(compileError('{{').source).toBe('{{');
  });
});

describe('unknown helpers', () => {
  it('rejects an unknown helper with arguments, pointing at its name', () => {
    const error = compileError('x-{{format record.ts}}');

    expect(error.code).toBe('unknown-helper');
    expect(error.message).toContain("'format'");
    expect([error.line, error.column, error.offset]).toEqual([1, 5, 4]);
  });

  it('rejects an unknown helper in a sub-expression', () => {
    expect(compileError('{{lower (trim record.a)}}').code).toBe('unknown-helper');
  });

  it('rejects an unknown block helper with arguments', () => {
    expect(compileError('{{#repeat record.a}}x{{/repeat}}').code).toBe('unknown-helper');
  });

  it('rejects a call through a record field', () => {
    expect(compileError('{{record.fn 1}}').code).toBe('unknown-helper');
  });

  it('rejects log, since plugins do not log', () => {
    expect(compileError('{{log record}}').code).toBe('unknown-helper');
  });

  it('reports every unknown helper, not only the first', () => {
    const problems = checkTemplate('{{one record.a}}\n{{two record.b}}');

    expect(problems.map((problem) => [problem.code, problem.line])).toEqual([
      ['unknown-helper', 1],
      ['unknown-helper', 2],
    ]);
  });

  it('treats a name without arguments as a value, not a helper', () => {
    expect(checkTemplate('{{tenant}}/{{#items}}{{.}}{{/items}}')).toEqual([]);
  });
});

describe('checkTemplate', () => {
  it('returns no problem for a valid template', () => {
    expect(checkTemplate("clicks-{{date record.ts 'yyyy.MM.dd'}}")).toEqual([]);
  });

  it('returns problems as data instead of throwing', () => {
    expect(checkTemplate('{{#if}}')).toEqual([expect.objectContaining({ code: 'invalid-template', line: 1 })]);
  });
});

describe('date helper', () => {
  it.each([
    ['yyyy/MM/dd', '2026/11/27'],
    ['yyyy-MM-dd', '2026-11-27'],
    ['yyyy.MM.dd', '2026.11.27'],
    ['HH', '23'],
    ['mm', '30'],
    ['ss', '05'],
    ["yyyy-MM-dd'T'HH:mm:ss'Z'", '2026-11-27T23:30:05Z'],
  ])('formats %s', (pattern, expected) => {
    expect(render(`{{date record.ts "${pattern}"}}`)).toBe(expected);
  });

  it('formats the context now', () => {
    expect(render("{{stage}}/{{date now 'yyyy/MM/dd'}}/")).toBe('prod/2026/01/02/');
  });

  it('reads epoch milliseconds, Dates and zone offsets', () => {
    const at = Date.UTC(2026, 10, 27, 23, 30, 5);
    const template = compileTemplate("{{date record.ts 'yyyy-MM-dd HH:mm'}}");

    expect(template(aContext({ record: { ts: at } }))).toBe('2026-11-27 23:30');
    expect(template(aContext({ record: { ts: new Date(at) } }))).toBe('2026-11-27 23:30');
    expect(template(aContext({ record: { ts: '2026-11-28T00:30:05+01:00' } }))).toBe('2026-11-27 23:30');
  });

  it('reads a date-time without a zone as UTC', () => {
    expect(render("{{date record.ts 'HH:mm'}}", aContext({ record: { ts: '2026-11-27T23:30:05' } }))).toBe('23:30');
  });

  describe('whatever the machine time zone', () => {
    const original = process.env.TZ;
    afterEach(() => {
      if (original === undefined) delete process.env.TZ;
      else process.env.TZ = original;
    });

    it('formats in UTC', () => {
      process.env.TZ = 'Pacific/Kiritimati';

      expect(render("{{date record.ts 'yyyy-MM-dd HH'}}")).toBe('2026-11-27 23');
      expect(render("{{date record.ts 'yyyy-MM-dd HH'}}", aContext({ record: { ts: '2026-11-27T23:30:05' } }))).toBe(
        '2026-11-27 23',
      );
    });
  });

  it('gives each record its own date even when records share a template', () => {
    const template = compileTemplate("{{date record.ts 'yyyy-MM-dd'}}");
    const days = ['2026-11-27T23:59:59Z', '2026-11-28T00:00:00Z', '2026-11-27T12:00:00Z'];

    expect(days.map((ts) => template(aContext({ record: { ts } })))).toEqual(['2026-11-27', '2026-11-28', '2026-11-27']);
  });

  it('fails the record when the date is missing', () => {
    const error = renderError("clicks-{{date record.when 'yyyy'}}");

    expect(error.code).toBe('missing-value');
    expect(error.line).toBe(1);
  });

  it('fails the record when the date does not parse', () => {
    expect(renderError("{{date record.event_type 'yyyy'}}").code).toBe('invalid-value');
  });

  it('fails when now is not in the context', () => {
    expect(renderError("{{date now 'yyyy'}}", aContext({ now: undefined })).code).toBe('missing-value');
  });
});

describe('lower, upper, slug and hash helpers', () => {
  it('lowercases and uppercases', () => {
    expect(render('{{lower record.event_type}}|{{upper record.event_type}}')).toBe('page view|PAGE VIEW');
  });

  it('slugs to lowercase letters and digits separated by single dashes', () => {
    const record = { title: '  Crème Brûlée: 2 × Déjà-Vu!  ' };

    expect(render('{{slug record.title}}', aContext({ record }))).toBe('creme-brulee-2-deja-vu');
  });

  it('fails a slug with no letter or digit rather than printing an empty segment', () => {
    expect(renderError('{{slug record.title}}', aContext({ record: { title: '!!!' } })).code).toBe('invalid-value');
  });

  it('hashes the string form with SHA-256 in hex', () => {
    const record = { email: 'abc', n: 42 };

    expect(render('{{hash record.email}}', aContext({ record }))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(render('{{hash record.n}}', aContext({ record }))).toBe(render('{{hash "42"}}'));
  });

  it('shortens a hash to the requested length', () => {
    expect(render('{{hash record.email 12}}', aContext({ record: { email: 'abc' } }))).toBe('ba7816bf8f01');
  });

  it('hashes an object as its JSON', () => {
    const record = { key: { a: 1, b: 'x' } };

    expect(render('{{hash record.key}}', aContext({ record }))).toBe(render(`{{hash '{"a":1,"b":"x"}'}}`));
  });

  it('composes helpers through sub-expressions', () => {
    expect(render('{{upper (slug record.event_type)}}')).toBe('PAGE-VIEW');
  });

  it.each(['lower', 'upper', 'slug', 'hash'])('%s fails on a missing value', (helper) => {
    expect(renderError(`{{${helper} record.missing}}`).code).toBe('missing-value');
  });
});

describe('prototype safety', () => {
  it.each([
    '{{record.constructor}}',
    '{{record.__proto__}}',
    '{{lookup record "constructor"}}',
    '{{record.constructor.name}}',
    '{{#with record}}{{constructor}}{{/with}}',
    '{{lookup (lookup record "constructor") "constructor"}}',
  ])('%s renders nothing from the prototype', (source) => {
    const lenient = compileTemplate(source, { missing: 'empty' });

    expect(lenient(aContext())).toBe('');
    expect(renderError(source).code).toBe('missing-value');
  });

  it('still reads a record field that happens to be named constructor', () => {
    const record = JSON.parse('{"constructor": "acme"}') as Record<string, unknown>;

    expect(render('{{record.constructor}}', aContext({ record }))).toBe('acme');
  });

  it('registers its helpers in its own environment, not in the global Handlebars', () => {
    compileTemplate('{{slug record.a}}');

    expect(Handlebars.helpers.slug).toBeUndefined();
  });
});

describe('compiled templates are reused', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('renders many contexts with one compiled template', () => {
    const template = compileTemplate('{{record.event_id}}-{{lower record.event_type}}');
    const ids = ['a', 'b', 'c'];

    expect(ids.map((event_id) => template(aContext({ record: { event_id, event_type: 'X' } })))).toEqual([
      'a-x',
      'b-x',
      'c-x',
    ]);
  });

  it('never compiles again while rendering', () => {
    // `JavaScriptCompiler` is public at run time but missing from Handlebars' type declarations.
    const { JavaScriptCompiler } = Handlebars as unknown as { JavaScriptCompiler: { prototype: { compile: () => unknown } } };
    const compiles = vi.spyOn(JavaScriptCompiler.prototype, 'compile');
    // `{{#each}}` has no render plan: this template runs in Handlebars.
    const template = compileTemplate("{{date record.ts 'yyyy'}}/{{#each record.tags}}{{this}}{{/each}}/{{record.event_id}}");
    template(aContext());
    const compilesBeforeRendering = compiles.mock.calls.length;

    for (let index = 0; index < 100; index++) template(aContext({ record: { ts: index * 1e10, event_id: `e${index}` } }));

    expect(compilesBeforeRendering).toBeGreaterThan(0);
    expect(compiles.mock.calls.length).toBe(compilesBeforeRendering);
  });

  it('renders templates of the common forms without compiling them with Handlebars', () => {
    const { JavaScriptCompiler } = Handlebars as unknown as { JavaScriptCompiler: { prototype: { compile: () => unknown } } };
    const compiles = vi.spyOn(JavaScriptCompiler.prototype, 'compile');
    const template = compileTemplate("{{date record.ts 'yyyy'}}/{{#if record.event_id}}{{upper record.event_id}}{{/if}}/{{stage}}");

    expect(template(aContext())).toBe('2026/E1/prod');
    expect(compiles).not.toHaveBeenCalled();
  });

  it('renders correctly after a failed render', () => {
    const template = compileTemplate('{{record.id}}');

    expect(() => template(aContext({ record: {} }))).toThrow(TemplateRenderError);
    expect(template(aContext({ record: { id: 'x' } }))).toBe('x');
  });
});
