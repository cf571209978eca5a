/**
 * Handlebars templates of a spec (object keys, index names, ids, dead-letter prefixes, SQL
 * snippets): compiled once when the handler starts, rendered for every record. Templates run in
 * an isolated Handlebars environment with Ingest's helpers only, without HTML escaping (nothing
 * here is HTML) and with Handlebars' default prototype-access protection.
 */
import Handlebars from 'handlebars';
import type { RecordMeta, RecordValue } from '../pipeline/record.ts';
import { analyzeTemplate, routeOutputThroughPrintHelper, SourcePositions } from './analyze-template.ts';
import { TemplateError, type TemplateProblem, TemplateRenderError } from './errors.ts';
import { BUILT_IN_HELPERS, HELPER_IMPLEMENTATIONS, INGEST_HELPERS, PRINT_HELPER, printValue } from './helpers.ts';

/** What a template can read. */
export interface TemplateContext {
  record?: RecordValue;
  meta?: RecordMeta | Record<string, unknown>;
  /** The deployment stage, as in `{{stage}}`. */
  stage?: string;
  /** The time `{{date now '...'}}` formats: the invocation's time, fixed by the caller for tests. */
  now?: Date;
  [key: string]: unknown;
}

/**
 * A compiled template. Pure and synchronous; safe to call for any number of contexts.
 *
 * @returns the rendered text.
 * @throws TemplateRenderError when this context cannot be rendered: a printed value or a helper
 *   argument is missing (see `TemplateOptions.missing`), a value is an object or a list, a date
 *   does not parse.
 */
export type CompiledTemplate = (context: TemplateContext) => string;

export interface TemplateOptions {
  /**
   * What a printed `{{path}}` does when the value is absent or null. `error` (the default)
   * throws `TemplateRenderError`, so a record never lands under a key with an empty segment;
   * guard optional values with `{{#if record.x}}...{{/if}}`. `empty` prints '' as Handlebars
   * does. Helpers given a missing argument always throw.
   */
  missing?: 'error' | 'empty';
}

const COMPILE_OPTIONS = {
  noEscape: true,
  strict: false,
  data: true,
  preventIndent: true,
  knownHelpersOnly: false,
  knownHelpers: Object.fromEntries(
    [...Object.keys(INGEST_HELPERS), ...Object.keys(BUILT_IN_HELPERS), PRINT_HELPER].map((name) => [name, true]),
  ),
} satisfies CompileOptions;

type HandlebarsEnvironment = typeof Handlebars;

/**
 * An environment of the template's own, with only the helpers it calls: helpers registered
 * here cannot leak into or from anyone else, and Handlebars re-wraps every registered helper on
 * every render, so fewer helpers render measurably faster.
 */
function templateEnvironment(helpers: ReadonlySet<string>): HandlebarsEnvironment {
  const created = Handlebars.create();
  // Handlebars' `unless` calls its `if` helper.
  const kept = helpers.has('unless') ? new Set([...helpers, 'if']) : helpers;
  // `log` is never kept: plugins do not log, and `{{log}}` would write once per record.
  for (const name of [...Object.keys(BUILT_IN_HELPERS), 'log']) {
    if (!kept.has(name)) created.unregisterHelper(name);
  }
  for (const [name, helper] of Object.entries(HELPER_IMPLEMENTATIONS)) {
    if (helpers.has(name)) created.registerHelper(name, helper);
  }
  created.registerHelper(PRINT_HELPER, printValue);
  return created;
}

/**
 * Compiles a template for rendering in many contexts.
 *
 * @throws TemplateError with the first problem `checkTemplate` would report.
 */
