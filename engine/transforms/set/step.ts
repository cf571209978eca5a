import { compileExpression, ExpressionEvaluationError } from '../../expression/index.ts';
import type { CompiledExpression } from '../../expression/index.ts';
import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';
import { isPlainObject, parseFieldPath, writeField } from '../field-path.ts';
import type { FieldPath } from '../field-path.ts';

/** `set: { field: "<CEL expression>" }`. */
export type SetConfig = StepConfig<'set'>;

/**
 * Assigns computed values. Every expression of the step reads the record as it was before the
 * step, and only then are the fields assigned, so `{ a: "record.b", b: "1" }` gives `a` the old
 * `b` whatever the order of the entries. Dotted targets create missing parent objects; a parent
 * that exists but is not an object fails the record. Values are plain JSON (see
 * `compileExpression`), never aliases of other fields. Assigning a field that exists replaces
 * its value: computing a field's new value is the step's purpose (docs/decisions/0024-field-writes.md).
 * An expression that fails to evaluate fails the record with `transform-error` naming the field,
 * or `non-finite-number` when its value is NaN or ±Infinity (`record.a / record.b` with `b` 0.0),
 * which JSON would silently write as `null`; compiling throws `ExpressionError`.
 */
export const setStep: StepPlugin<SetConfig> = {
  kind: 'set',
  compile(config) {
    if (!isPlainObject(config)) throw new Error('set: expected a mapping of field → expression');
    const paths: FieldPath[] = [];
    const expressions: CompiledExpression[] = [];
    for (const [field, source] of Object.entries(config)) {
      paths.push(parseFieldPath(field));
      expressions.push(compileExpression(source, { expect: 'any' }));
    }
    const count = paths.length;
    // Reused by every record: steps run synchronously, one record at a time.
    const values: unknown[] = new Array(count).fill(null);

    return (record, meta) => {
      for (let index = 0; index < count; index++) {
        try {
          values[index] = expressions[index]!(record, meta);
        } catch (error) {
          if (error instanceof ExpressionEvaluationError) {
            throw new RecordError(error.code === 'non-finite-number' ? 'non-finite-number' : 'transform-error', `field \`${paths[index]!.text}\`: ${error.message}`, { cause: error });
          }
          throw error;
        }
      }
      for (let index = 0; index < count; index++) {
        writeField(record, paths[index]!, values[index]);
        values[index] = null;
      }
      return record;
    };
  },
};
