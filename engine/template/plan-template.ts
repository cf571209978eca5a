/**
 * Render plans: the common forms of templates (text, `{{path}}`, Ingest's helpers over paths and
 * literals, `{{#if}}` and `{{#unless}}`) as data that renders without Handlebars. A plan is made
 * from Handlebars' own parse tree, after analysis, the print rewrite and whitespace control, so
 * it holds exactly what Handlebars would run; rendering it (render-plan.ts) does what the code
 * Handlebars generates does. Plans are JSON, so `ingest package` can prepare them and a Lambda
 * bundle needs no parser (docs/decisions/0050-specialized-templates.md).
 */
import { HELPER_IMPLEMENTATIONS, PRINT_HELPER } from './helpers.ts';

/** A helper's place in the template, as Handlebars gives it to helpers (1-based line, 0-based column). */
export interface PlanLocation {
  line: number;
  column: number;
}

/** A value: a context path (`record.ts` is `["record", "ts"]`), a literal, or a helper call. */
export type PlanValue =
  | { path: string[] }
  | { literal: string | number | boolean | null }
  | { call: PlanHelper; arguments: PlanValue[]; at: PlanLocation };

/** The helpers a plan may call: Ingest's and Handlebars' `lookup`. */
export type PlanHelper = keyof typeof HELPER_IMPLEMENTATIONS | 'lookup';

/**
 * A piece of output: text; a printed value (`text` is the template text of the `{{...}}`, for
 * messages); or `{{#if}}` (`{{#unless}}` swaps the branches).
 */
export type PlanPart =
  | string
  | { print: PlanValue; text: string; at: PlanLocation }
  | { if: PlanValue; includeZero: boolean; then: PlanPart[]; else: PlanPart[] };

/** A template as a plan: its parts, rendered in order and joined. */
export interface TemplatePlan {
  parts: PlanPart[];
}

type Statement = hbs.AST.Statement;
type Expression = hbs.AST.Expression;

const PLAN_HELPERS: ReadonlySet<string> = new Set([...Object.keys(HELPER_IMPLEMENTATIONS), 'lookup']);

/**
 * Whether a tree that `routeOutputThroughPrintHelper` rewrote can be rendered from a plan. Its
 * structure only: whitespace control, which changes text but not structure, may run after.
 */
export function isPlannable(program: hbs.AST.Program): boolean {
  return program.body.every(plannableStatement) && (program.blockParams?.length ?? 0) === 0;
}

function plannableStatement(node: Statement): boolean {
  switch (node.type) {
    case 'ContentStatement':
    case 'CommentStatement':
      return true;
    case 'MustacheStatement': {
      const print = node as hbs.AST.MustacheStatement;
      const [value, text, missingAsEmpty] = print.params;
      return (
        isHelper(print.path, PRINT_HELPER) &&
        print.params.length === 3 &&
        value !== undefined &&
        plannableValue(value) &&
        text?.type === 'StringLiteral' &&
        missingAsEmpty?.type === 'BooleanLiteral'
      );
    }
    case 'BlockStatement': {
      const block = node as hbs.AST.BlockStatement;
      const [condition] = block.params;
      const pairs = block.hash?.pairs ?? [];
      return (
        (isHelper(block.path, 'if') || isHelper(block.path, 'unless')) &&
        block.params.length === 1 &&
        condition !== undefined &&
        plannableValue(condition) &&
        pairs.every((pair) => pair.key === 'includeZero' && isPlainLiteral(pair.value)) &&
        [block.program, block.inverse].every((branch) => branch === undefined || isPlannable(branch))
      );
    }
    default:
      return false;
  }
}

function plannableValue(node: Expression): boolean {
  if (node.type === 'PathExpression') return isContextPath(node as hbs.AST.PathExpression);
  if (node.type === 'SubExpression') {
    const call = node as hbs.AST.SubExpression;
    const path = call.path as hbs.AST.PathExpression;
    return (
      path.type === 'PathExpression' &&
      isContextPath(path) &&
      path.parts.length === 1 &&
      PLAN_HELPERS.has(path.original) &&
      (call.hash?.pairs?.length ?? 0) === 0 &&
      call.params.every(plannableValue)
    );
  }
  return isPlainLiteral(node);
}

/** `record.a.b`, `stage`: looked up from the template's context, without `this`, `../` or `@`. */
function isContextPath(path: hbs.AST.PathExpression): boolean {
  return !path.data && path.depth === 0 && path.parts.length > 0 && !/^(\.|this\b)/.test(path.original);
}

function isHelper(path: hbs.AST.PathExpression | hbs.AST.Literal, name: string): boolean {
  return path.type === 'PathExpression' && isContextPath(path as hbs.AST.PathExpression) && (path as hbs.AST.PathExpression).original === name;
}

/** A literal JSON can hold: `undefined` cannot. */
function isPlainLiteral(node: Expression): boolean {
  return ['StringLiteral', 'NumberLiteral', 'BooleanLiteral', 'NullLiteral'].includes(node.type);
}

/**
 * The plan of a tree that `isPlannable` accepted, after whitespace control: content nodes then
 * hold the text Handlebars prints.
 */
export function planTemplate(program: hbs.AST.Program): TemplatePlan {
  return { parts: planParts(program) };
}

function planParts(program: hbs.AST.Program | undefined): PlanPart[] {
  const parts: PlanPart[] = [];
  for (const node of program?.body ?? []) {
    if (node.type === 'ContentStatement') {
      const text = (node as hbs.AST.ContentStatement).value;
      if (text === '') continue;
      // Adjacent text (left by a comment between two pieces) is one part.
      const last = parts[parts.length - 1];
      if (typeof last === 'string') parts[parts.length - 1] = last + text;
      else parts.push(text);
    } else if (node.type === 'MustacheStatement') {
      const [value, text] = (node as hbs.AST.MustacheStatement).params as [Expression, hbs.AST.StringLiteral];
      parts.push({ print: planValue(value), text: text.value, at: locationOf(node.loc) });
    } else if (node.type === 'BlockStatement') {
      const block = node as hbs.AST.BlockStatement;
      // Of repeated names, the last wins, as in the options Handlebars builds.
      const includeZero = Boolean((block.hash?.pairs ?? []).map((pair) => (pair.value as hbs.AST.StringLiteral).value).pop());
      const [whenTrue, whenFalse] = isHelper(block.path, 'if') ? [block.program, block.inverse] : [block.inverse, block.program];
      parts.push({ if: planValue(block.params[0]!), includeZero, then: planParts(whenTrue), else: planParts(whenFalse) });
    }
  }
  return parts;
}

function planValue(node: Expression): PlanValue {
  if (node.type === 'PathExpression') return { path: [...(node as hbs.AST.PathExpression).parts] };
  if (node.type === 'SubExpression') {
    const call = node as hbs.AST.SubExpression;
    return {
      call: (call.path as hbs.AST.PathExpression).original as PlanHelper,
      arguments: call.params.map(planValue),
      at: locationOf(call.loc),
    };
  }
  if (node.type === 'NullLiteral') return { literal: null };
  return { literal: (node as hbs.AST.StringLiteral | hbs.AST.NumberLiteral | hbs.AST.BooleanLiteral).value };
}

function locationOf(loc: hbs.AST.SourceLocation): PlanLocation {
  return { line: loc.start.line, column: loc.start.column };
}
