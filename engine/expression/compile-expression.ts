/**
 * CEL expressions of a spec (`filter`, `set`, `where`, `dedupe.key`): compiled once when the
 * handler starts, evaluated for every record. Compiling type-checks the expression against the
 * two variables `record` and `meta`, so unknown names fail `ingest validate`, not a record.
 */
import { EvaluationError, ParseError, TypeError as CelTypeError } from '@marcbachmann/cel-js';
import type { ASTNode, ParseResult } from '@marcbachmann/cel-js';
import type { RecordMeta, RecordValue } from '../pipeline/record.ts';
import { declaredFunctionNames, expressionEnvironment, InvalidArgumentError } from './environment.ts';
import {
  ExpressionError,
  ExpressionEvaluationError,
  type ExpressionEvaluationErrorCode,
  type ExpressionProblem,
} from './errors.ts';
import { NoJsonFormError, NonFiniteResultError, toPlainValue } from './plain-value.ts';

export interface ExpressionOptions {
  /**
   * `bool` for conditions (`filter`, `where`): an expression whose type is known not to be bool
   * does not compile, and one whose type is only known at run time (`record.flag`) throws
   * `ExpressionEvaluationError` with code `not-a-bool` when it yields anything else.
   * `any` (the default) for computed values.
   */
  expect?: 'bool' | 'any';
}

/**
 * A compiled expression. Pure and synchronous; safe to call for any number of records.
 * Reads `record` and `meta` without copying them and never changes them.
 *
 * @returns the value as plain JSON (see `toPlainValue`: ints are numbers while exact, strings
 *   beyond 2^53; timestamps are RFC 3339 strings; maps are objects, lists arrays).
 * @throws ExpressionEvaluationError when this record makes the expression fail (a missing
 *   field, a type mismatch, an overflow, a non-bool condition, a NaN or infinite result).
 */
export type CompiledExpression = (record: RecordValue, meta: RecordMeta | Record<string, unknown>) => unknown;

/**
 * Compiles an expression for evaluation over many records.
 *
 * Numbers in records are JSON numbers, so CEL sees them as `double`. `record.uid == 2` and
 * `record.count > 3` hold as a user expects (CEL compares numbers across types), arithmetic that
 * mixes a record number with an int literal yields a double (`record.count + 1`), and `int(...)`
 * truncates to an integer.
 *
 * @throws ExpressionError with the first problem `checkExpression` would report.
 */
export function compileExpression(source: string, options?: ExpressionOptions): CompiledExpression {
  const compiled = compile(source, options);
  const first = compiled.problems[0];
  if (first || !compiled.evaluate) {
    throw new ExpressionError(first ?? { code: 'invalid-expression', message: 'the expression does not compile' }, source);
  }
  keepFirstContext(compiled.evaluate);
  return bind(compiled.evaluate, source, options?.expect === 'bool');
}

/** The first evaluation context cel-js made; see `keepFirstContext`. */
let firstContext: unknown;

/**
 * cel-js makes a context object (`RootContext`) for every evaluation, inside the library. Once
 * none is alive, a full collection takes its hidden class and deoptimizes every function compiled
 * against it, the filter step's among them, so that each invocation after one ran them
 * unoptimized (docs/decisions/0057-stable-layouts.md). Keeps the first such object, caught as
 * the expression's root node receives it: one alive keeps the class of all. If cel-js ever
 * evaluates differently, nothing is caught and nothing else changes.
 */
function keepFirstContext(parsed: ParseResult): void {
  if (firstContext !== undefined) return;
  const root = parsed.ast as unknown as { evaluate?: unknown };
  const evaluate = root.evaluate;
  if (typeof evaluate !== 'function') return;
  root.evaluate = function (this: unknown, evaluator: unknown, node: unknown, context: unknown): unknown {
    firstContext ??= context;
    root.evaluate = evaluate;
    return evaluate.call(this, evaluator, node, context);
  };
}

