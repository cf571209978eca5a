/**
 * The environment variables through which a deployed stack completes the packaged spec. The
 * generator sets them on the function; `engine/lambda.ts` reads them at cold start.
 */

/** Prefix of the variables that carry parameter values: `INGEST_PARAM_OUT_BUCKET` for `out_bucket`. */
export const PARAMETER_PREFIX = 'INGEST_PARAM_';

/** The variable holding a parameter's value. */
export function parameterVariable(name: string): string {
  return `${PARAMETER_PREFIX}${name.toUpperCase()}`;
}

/**
 * The variable naming the bucket the stack creates for dead letters, used when the spec's
 * `dead_letter` names no bucket (docs/decisions/0025-dead-letter-bucket.md).
 */
export const DEAD_LETTER_BUCKET_VARIABLE = 'INGEST_DEAD_LETTER_BUCKET';

/**
 * The variable naming the ledger table of batching sinks (redshift, postgres): the spec's
 * `state.table`, or the table the stack creates (docs/decisions/0031-exactly-once-warehouse-loads.md).
 */
export const LEDGER_TABLE_VARIABLE = 'INGEST_LEDGER_TABLE';

/** The variable naming the SNS topic notifications go to: the spec's `notifications.topic`, or the topic the stack creates. */
export const NOTIFICATION_TOPIC_VARIABLE = 'INGEST_NOTIFICATION_TOPIC';
