/**
 * The one module that imports Handlebars: parsing, whitespace control and code generation for
 * the templates that need it. Templates of the common forms render from a plan instead (see
 * plan-template.ts), so a per-spec Lambda bundle whose templates are all prepared at package
 * time replaces this module with a stub and carries no Handlebars at all
 * (docs/decisions/0050-specialized-templates.md).
 */
import Handlebars from 'handlebars';
import { BUILT_IN_HELPERS, HELPER_IMPLEMENTATIONS, INGEST_HELPERS, PRINT_HELPER, printValue } from './helpers.ts';

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
 * Parses a template without whitespace control, so that the tree can be analyzed and rewritten
 * first; whitespace control runs once, on the rewritten tree.
 *
 * @throws Handlebars' parse error.
 */
export function parseTemplate(source: string): hbs.AST.Program {
  return Handlebars.parseWithoutProcessing(source);
}

/** Where the parser stopped, for parse errors that carry no location (1-based line, 0-based column). */
export function parserStop(): { line: number; column: number } | undefined {
  // `Parser` exists at run time but is missing from Handlebars' type declarations.
  const parser = (Handlebars as unknown as { Parser?: { lexer?: { yylloc?: { first_line?: number; first_column?: number } } } })
    .Parser;
  const token = parser?.lexer?.yylloc;
  return typeof token?.first_line === 'number' && typeof token.first_column === 'number'
    ? { line: token.first_line, column: token.first_column }
    : undefined;
}

/**
 * Applies Handlebars' whitespace control (`~`, standalone blocks and comments) to a parsed tree,
 * in place, as compiling it would. Only for trees rendered without Handlebars: compiling a tree
 * applies it again.
 */
export function controlWhitespace(program: hbs.AST.Program): hbs.AST.Program {
  // `parse` of a tree (rather than text) only runs the whitespace pass.
  return Handlebars.parse(program as unknown as string);
}

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
 * Generates the code of a rewritten tree, which surfaces the errors Handlebars would otherwise
 * raise on the first render.
 *
 * @throws Handlebars' compile error.
 */
export function precompileTemplate(program: hbs.AST.Program): void {
  Handlebars.precompile(program, COMPILE_OPTIONS);
}

/**
 * Compiles a rewritten tree that `precompileTemplate` accepted, in an environment with only
 * the helpers it calls.
 */
export function compileWithHandlebars(program: hbs.AST.Program, helpers: ReadonlySet<string>): HandlebarsTemplateDelegate {
  return templateEnvironment(helpers).compile(program, COMPILE_OPTIONS);
}