/**
 * Checks an expression without evaluating it, for `ingest validate`: no network, no records.
 * Returns every unknown function and the first other problem (the CEL type checker stops at
 * its first error); an empty list means `compileExpression` will succeed.
 */
export function checkExpression(source: string, options?: ExpressionOptions): ExpressionProblem[] {
  return compile(source, options).problems;
}

interface Compilation {
  problems: ExpressionProblem[];
  evaluate?: ParseResult;
}

function compile(source: string, options: ExpressionOptions | undefined): Compilation {
  if (typeof source !== 'string') {
    return { problems: [{ code: 'invalid-expression', message: 'an expression must be a string' }] };
  }
  if (source.trim() === '') {
    return { problems: [{ code: 'invalid-expression', message: 'the expression is empty', offset: 0, length: 1 }] };
  }
  const environment = expressionEnvironment();
  let parsed: ParseResult;
  try {
    parsed = environment.parse(source);
  } catch (error) {
    return { problems: [problemFromCelError(error, source)] };
  }

  const problems = unknownFunctions(parsed.ast, source);
  const checked = parsed.check();
  if (!checked.valid) {
    const problem = problemFromCelError(checked.error, source);
    // The type checker reports an unknown function as "no matching overload"; already said above.
    const alreadyReported = problems.some((known) => known.offset === problem.offset);
    if (!alreadyReported) problems.push(problem);
    return { problems };
  }
  if (problems.length > 0) return { problems };

  if (options?.expect === 'bool' && checked.type !== 'bool' && checked.type !== 'dyn') {
    return {
      problems: [
        {
          code: 'invalid-expression',
          message: `a condition must produce a bool, but this expression produces ${describeType(checked.type)}`,
          offset: 0,
          length: source.length,
        },
      ],
    };
  }
  return { problems: [], evaluate: parsed };
}

function bind(evaluate: ParseResult, source: string, expectBool: boolean): CompiledExpression {
  if (expectBool) {
    return (record, meta) => {
      let result: unknown;
      try {
        result = evaluate({ record, meta });
      } catch (error) {
        throw evaluationError(error, source);
      }
      if (typeof result !== 'boolean') {
        throw new ExpressionEvaluationError(
          'not-a-bool',
          `condition \`${excerpt(source)}\` produced ${describeValue(result)}, not a bool`,
          source,
          0,
        );
      }
      return result;
    };
  }
  return (record, meta) => {
    let result: unknown;
    try {
      result = evaluate({ record, meta });
    } catch (error) {
      throw evaluationError(error, source);
    }
    try {
      return toPlainValue(result);
    } catch (error) {
      if (error instanceof NonFiniteResultError) {
        throw new ExpressionEvaluationError('non-finite-number', `\`${excerpt(source)}\`: ${error.message}`, source, 0, { cause: error });
      }
      if (!(error instanceof NoJsonFormError)) throw error;
      throw new ExpressionEvaluationError('evaluation-error', `\`${excerpt(source)}\`: ${error.message}`, source, 0, {
        cause: error,
      });
    }
  };
}

/** Calls of functions that exist under no overload at all: a typo or a function CEL lacks. */
function unknownFunctions(ast: ASTNode, source: string): ExpressionProblem[] {
  const { global, methods } = declaredFunctionNames();
  const problems: ExpressionProblem[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    if (!isNode(node)) return;
    if (node.op === 'call') {
      const [name, args] = node.args;
      if (!global.has(name)) problems.push(unknownFunction(name, node, source));
      visit(args);
      return;
    }
    if (node.op === 'rcall') {
      const [name, receiver, args] = node.args;
      if (!methods.has(name)) {
        const receiverName = receiver.op === 'id' ? `${receiver.args}.` : '';
        problems.push(unknownFunction(`${receiverName}${name}`, node, source));
      }
      visit(receiver);
      visit(args);
      return;
    }
    if (node.op !== 'value' && node.op !== 'id') visit(node.args);
  };
  visit(ast);
  return problems;
}

function isNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value;
}

function unknownFunction(name: string, node: ASTNode, source: string): ExpressionProblem {
  const hint =
    name === 'now'
      ? ': expressions are deterministic so that a replayed record gives the same result; use timestamp(meta.arrival_time)'
      : '';
  return {
    code: 'unknown-function',
    message: `unknown function '${name}'${hint}`,
    ...range(node.start, node.end, source),
  };
}

function problemFromCelError(error: unknown, source: string): ExpressionProblem {
  if (error instanceof ParseError || error instanceof CelTypeError || error instanceof EvaluationError) {
    const code = error.code === 'unknown_variable' ? 'unknown-variable' : 'invalid-expression';
    const message =
      code === 'unknown-variable'
        ? `unknown variable '${error.summary.replace(/^.*: /, '')}': an expression can read only \`record\` and \`meta\``
        : readable(error.summary);
    return { code, message, ...range(error.range?.start, error.range?.end, source) };
  }
  return { code: 'invalid-expression', message: error instanceof Error ? error.message : String(error) };
}

function range(start: number | undefined, end: number | undefined, source: string): { offset?: number; length?: number } {
  if (typeof start !== 'number') return {};
  const offset = Math.min(Math.max(start, 0), source.length);
  const length = Math.max(1, (typeof end === 'number' ? end : start) - start);
  return { offset, length };
}

const EVALUATION_CODES: Record<string, ExpressionEvaluationErrorCode> = Object.assign(Object.create(null), {
  no_such_key: 'missing-field',
  index_out_of_bounds: 'missing-field',
  index_out_of_range: 'invalid-argument',
  optional_value_missing: 'missing-field',
  no_such_overload: 'type-mismatch',
  no_matching_overload: 'type-mismatch',
  field_type_mismatch: 'type-mismatch',
  invalid_comparison_type: 'type-mismatch',
  invalid_index_type: 'type-mismatch',
  cannot_index_type: 'type-mismatch',
  unsupported_type: 'type-mismatch',
  numeric_overflow: 'overflow',
  int_conversion_error: 'invalid-argument',
  uint_conversion_error: 'invalid-argument',
  invalid_timestamp: 'invalid-argument',
  invalid_duration: 'invalid-argument',
  division_by_zero: 'invalid-argument',
  modulo_by_zero: 'invalid-argument',
  invalid_regular_expression: 'invalid-argument',
});

function evaluationError(error: unknown, source: string): ExpressionEvaluationError {
  if (error instanceof EvaluationError || error instanceof CelTypeError) {
    const code = EVALUATION_CODES[error.code] ?? 'evaluation-error';
    return new ExpressionEvaluationError(
      code,
      `\`${excerpt(source)}\`: ${readable(error.summary)}`,
      source,
      error.range?.start,
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InvalidArgumentError) {
    return new ExpressionEvaluationError('invalid-argument', `\`${excerpt(source)}\`: ${message}`, source, undefined, { cause: error });
  }
  return new ExpressionEvaluationError('evaluation-error', `\`${excerpt(source)}\`: ${message}`, source, undefined, {
    cause: error,
  });
}

function excerpt(source: string): string {
  const line = source.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** The library's summary, lower-cased and without its internal type names. */
function readable(summary: string): string {
  const text = summary.replace(/dyn<(\w+)>/g, '$1').replaceAll('MathNamespace.', 'math.').replaceAll('google.protobuf.', '');
  return text.length > 1 && /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

function describeType(type: string | undefined): string {
  if (type === 'google.protobuf.Timestamp') return 'a timestamp';
  if (type === 'google.protobuf.Duration') return 'a duration';
  return type ? `a value of type ${type}` : 'a value of unknown type';
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === 'bigint' || typeof value === 'number') return `the number ${String(value)}`;
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a timestamp';
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}
