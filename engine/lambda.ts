/**
 * The Lambda entry point, bundled by esbuild into `dist/lambda/index.mjs`. At cold start it reads
 * what `ingest package` ships beside the bundle: `spec.json`, a spec validated and resolved at build
 * time (defaults applied, sizes in bytes), and `validators.mjs`, the JSON Schemas of `validate`
 * steps compiled to code. No JSON Schema is compiled here. Deployment parameters arrive as
 * `INGEST_PARAM_<name>` environment variables.
 */
import { existsSync, readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { createHandler } from './handler.ts';
import { S3ObjectStore } from './ports/s3-object-store.ts';
import type { RecordValidator } from './plugin/types.ts';
import type { ResolvedSpec } from './spec/resolved-spec.ts';
import { substituteParameters } from './spec/resolved-spec.ts';

/** What the packager writes to `spec.json`. */
export interface PackagedSpec {
  spec: ResolvedSpec;
  /** Files the spec refers to (JSON Schemas of `validate` steps), by the path the spec uses. */
  files: Record<string, string>;
}

const PARAMETER_PREFIX = 'INGEST_PARAM_';

const packaged = JSON.parse(readFileSync(process.env.INGEST_SPEC_PATH ?? new URL('./spec.json', import.meta.url), 'utf8')) as PackagedSpec;
const parameters = Object.fromEntries(
  Object.entries(process.env)
    .filter(([name, value]) => name.startsWith(PARAMETER_PREFIX) && value !== undefined)
    .map(([name, value]) => [name.slice(PARAMETER_PREFIX.length).toLowerCase(), value!]),
);
const files = new Map(Object.entries(packaged.files));
const validatorsModule = new URL('./validators.mjs', import.meta.url);
const recordValidators = existsSync(validatorsModule)
  ? new Map(Object.entries(((await import(validatorsModule.href)) as { validators: Record<string, RecordValidator> }).validators))
  : undefined;

export const handler = createHandler(substituteParameters(packaged.spec, parameters), {
  ports: { objects: new S3ObjectStore(new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3) })) },
  files: { exists: (path) => files.has(path), read: (path) => files.get(path) },
  parameters,
  ...(recordValidators ? { recordValidators } : {}),
});
