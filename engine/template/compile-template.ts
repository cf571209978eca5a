/**
 * Handlebars templates of a spec (object keys, index names, ids, dead-letter prefixes, SQL
 * snippets): compiled once when the handler starts, rendered for every record. Templates of the
 * common forms (text, `{{path}}`, Ingest's helpers over paths and literals, `{{#if}}`) render
 * from a plan, without Handlebars; the others run in an isolated Handlebars environment with
 * Ingest's helpers only. Either way: no HTML escaping (nothing here is HTML) and Handlebars'
 * default prototype-access protection.
 */
import type { RecordMeta, RecordValue } from '../pipeline/record.ts';
import { analyzeTemplate, routeOutputThroughPrintHelper, SourcePositions } from './analyze-template.ts';
import { TemplateError, type TemplateProblem, TemplateRenderError } from './errors.ts';
import { compileWithHandlebars, controlWhitespace, parserStop, parseTemplate, precompileTemplate } from './handlebars-engine.ts';
import { isPlannable, planTemplate, type TemplatePlan } from './plan-template.ts';
import { preparedPlan } from './prepared-templates.ts';
import { renderPlan } from './render-plan.ts';

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

/**
 * Compiles a template for rendering in many contexts. A template prepared at package time
 * (`usePreparedTemplates`) is neither parsed nor checked again.
 *
 * @throws TemplateError with the first problem `checkTemplate` would report.
 */
export function compileTemplate(source: string, options?: TemplateOptions): CompiledTemplate {
  const missingAsEmpty = options?.missing === 'empty';
  const prepared = typeof source === 'string' ? preparedPlan(source) : undefined;
  const render = prepared ? renderPlan(prepared, missingAsEmpty) : compile(source, missingAsEmpty);
  return (context) => {
    try {
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
  const { problems, template } = analyze(source, false, roots);
  if (!template || template.plannable) return problems;
  // Only Handlebars' code generation finds the rest of what it rejects; a plan's forms always compile.
  try {
    precompileTemplate(template.program);
    return [];
  } catch (error) {
    return [syntaxProblem(error, template.positions)];
  }
}

/**
 * The plan of a template of the common forms, for `prepareTemplates`; undefined when the
 * template needs Handlebars or does not compile.
 */
export function templatePlan(source: string): TemplatePlan | undefined {
  const { template } = analyze(source, false);
  return template?.plannable ? planTemplate(controlWhitespace(template.program)) : undefined;
}

function compile(source: string, missingAsEmpty: boolean): (context: TemplateContext) => string {
  const { problems, template } = analyze(source, missingAsEmpty);
  if (!template) throw new TemplateError(problems[0] ?? { code: 'invalid-template', message: 'the template does not compile' }, source);
  if (template.plannable) return renderPlan(planTemplate(controlWhitespace(template.program)), missingAsEmpty);
  try {
    // Handlebars compiles lazily, on the first render; precompiling surfaces its errors now.
    precompileTemplate(template.program);
  } catch (error) {
    throw new TemplateError(syntaxProblem(error, template.positions), source);
  }
  // No runtime options when rendering: prototype access stays at Handlebars' safe defaults.
  return compileWithHandlebars(template.program, template.helpers);
}

interface Analysis {
  problems: TemplateProblem[];
  /** Present when there is no problem. */
  template?: AnalyzedTemplate;
}

interface AnalyzedTemplate {
  /** The tree, rewritten for printing. */
  program: hbs.AST.Program;
  positions: SourcePositions;
  /** The helpers it calls. */
  helpers: Set<string>;
  /** Whether it renders from a plan, without Handlebars. */
  plannable: boolean;
}

/** Parses and checks a template; a template without problems comes back rewritten for printing. */
function analyze(source: string, missingAsEmpty: boolean, roots?: readonly string[]): Analysis {
  if (typeof source !== 'string') {
    return { problems: [{ code: 'invalid-template', message: 'a template must be a string' }] };
  }
  const positions = new SourcePositions(source);
  let program: hbs.AST.Program;
  try {
    program = parseTemplate(source);
  } catch (error) {
    return { problems: [syntaxProblem(error, positions)] };
  }
  const { problems, helpers } = analyzeTemplate(program, positions, roots === undefined ? {} : { roots });
  if (problems.length > 0) return { problems };
  const routed = routeOutputThroughPrintHelper(program, positions, missingAsEmpty);
  return { problems, template: { program: routed, positions, helpers, plannable: isPlannable(routed) } };
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
  const stop = parserStop();
  const location = stop ? positions.at(stop.line, stop.column) : {};
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
