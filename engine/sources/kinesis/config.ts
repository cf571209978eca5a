import type { SourceConfig } from '../../spec/spec-types.ts';

/**
 * The fields of a resolved `kinesis` source that decoding reads (engine/spec/spec-types.ts,
 * `ResolvedKinesisSource`): defaults applied, `max_record_bytes` in bytes. A Kinesis record is
 * one CSV row, so `csv.header` is not read: fields are named by `csv.columns`, or `field_1`,
 * `field_2`... without them.
 */
export type KinesisDecodeConfig = Pick<SourceConfig<'kinesis'>, 'format' | 'deaggregate' | 'csv' | 'max_record_bytes' | 'max_depth'> & {
  /**
   * Lambda event filter patterns: Lambda delivers only records that match one of them, so local
   * runs and spec tests drop the others as `filtered` (see `compileFilterPatterns`).
   */
  filter?: SourceConfig<'kinesis'>['filter'];
};
