/**
 * The fields of an `s3` source that event matching and object decoding read, with defaults
 * already applied by the caller. A structural subset of the generated `S3Source`
 * (engine/spec/spec-types.ts), so a resolved source can be passed as is.
 */
export interface S3SourceConfig {
  bucket: string;
  /** Keys must start with this to belong to the source ('' matches every key). */
  prefix?: string;
  /** Keys must end with this to belong to the source ('' matches every key). */
  suffix?: string;
  /** How an object's bytes become records. */
  format: 'jsonl' | 'json' | 'csv' | 'text';
  /** `auto` detects gzip by its magic bytes (1f 8b), whatever the key or Content-Encoding say. */
  compression: 'auto' | 'gzip' | 'none';
  /** CSV options for `format: csv`. */
  csv?: {
    /** The first row names the fields [true]. */
    header?: boolean;
    /** Field separator [,]. */
    delimiter?: string;
    /** Quote character [\"]; a quote inside a quoted field is written twice. */
    quote?: string;
    /** Field names; when `header` is true they replace the names of the header row. */
    columns?: string[];
  };
  /** Upper bound in bytes of one record (a line, a CSV row, a JSON array element) [1 MiB]. */
  max_record_bytes?: number;
  /** Deepest nesting accepted in a `jsonl` line or `json` element [256]; deeper ones are dead-lettered `too-deep`. */
  max_depth?: number;
}

/** `max_record_bytes` when the spec leaves it out. */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
