/**
 * Errors of CEL expressions. Compile problems (`ExpressionError`) are spec problems: `ingest
 * validate` reports them through `checkExpression` and the runtime never starts with one.
 * Evaluation problems (`ExpressionEvaluationError`) belong to one record: the transform or sink
 * that evaluated the expression turns them into a dead letter.
 */

/** Why an expression does not compile. The same codes as the spec codes `ingest validate` prints. */
export type ExpressionErrorCode = 'invalid-expression' | 'unknown-variable' | 'unknown-function';

/** One compile problem of an expression, as data. */
export interface ExpressionProblem {
  code: ExpressionErrorCode;
  /** One line, without the source excerpt: the caller shows the location its own way. */
  message: string;
  /** 0-based character offset of the problem in the expression source, when known. */
  offset?: number;
  /** Length in characters of the offending part of the source, when known (at least 1). */
  length?: number;
}

/** Thrown by `compileExpression` when the expression cannot be compiled. */
export class ExpressionError extends Error {
  override name = 'ExpressionError';
  readonly code: ExpressionErrorCode;
  readonly offset: number | undefined;
  readonly length: number | undefined;
  /** The expression source, for messages. */
  readonly source: string;

  constructor(problem: ExpressionProblem, source: string, options?: { cause?: unknown }) {
    super(problem.message, options);
    this.code = problem.code;
    this.offset = problem.offset;
    this.length = problem.length;
    this.source = source;
  }
}

/**
 * Why one evaluation failed. Closed set, usable as a metric dimension:
 * - `missing-field`: the expression reads a field the record does not have (guard it with `has()`);
 * - `type-mismatch`: an operator or function got values of types it does not accept;
 * - `overflow`: integer arithmetic or a conversion left the 64-bit range;
 * - `invalid-argument`: a conversion or function rejected its argument (`timestamp('yesterday')`,
 *   division by zero, a bad regular expression...);
 * - `not-a-bool`: an expression compiled with `expect: 'bool'` produced something else;
 * - `non-finite-number`: the value is or holds NaN or ±Infinity (`record.a / record.b` with `b`
 *   0.0), which JSON cannot hold; steps fail the record with the same code;
 * - `evaluation-error`: anything else the CEL library reports.
 */
export type ExpressionEvaluationErrorCode =
  | 'missing-field'
  | 'type-mismatch'
  | 'overflow'
  | 'invalid-argument'
  | 'not-a-bool'
  | 'non-finite-number'
  | 'evaluation-error';

/** Thrown by a compiled expression when it cannot produce a value for this record. */
export class ExpressionEvaluationError extends Error {
  override name = 'ExpressionEvaluationError';
  readonly code: ExpressionEvaluationErrorCode;
  /** 0-based character offset in the expression source of the part that failed, when known. */
  readonly offset: number | undefined;
  /** The expression source. */
  readonly source: string;

  constructor(
    code: ExpressionEvaluationErrorCode,
    message: string,
    source: string,
    offset?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.source = source;
    this.offset = offset;
  }
}