export function compileTemplate(source: string, options?: TemplateOptions): CompiledTemplate {
  const compiled = compile(source, options);
  const first = compiled.problems[0];
  if (first || !compiled.render) {
    throw new TemplateError(first ?? { code: 'invalid-template', message: 'the template does not compile' }, source);
  }
  const render = compiled.render;
  return (context) => {
    try {
      // No runtime options: prototype access stays at Handlebars' safe defaults.
      return render(context);
    } catch (error) {
      if (error instanceof TemplateRenderError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new TemplateRenderError('render-failed', `template ${JSON.stringify(excerpt(source))}: ${message}`, undefined, {
        cause: error,
      });
    }
  };
}

/**
 * Checks a template without rendering it, for `ingest validate`: syntax, unknown helpers,
 * helpers called with the wrong number of arguments, literal date formats and hash lengths,
 * reserved path segments, and, when `roots` is given, paths whose first name the context the
 * template is rendered with does not hold. An empty list means `compileTemplate` will succeed.
 */
export function checkTemplate(source: string, roots?: readonly string[]): TemplateProblem[] {
  return compile(source, undefined, roots).problems;
}

interface Compilation {
  problems: TemplateProblem[];
  render?: HandlebarsTemplateDelegate;
}

function compile(source: string, options: TemplateOptions | undefined, roots?: readonly string[]): Compilation {
  if (typeof source !== 'string') {
    return { problems: [{ code: 'invalid-template', message: 'a template must be a string' }] };
  }
  const positions = new SourcePositions(source);
  let program: hbs.AST.Program;
  try {
    // Without processing: whitespace control runs once, when the rewritten tree compiles.
    program = Handlebars.parseWithoutProcessing(source);
  } catch (error) {
    return { problems: [syntaxProblem(error, positions)] };
  }
  const { problems, helpers } = analyzeTemplate(program, positions, roots === undefined ? {} : { roots });
  if (problems.length > 0) return { problems };

  const handlebars = templateEnvironment(helpers);
  const routed = routeOutputThroughPrintHelper(program, positions, options?.missing === 'empty');
  try {
    // Handlebars compiles lazily, on the first render; precompiling surfaces its errors now.
    handlebars.precompile(routed, COMPILE_OPTIONS);
    return { problems: [], render: handlebars.compile(routed, COMPILE_OPTIONS) };
  } catch (error) {
    return { problems: [syntaxProblem(error, positions)] };
  }
}

/**
 * Turns a Handlebars parse error into a located problem. Its own exceptions carry
 * `lineNumber` and `column`; the generated parser's errors carry only a message, so the
 * location comes from the lexer, which stops at the offending token.
 */
function syntaxProblem(error: unknown, positions: SourcePositions): TemplateProblem {
  const message = error instanceof Error ? error.message : String(error);
  const located = error as { lineNumber?: unknown; column?: unknown };
  if (typeof located.lineNumber === 'number' && typeof located.column === 'number') {
    return { code: 'invalid-template', message: message.replace(/ - \d+:\d+$/, ''), ...positions.at(located.lineNumber, located.column) };
  }
  // `Parser` exists at run time but is missing from Handlebars' type declarations.
  const parser = (Handlebars as unknown as { Parser?: { lexer?: { yylloc?: { first_line?: number; first_column?: number } } } })
    .Parser;
  const token = parser?.lexer?.yylloc;
  const location =
    typeof token?.first_line === 'number' && typeof token.first_column === 'number'
      ? positions.at(token.first_line, token.first_column)
      : {};
  return { code: 'invalid-template', message: describeParseError(message), ...location };
}

const TOKEN_NAMES: Record<string, string> = Object.assign(Object.create(null), {
  EOF: 'end of template (a {{...}} or a block is not closed)',
  INVALID: 'character',
  CLOSE: "'}}'",
  CLOSE_UNESCAPED: "'}}}'",
  OPEN: "'{{'",
  OPEN_BLOCK: "'{{#'",
  OPEN_ENDBLOCK: "'{{/'",
  OPEN_SEXPR: "'('",
  CLOSE_SEXPR: "')'",
  INVERSE: "'{{else}}'",
  EQUALS: "'='",
  ID: 'name',
  STRING: 'string',
  NUMBER: 'number',
  SEP: "'.' or '/'",
});

/** "Parse error on line 1: ... Expecting 'CLOSE', ..., got 'INVALID'" → "unexpected character". */
function describeParseError(message: string): string {
  const got = /got '([A-Z_]+)'\s*$/.exec(message)?.[1];
  if (got) return `syntax error: unexpected ${TOKEN_NAMES[got] ?? got.toLowerCase().replaceAll('_', ' ')}`;
  if (message.startsWith('Lexical error')) return 'syntax error: unrecognized text';
  return message.split('\n')[0] ?? message;
}

function excerpt(source: string): string {
  return source.length > 80 ? `${source.slice(0, 77)}...` : source;
}
