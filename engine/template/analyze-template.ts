/**
 * What Ingest checks on a template's syntax tree before Handlebars compiles it, and the one
 * rewrite it applies. Handlebars itself finds an unknown helper only when a record reaches it;
 * walking the tree finds it in `ingest validate`.
 */
import {
  BUILT_IN_HELPERS,
  dateFormatProblem,
  HASH_HEX_LENGTH,
  type HelperSignature,
  INGEST_HELPERS,
  isHashLength,
  PRINT_HELPER,
  toInstant,
} from './helpers.ts';
import type { TemplateProblem } from './errors.ts';

type Program = hbs.AST.Program;
type Statement = hbs.AST.Statement;
type Expression = hbs.AST.Expression;
type MustacheStatement = hbs.AST.MustacheStatement;
type BlockStatement = hbs.AST.BlockStatement;
type SubExpression = hbs.AST.SubExpression;
type PathExpression = hbs.AST.PathExpression;
type SourceLocation = hbs.AST.SourceLocation;
type Call = MustacheStatement | BlockStatement | SubExpression;
type CallKind = 'inline' | 'block' | 'subexpression';

/** Every helper name a template may call, for messages. */
export const HELPER_NAMES: readonly string[] = [...Object.keys(INGEST_HELPERS), ...Object.keys(BUILT_IN_HELPERS)];

function signatureOf(name: string): HelperSignature | undefined {
  if (Object.hasOwn(INGEST_HELPERS, name)) return INGEST_HELPERS[name];
  if (Object.hasOwn(BUILT_IN_HELPERS, name)) return BUILT_IN_HELPERS[name];
  return undefined;
}

/** Maps Handlebars locations (1-based lines, 0-based columns) to our 1-based columns and offsets. */
export class SourcePositions {
  readonly #lineStarts: number[] = [0];

  constructor(readonly source: string) {
    for (let index = 0; index < source.length; index++) {
      if (source[index] === '\n') this.#lineStarts.push(index + 1);
    }
  }

  /** Line, 1-based column and 0-based offset of a 1-based line and 0-based column. */
  at(line: number, column: number): { line: number; column: number; offset: number } {
    const lineStart = this.#lineStarts[Math.min(Math.max(line, 1), this.#lineStarts.length) - 1] ?? 0;
    return { line, column: column + 1, offset: Math.min(lineStart + column, this.source.length) };
  }

  of(loc: SourceLocation | undefined): { line?: number; column?: number; offset?: number } {
    return loc ? this.at(loc.start.line, loc.start.column) : {};
  }

  /** The template text a node was parsed from. */
  text(loc: SourceLocation | undefined): string {
    if (!loc) return '';
    const start = this.at(loc.start.line, loc.start.column).offset;
    const end = this.at(loc.end.line, loc.end.column).offset;
    return this.source.slice(start, end);
  }
}

interface Callee {
  /** The helper name, when the callee is a plain identifier (`date`, not `record.date`). */
  name: string | undefined;
  /** Whether Handlebars will call a helper here rather than print or iterate a value. */
  isCall: boolean;
  original: string;
}

/**
 * Decides how Handlebars reads a statement: `{{record.id}}` prints a value and
 * `{{#record.items}}` iterates one, while anything with arguments, any sub-expression and any
 * plain identifier that names a helper is a helper call.
 */
function callee(node: Call, kind: CallKind): Callee {
  const path = node.path as PathExpression | hbs.AST.Literal;
  const hasArguments = (node.params?.length ?? 0) > 0 || (node.hash?.pairs?.length ?? 0) > 0;
  if (path.type !== 'PathExpression') {
    const literal = String((path as hbs.AST.StringLiteral).value);
    return { name: literal, isCall: hasArguments || kind === 'subexpression', original: literal };
  }
  const pathExpression = path as PathExpression;
  const simple =
    pathExpression.parts.length === 1 &&
    pathExpression.depth === 0 &&
    !pathExpression.data &&
    !/^(\.|this\b)/.test(pathExpression.original);
  const name = simple ? pathExpression.original : undefined;
  const namesHelper = name !== undefined && signatureOf(name) !== undefined;
  return { name, isCall: hasArguments || kind === 'subexpression' || namesHelper, original: pathExpression.original };
}

