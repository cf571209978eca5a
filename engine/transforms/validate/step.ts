import type { ErrorObject } from 'ajv';
import type { RecordValidator, StepEnvironment, StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';
import { compileRecordSchema } from './record-schema.ts';

/** `validate: { schema, on_invalid? }`. */
export type ValidateConfig = StepConfig<'validate'>;

/** How many schema errors one message lists; the rest are counted. */
const MAX_LISTED_ERRORS = 10;

/**
 * Checks each record against a JSON Schema, read with `environment.files.read` and compiled once.
 * A valid record passes unchanged (the schema's `default`s are not applied). An invalid one fails
 * with `invalid-record` and a message listing ajv's errors with their instance paths
 * (`/user/id must be integer`), or is filtered when `on_invalid: drop`. Compiling throws when the
 * file cannot be read or the schema does not compile (`ingest validate` reports both first).
 */
export const validateStep: StepPlugin<ValidateConfig> = {
  kind: 'validate',
  compile(config, environment) {
    const onInvalid = config.on_invalid ?? 'dead_letter';
    if (onInvalid !== 'dead_letter' && onInvalid !== 'drop') {
      throw new Error(`validate: on_invalid must be dead_letter or drop, got ${JSON.stringify(onInvalid)}`);
    }
    const check = environment.recordValidators?.get(config.schema) ?? compileFromFile(config.schema, environment);
    const drop = onInvalid === 'drop';
    return (record) => {
      if (check(record)) return record;
      if (drop) return undefined;
      throw new RecordError('invalid-record', `record does not match schema \`${config.schema}\`: ${describeErrors(check.errors ?? [])}`);
    };
  },
};

function compileFromFile(path: string, environment: StepEnvironment): RecordValidator {
  const text = environment.files.read(path);
  if (text === undefined) throw new Error(`validate: JSON Schema file \`${path}\` cannot be read (paths are relative to the spec)`);
  try {
    return compileRecordSchema(text);
  } catch (error) {
    throw new Error(`validate: JSON Schema file \`${path}\` is invalid: ${(error as Error).message}`, { cause: error });
  }
}

function describeErrors(errors: readonly ErrorObject[]): string {
  const listed = errors.slice(0, MAX_LISTED_ERRORS).map((error) => `${error.instancePath === '' ? '(record)' : error.instancePath} ${error.message ?? error.keyword}${detail(error)}`);
  const rest = errors.length - listed.length;
  return listed.join('; ') + (rest > 0 ? `; and ${rest} more` : '');
}

/** The parameter ajv leaves out of its message but a reader needs (which property, which values). */
function detail(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return ` (\`${String(params.additionalProperty)}\`)`;
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) return `: ${params.allowedValues.map((value) => JSON.stringify(value)).join(', ')}`;
  return '';
}
