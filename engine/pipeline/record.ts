/**
 * What flows through a pipeline. A source decodes an event into `Decoded` items; each item is
 * a record to transform, a record filtered at the source (for instance a DynamoDB event kind the
 * source does not want), or a record that could not be decoded and goes to the dead letters.
 */

/** A record as transforms and sinks see it: always a JSON object. */
export type RecordValue = { [field: string]: unknown };

/**
 * Where a record came from. Exposed to CEL and Handlebars as `meta`, so keys are snake_case.
 * `position` is a stable, printable identity of the record within its source; object names and
 * dead-letter keys derive from it, so a retried invocation produces the same names.
 */
export type RecordMeta = KinesisMeta | DynamoDbMeta | S3Meta;

interface BaseMeta {
  /** The id of the source in the spec. */
  source: string;
  /** ISO-8601 time the record arrived at its source (Kinesis approximate arrival, DynamoDB creation, S3 event time). */
  arrival_time: string;
  /** Stable identity within the source, e.g. `shardId-000000000000/4959...:2` or `bucket/key@<version id or ETag>:17`. */
  position: string;
}

export interface KinesisMeta extends BaseMeta {
  event: 'kinesis';
  stream: string;
  shard: string;
  sequence: string;
  /** Index of the user record inside a KPL aggregate, or of the log event inside a CloudWatch Logs payload, or of the line inside a `text` payload. */
  sub_sequence?: number;
  partition_key: string;
}

export interface DynamoDbMeta extends BaseMeta {
  event: 'dynamodb';
  table: string;
  sequence: string;
  event_name: 'insert' | 'modify' | 'remove';
  keys: RecordValue;
  /** Who made the change, when the stream says (it does for TTL deletes: `{type: 'Service', principal_id: 'dynamodb.amazonaws.com'}`); else null. */
  user_identity: { type: string; principal_id: string } | null;
  /** True for a remove made by DynamoDB's time to live, not by a user. */
  ttl_delete: boolean;
  /** Paths in the record of the values that were DynamoDB sets (SS, NS, BS), e.g. `tags` or `new.tags`; sets are sorted. */
  sets: string[];
}

export interface S3Meta extends BaseMeta {
  event: 's3';
  bucket: string;
  key: string;
  /** 1-based line (jsonl, csv, text) or element index (json array, 0-based). */
  line: number;
  /** The object version read (absent when the bucket keeps no versions). */
  version_id?: string;
  /** ETag of the content read, without quotes. */
  etag?: string;
}

/** Stable codes for records that fail. Closed set: used as a metric dimension and in dead letters. */
export type FailureCode =
  // decode
  | 'invalid-base64'
  | 'invalid-json'
  /** JSON nested deeper than the source's `max_depth` (or 256 for `parse_json`). */
  | 'too-deep'
  /** A number JSON cannot hold: beyond the double range when decoded, or NaN/±Infinity when computed (CEL, `cast`, a template). */
  | 'non-finite-number'
  | 'not-an-object'
  | 'invalid-csv'
  | 'invalid-utf8'
  | 'invalid-gzip'
  | 'truncated-object'
  | 'object-not-found'
  | 'record-too-large'
  | 'invalid-aggregate'
  | 'invalid-cloudwatch-logs'
  | 'invalid-attribute-value'
  /** A Lambda event record lacks a field its decoder needs (AWS never sends these; hand-written test events may). */
  | 'invalid-event'
  | 'unmatched-object'
  // transform
  | 'transform-error'
  /** A step would write onto a field that already holds a value it does not own (`rename` without `overwrite`, `flatten`). */
  | 'field-collision'
  | 'invalid-record'
  // sink
  | 'sink-rejected'
  | 'sink-error'
  /** A Redshift load (with `copy.max_error` above 0) rejected the staged row; the good rows of its batch loaded. */
  | 'load-rejected';

export type Stage = 'decode' | 'transform' | 'sink';

export type Decoded =
  | { outcome: 'record'; value: RecordValue; meta: RecordMeta; raw: Uint8Array }
  | { outcome: 'filtered'; meta: RecordMeta; raw: Uint8Array; reason: string }
  | { outcome: 'dead_letter'; meta: RecordMeta; raw: Uint8Array; code: FailureCode; message: string };

/**
 * Thrown by a batch item's record iterator when the item as a whole turns out to be unreadable,
 * possibly after some of its records were delivered: a gzip checksum that does not match, an
 * object that ends short of its announced size. Records read before it cannot be trusted (a
 * corrupt gzip stream decompresses to garbage before zlib notices), so the pipeline aborts the
 * item: sinks discard its output and the item ends in this one dead letter (`meta` names the
 * object, `raw` holds what was read of the record in progress). Any other error thrown by the
 * iterator fails the item for retry. See docs/decisions/0010-item-commit-point.md.
 */
export class ItemReadError extends Error {
  override name = 'ItemReadError';
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly meta: RecordMeta,
    readonly raw: Uint8Array = new Uint8Array(0),
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