/** Field names no template path may use: through them a path could reach an object's prototype. */
export const RESERVED_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Data variables Handlebars defines inside `{{#each}}`; `@root` is the template's context. */
const DATA_VARIABLES: ReadonlySet<string> = new Set(['index', 'key', 'first', 'last']);

/** Blocks that render their body in the same context; every other block (`each`, `with`, a path) changes it. */
const SAME_CONTEXT_BLOCKS: ReadonlySet<string> = new Set(['if', 'unless']);

/**
 * What a path can be resolved against, innermost last: the template's own context (`root`,
 * whose top-level names are the roots the caller declared) or a value only known when rendering
 * (the element of `{{#each}}`, the object of `{{#with}}`), with the block parameters it names.
 */
interface Scope {
  readonly known: boolean;
  readonly blockParams: readonly string[];
}

export interface AnalyzeOptions {
  /**
   * The names the template's context holds (`record`, `meta`, `now`...), for `ingest validate`.
   * When given, a path whose first name is not one of them is an `unknown-variable` problem, and
   * a path with a reserved segment (`__proto__`, `constructor`, `prototype`), or a `lookup` of
   * one, is a `reserved-field-name` problem. When omitted (compiling at cold start), paths are
   * not checked: Handlebars' own protection makes prototype members render as missing.
   */
  roots?: readonly string[];
}

export interface TemplateAnalysis {
  problems: TemplateProblem[];
  /** The helpers the template calls, so that its environment registers those only. */
  helpers: Set<string>;
}

/**
 * Finds what would make the template fail for every record or not compile: unknown helpers,
 * helpers called the wrong way, literal arguments a helper would reject, partials and
 * decorators (Ingest registers none).
 */
