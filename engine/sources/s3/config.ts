import type { SourceConfig } from '../../spec/spec-types.ts';

/**
 * The fields of a resolved `s3` source that event matching and object decoding read
 * (engine/spec/spec-types.ts, `ResolvedS3Source`): defaults applied, `max_record_bytes` in bytes.
 * `compression: auto` detects gzip by its magic bytes (1f 8b), whatever the key or
 * Content-Encoding say.
 */
export type S3SourceConfig = Pick<SourceConfig<'s3'>, 'bucket' | 'prefix' | 'suffix' | 'format' | 'compression' | 'csv' | 'max_record_bytes' | 'max_depth'>;
