import { compileExpression, ExpressionEvaluationError } from '../../expression/index.ts';
import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';

/** `filter: "<CEL bool expression>"`: the condition a record must meet to continue. */
export type FilterConfig = StepConfig<'filter'>;

/**
 * Keeps the records for which the CEL condition is `true` and filters out (returns `undefined`
 * for) those for which it is `false`. A condition that fails to evaluate for a record (a missing
 * field, a type mismatch) or yields something other than a bool fails that record with
 * `transform-error`: it is dead-lettered, never silently kept or dropped. Guard optional fields
 * with `has(record.x)` or `record.?x.orValue(...)`. Compiling throws `ExpressionError`.
 */
export const filterStep: StepPlugin<FilterConfig> = {
  kind: 'filter',
  compile(config) {
    const condition = compileExpression(config, { expect: 'bool' });
    return (record, meta) => {
      let keep: unknown;
      try {
        keep = condition(record, meta);
      } catch (error) {
        if (error instanceof ExpressionEvaluationError) {
          throw new RecordError('transform-error', error.message, { cause: error });
        }
        throw error;
      }
      return keep === true ? record : undefined;
    };
  },
};
