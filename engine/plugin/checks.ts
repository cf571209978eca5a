import type { SpecCode } from '../errors.ts';
import type { SpecPath } from '../spec/diagnostic.ts';
import { checkDynamoDbSource } from '../sources/dynamodb/check.ts';
import { checkKinesisSource } from '../sources/kinesis/check.ts';
import { checkPostgresSink } from '../sinks/postgres/check.ts';
import { checkRedshiftSink } from '../sinks/redshift/check.ts';
import { checkS3Sink } from '../sinks/s3/check.ts';
import { checkSearchSink } from '../sinks/search/check.ts';
import { checkRenameStep } from '../transforms/rename/check.ts';
import { checkValidateStep } from '../transforms/validate/check.ts';

/** Reads files the spec refers to, relative to the spec's folder. Offline: the local filesystem only. */
export interface SpecFiles {
  exists(path: string): boolean;
  /** The file's text, or `undefined` when it cannot be read. */
  read(path: string): string | undefined;
}

/** What a plugin check receives: a reporter whose paths are relative to the component, and file access. */
export interface CheckContext {
  report(path: SpecPath, code: SpecCode, message: string, options?: { target?: 'key' | 'value'; severity?: 'error' | 'warning' }): void;
  files: SpecFiles;
}

/**
 * A plugin's checks beyond its JSON Schema fragment: pure, offline, run by `ingest validate`
 * after the schema passed (so the config has the schema's shape).
 */
export type ComponentCheck = (config: any, context: CheckContext) => void;

// One explicit list per kind; a plugin without checks beyond its schema is simply absent.
export const SOURCE_CHECKS: Readonly<Record<string, ComponentCheck>> = Object.assign(Object.create(null), {
  kinesis: checkKinesisSource,
  dynamodb: checkDynamoDbSource,
});

export const SINK_CHECKS: Readonly<Record<string, ComponentCheck>> = Object.assign(Object.create(null), {
  s3: checkS3Sink,
  redshift: checkRedshiftSink,
  postgres: checkPostgresSink,
  elasticsearch: checkSearchSink,
  opensearch: checkSearchSink,
});

export const STEP_CHECKS: Readonly<Record<string, ComponentCheck>> = Object.assign(Object.create(null), {
  validate: checkValidateStep,
  rename: checkRenameStep,
});