export function analyzeTemplate(program: Program, positions: SourcePositions, options: AnalyzeOptions = {}): TemplateAnalysis {
  const problems: TemplateProblem[] = [];
  const helpers = new Set<string>();
  const report = (code: TemplateProblem['code'], message: string, loc: SourceLocation | undefined): void => {
    problems.push({ code, message, ...positions.of(loc) });
  };
  const roots = options.roots;
  const scopes: Scope[] = [{ known: true, blockParams: [] }];

  const visitProgram = (node: Program | undefined, scope?: Scope): void => {
    if (scope) scopes.push(scope);
    for (const statement of node?.body ?? []) visitStatement(statement);
    if (scope) scopes.pop();
  };
  const visitCallee = (node: Call, kind: CallKind): void => {
    if (!callee(node, kind).isCall && node.path.type === 'PathExpression') checkPath(node.path as PathExpression);
  };
  const visitArguments = (node: Call): void => {
    for (const param of node.params ?? []) visitExpression(param);
    for (const pair of node.hash?.pairs ?? []) visitExpression(pair.value);
  };
  const visitExpression = (node: Expression): void => {
    if (node.type === 'SubExpression') {
      checkCall(node as SubExpression, 'subexpression');
      visitCallee(node as SubExpression, 'subexpression');
      visitArguments(node as SubExpression);
    } else if (node.type === 'PathExpression') {
      checkPath(node as PathExpression);
    }
  };
  const visitStatement = (node: Statement): void => {
    switch (node.type) {
      case 'MustacheStatement':
        checkCall(node as MustacheStatement, 'inline');
        visitCallee(node as MustacheStatement, 'inline');
        visitArguments(node as MustacheStatement);
        return;
      case 'BlockStatement': {
        const block = node as BlockStatement;
        checkCall(block, 'block');
        visitCallee(block, 'block');
        visitArguments(block);
        const target = callee(block, 'block');
        const name = target.name;
        // A section (`{{#record.tags}}`) is no helper call: Handlebars renders it with its
        // `blockHelperMissing`, which hands a list to `each`.
        if (!target.isCall) helpers.add('each');
        // Handlebars adds a level for `../` only where the context changes: not for `if`.
        // `{{else}}` of `each` and `with` renders in the outer context; only the body moves.
        const sameContext = name !== undefined && SAME_CONTEXT_BLOCKS.has(name);
        visitProgram(block.program, sameContext ? undefined : { known: false, blockParams: block.program?.blockParams ?? [] });
        visitProgram(block.inverse);
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        report('invalid-template', 'partials ({{> name}}) are not supported: a template is self-contained', node.loc);
        return;
      case 'Decorator':
      case 'DecoratorBlock':
        report('invalid-template', 'decorators ({{* name}}) are not supported', node.loc);
        return;
      default:
        return;
    }
  };

  /**
   * A value path: `record.ts`, `../meta.source`, `@root.now`, `item.id` (a block parameter).
   * Its segments must not be reserved; its first name must be a root, when the path is
   * resolved against the template's own context and the caller declared the roots.
   */
  const checkPath = (node: PathExpression): void => {
    if (roots === undefined) return;
    const reserved = node.parts.find((part) => RESERVED_SEGMENTS.has(part));
    if (reserved !== undefined) {
      report('reserved-field-name', `\`${node.original}\` uses the reserved name \`${reserved}\`; \`__proto__\`, \`constructor\` and \`prototype\` could reach an object's prototype and are refused in every path`, node.loc);
      return;
    }
    let parts = node.parts;
    let scope: Scope | undefined = scopes[scopes.length - 1 - node.depth];
    if (node.data) {
      const [head, ...rest] = parts;
      if (head !== 'root') {
        if (!DATA_VARIABLES.has(head ?? '')) report('unknown-variable', `unknown data variable \`@${head ?? ''}\`; templates know @index, @key, @first, @last and @root`, node.loc);
        return;
      }
      parts = rest;
      scope = scopes[0];
    }
    if (scope === undefined) {
      report('unknown-variable', `\`${node.original}\` climbs above the template's context with \`../\``, node.loc);
      return;
    }
    const [head] = parts;
    const explicitThis = /^(\.|this\b)/.test(node.original.replace(/^(\.\.\/)+/, ''));
    if (head !== undefined && !explicitThis && node.depth === 0 && !node.data && scopes.some((open) => open.blockParams.includes(head))) return;
    if (!scope.known) return;
    if (head === undefined) {
      report('unknown-variable', `\`${node.original}\` is the whole template context, not a value; the template can use ${roots.join(', ')}`, node.loc);
    } else if (!roots.includes(head)) {
      report('unknown-variable', `unknown variable \`${head}\` in \`${node.original}\`${suggestName(head, roots)}; this template can use ${roots.join(', ')}`, node.loc);
    }
  };

  const checkCall = (node: Call, kind: CallKind): void => {
    const target = callee(node, kind);
    if (!target.isCall) return;
    const signature = target.name === undefined ? undefined : signatureOf(target.name);
    if (!signature || target.name === undefined) {
      report(
        'unknown-helper',
        `unknown helper '${target.original}'; the helpers are ${HELPER_NAMES.join(', ')}`,
        node.path.loc ?? node.loc,
      );
      return;
    }
    const name = target.name;
    helpers.add(name);
    if (signature.block && kind !== 'block') {
      report('invalid-template', `${name} is a block helper: ${signature.usage}`, node.loc);
      return;
    }
    if (!signature.block && kind === 'block') {
      report('invalid-template', `${name} is not a block helper: ${signature.usage}`, node.loc);
      return;
    }
    const params = node.params ?? [];
    if (params.length < signature.minArguments || params.length > signature.maxArguments) {
      const expected =
        signature.minArguments === signature.maxArguments
          ? `${signature.minArguments}`
          : `${signature.minArguments} to ${signature.maxArguments}`;
      report('invalid-template', `${name} takes ${expected} argument(s), not ${params.length}: ${signature.usage}`, node.loc);
      return;
    }
    if ((node.hash?.pairs?.length ?? 0) > 0 && !signature.namedArguments) {
      report('invalid-template', `${name} takes no named arguments (key=value): ${signature.usage}`, node.hash.loc ?? node.loc);
      return;
    }
    checkLiteralArguments(name, params, report, roots !== undefined);
  };

  visitProgram(program);
  return { problems, helpers };
}

/** Literal arguments are known before any record arrives, so their mistakes are spec errors. */
function checkLiteralArguments(
  name: string,
  params: Expression[],
  report: (code: TemplateProblem['code'], message: string, loc: SourceLocation | undefined) => void,
  checkReserved: boolean,
): void {
  const [first, second] = params;
  if (name === 'date') {
    if (first?.type === 'StringLiteral') {
      const text = (first as hbs.AST.StringLiteral).value;
      if (!toInstant(text)) {
        const hint = text === 'now' ? '; write now without quotes for the time of the invocation' : '';
        report('invalid-template', `date: '${text}' is not a date${hint}`, first.loc);
      }
    }
    if (second?.type === 'StringLiteral') {
      const problem = dateFormatProblem((second as hbs.AST.StringLiteral).value);
      if (problem) report('invalid-template', `date: ${problem}`, second.loc);
    } else if (second && isLiteral(second)) {
      report('invalid-template', "date: the format must be a string, such as 'yyyy/MM/dd'", second.loc);
    }
  }
  if (checkReserved && name === 'lookup' && second?.type === 'StringLiteral' && RESERVED_SEGMENTS.has((second as hbs.AST.StringLiteral).value)) {
    const key = (second as hbs.AST.StringLiteral).value;
    report('reserved-field-name', `lookup: \`${key}\` is a reserved name; \`__proto__\`, \`constructor\` and \`prototype\` could reach an object's prototype`, second.loc);
  }
  if (name === 'hash' && second && isLiteral(second)) {
    const value = (second as hbs.AST.NumberLiteral).value;
    if (second.type !== 'NumberLiteral' || !isHashLength(value)) {
      report('invalid-template', `hash: the length must be an integer from 1 to ${HASH_HEX_LENGTH}`, second.loc);
    }
  }
}

/** ` (did you mean \`record\`?)` when one root is a small edit away from `name`. */
function suggestName(name: string, roots: readonly string[]): string {
  const close = roots.find((root) => editDistance(name.toLowerCase(), root.toLowerCase()) <= Math.max(1, Math.floor(root.length / 3)));
  return close === undefined ? '' : ` (did you mean \`${close}\`?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

function isLiteral(node: Expression): boolean {
  return /Literal$/.test(node.type);
}

/**
 * Routes every printing `{{...}}` through the print helper, so that a missing value or an
 * object is noticed instead of printing '' or `[object Object]`. `{{record.id}}` becomes
 * `{{__ingest_print record.id "{{record.id}}" false}}`; `{{lower record.id}}` becomes
 * `{{__ingest_print (lower record.id) "{{lower record.id}}" false}}`. Blocks are left alone:
 * `{{#if record.x}}` on a missing field is how a template handles optional values.
 * Call only on a tree that `analyzeTemplate` found no problem in; changes the tree in place.
 */
export function routeOutputThroughPrintHelper(program: Program, positions: SourcePositions, missingAsEmpty: boolean): Program {
  const rewriteProgram = (node: Program | undefined): void => {
    if (!node) return;
    node.body = node.body.map((statement) => rewriteStatement(statement));
  };
  const rewriteStatement = (node: Statement): Statement => {
    if (node.type === 'BlockStatement') {
      rewriteProgram((node as BlockStatement).program);
      rewriteProgram((node as BlockStatement).inverse);
      return node;
    }
    if (node.type !== 'MustacheStatement') return node;
    const mustache = node as MustacheStatement;
    const loc = mustache.loc;
    const value: Expression = callee(mustache, 'inline').isCall
      ? ({ type: 'SubExpression', path: mustache.path, params: mustache.params, hash: mustache.hash, loc } as SubExpression)
      : mustache.path;
    const text = positions.text(loc);
    const print: MustacheStatement = {
      type: 'MustacheStatement',
      path: { type: 'PathExpression', data: false, depth: 0, parts: [PRINT_HELPER], original: PRINT_HELPER, loc },
      params: [
        { type: 'StringLiteral', value: text, original: text, loc } as hbs.AST.StringLiteral,
        { type: 'BooleanLiteral', value: missingAsEmpty, original: missingAsEmpty, loc } as hbs.AST.BooleanLiteral,
      ],
      hash: undefined as unknown as hbs.AST.Hash,
      escaped: mustache.escaped,
      strip: mustache.strip,
      loc,
    };
    // The value goes first: the print helper reads (value, text, missingAsEmpty, options).
    print.params.unshift(value);
    return print;
  };
  rewriteProgram(program);
  return program;
}
