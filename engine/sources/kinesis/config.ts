/**
 * The fields of a `kinesis` source that decoding reads, with defaults already applied by the
 * caller. A structural subset of the generated `KinesisSource` (engine/spec/spec-types.ts),
 * so a resolved source can be passed as is.
 */
export interface KinesisDecodeConfig {
  /** How each (user) record's bytes are read. */
  format: 'json' | 'text' | 'csv' | 'cloudwatch_logs';
  /** Unpack KPL-aggregated records into their user records [true]. */
  deaggregate: boolean;
  /**
   * CSV options for `format: csv`. A Kinesis record is one row, so a header row cannot exist:
   * `header` is not read here; fields are named by `columns`, or `field_1`, `field_2`... without it.
   * `delimiter` and `quote` default to `,` and `"`.
   */
  csv?: {
    header?: boolean;
    delimiter?: string;
    quote?: string;
    columns?: string[];
  };
  /**
   * Upper bound in bytes of one record's payload (for `cloudwatch_logs`: of one log event's
   * message); none when absent. A number: the caller resolves sizes such as `1MiB`.
   */
  max_record_bytes?: number;
  /** Deepest nesting of objects and lists accepted in a `json` record [256]; deeper records are dead-lettered `too-deep`. */
  max_depth?: number;
}
