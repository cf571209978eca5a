/**
 * The Lambda entry point, bundled by `ingest package` for each spec (generator/function-bundle.ts).
 * At cold start it reads what `ingest package` ships beside the bundle: `spec.json`, a spec
 * validated and resolved at build time (defaults applied, sizes in bytes) with its templates prepared, and `validators.mjs`, the
 * JSON Schemas of `validate` steps compiled to code. No JSON Schema is compiled here, and no
 * template of a prepared form is parsed.
 *
 * The environment completes the spec: deployment parameters arrive as `INGEST_PARAM_<NAME>`
 * variables, and the bucket the stack creates for dead letters as `INGEST_DEAD_LETTER_BUCKET`.
 * The function refuses to start, naming the variable, when a parameter without a default has no
 * value or when neither the spec nor the environment names a dead-letter bucket: starting anyway
 * would write to `s3://${param.out_bucket}/` or retry every bad record until it expires. Likewise
 * when a redshift or postgres sink has no ledger table (`state.table` or `INGEST_LEDGER_TABLE`), or
 * declared notifications no topic (`notifications.topic` or `INGEST_NOTIFICATION_TOPIC`): the
 * ports are built in `ports/aws-ports.ts`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DEAD_LETTER_BUCKET_VARIABLE, PARAMETER_PREFIX, parameterVariable } from './function-environment.ts';
import { createHandler } from './handler.ts';
import { PortConfigurationError, buildPorts } from './ports/aws-ports.ts';
import type { RecordValidator } from './plugin/types.ts';
import type { ResolvedSpec } from './spec/resolved-spec.ts';
import { checkParameters, substituteParameters } from './spec/resolved-spec.ts';
import { usePreparedTemplates } from './template/index.ts';
import type { PreparedTemplates } from './template/index.ts';

/** What the packager writes to `spec.json`. */
export interface PackagedSpec {
  spec: ResolvedSpec;
  /** The spec's templates, prepared so that the handler renders them without parsing. */
  templates: PreparedTemplates;
}

/** Thrown at cold start when the environment does not complete the spec; the message names the variables to set. */
export class StartupError extends Error {
  override name = 'StartupError';
}

const packaged = JSON.parse(readFileSync(process.env.INGEST_SPEC_PATH ?? new URL('./spec.json', import.meta.url), 'utf8')) as PackagedSpec;
const parameters: Record<string, string> = Object.create(null);
for (const [name, value] of Object.entries(process.env)) {
  if (name.startsWith(PARAMETER_PREFIX) && value !== undefined) parameters[name.slice(PARAMETER_PREFIX.length).toLowerCase()] = value;
}
try {
  // The environment may hold variables for parameters a newer or older spec declared: not an error.
  checkParameters(packaged.spec, parameters, (name) => `the environment variable ${parameterVariable(name)}`, { allowUnknown: true });
} catch (error) {
  throw new StartupError(`ingest: the function cannot start: ${(error as Error).message}`, { cause: error });
}
const deadLetterBucket = process.env[DEAD_LETTER_BUCKET_VARIABLE] || undefined;
if (packaged.spec.dead_letter.bucket === undefined && deadLetterBucket === undefined) {
  throw new StartupError(`ingest: the function cannot start: the spec names no dead_letter bucket and the environment variable ${DEAD_LETTER_BUCKET_VARIABLE} (the bucket the stack creates for dead letters) is not set`);
}
const validatorsModule = new URL('./validators.mjs', import.meta.url);
const recordValidators = existsSync(validatorsModule)
  ? new Map(Object.entries(((await import(validatorsModule.href)) as { validators: Record<string, RecordValidator> }).validators))
  : undefined;

const spec = substituteParameters(packaged.spec, parameters);
const ports = (() => {
  try {
    return buildPorts(spec, process.env);
  } catch (error) {
    if (error instanceof PortConfigurationError) throw new StartupError(`ingest: the function cannot start: ${error.message}`, { cause: error });
    throw error;
  }
})();

usePreparedTemplates(packaged.templates);
export const handler = createHandler(spec, {
  ports,
  // Every schema file the spec names was compiled into validators.mjs; nothing else is read.
  files: { exists: () => false, read: () => undefined },
  parameters,
  ...(deadLetterBucket === undefined ? {} : { deadLetterBucket }),
  ...(recordValidators ? { recordValidators } : {}),
});
