import { compileExpression, ExpressionEvaluationError } from '../../expression/index.ts';
import type { Step, StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';

/** `dedupe: { key: "<CEL expression>" }`. */
export type DedupeConfig = StepConfig<'dedupe'>;

/**
 * Drops repeated records within one invocation: the first record with a given key passes, later
 * ones with an equal key are filtered (`undefined`). Keys are compared by value and type: `1` and
 * `"1"` differ, `1` and `1.0` are equal, maps are equal whatever their key order, and `null` is a
 * key like any other. The seen keys live in `invocation.state` (keyed by this step), so every
 * invocation starts empty and nothing leaks between warm invocations; duplicates that arrive in
 * different invocations both pass. A key expression that fails to evaluate fails the record with
 * `transform-error`. Compiling throws `ExpressionError`.
 */
export const dedupeStep: StepPlugin<DedupeConfig> = {
  kind: 'dedupe',
  compile(config) {
    const source = config?.key;
    const key = compileExpression(source, { expect: 'any' });
    const step: Step = (record, meta, invocation) => {
      let value: unknown;
      try {
        value = key(record, meta);
      } catch (error) {
        if (error instanceof ExpressionEvaluationError) {
          throw new RecordError(error.code === 'non-finite-number' ? 'non-finite-number' : 'transform-error', `key ${error.message}`, { cause: error });
        }
        throw error;
      }
      let seen = invocation.state.get(step) as Set<string> | undefined;
      if (seen === undefined) {
        seen = new Set();
        invocation.state.set(step, seen);
      }
      const identity = keyIdentity(value);
      if (seen.has(identity)) return undefined;
      seen.add(identity);
      return record;
    };
    return step;
  },
};

/** A string equal for equal keys and different for different ones: a type tag, then the value. */
function keyIdentity(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
    case 'bigint':
      return `n${String(value)}`;
    case 'boolean':
      return value ? 'b1' : 'b0';
    default:
      return `j${sortedJson(value)}`;
  }
}

function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${sortedJson(object[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
