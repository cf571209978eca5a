/** CEL expressions: compile once, evaluate per record; offline checks for `ingest validate`. */
export {
  checkExpression,
  compileExpression,
  type CompiledExpression,
  type ExpressionOptions,
} from './compile-expression.ts';
export {
  ExpressionError,
  ExpressionEvaluationError,
  type ExpressionErrorCode,
  type ExpressionEvaluationErrorCode,
  type ExpressionProblem,
} from './errors.ts';
export { formatTimestamp, toPlainValue } from './plain-value.ts';
