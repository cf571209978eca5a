import type { CheckContext } from '../plugin/checks.ts';

interface StreamSettings {
  retry?: { max_record_age_seconds?: number };
}

/**
 * Checks shared by the stream sources (Kinesis, DynamoDB Streams) that JSON Schema cannot say
 * cleanly: Lambda accepts a maximum record age of -1 (infinite) or 60..604800, nothing between.
 */
export function checkStreamSettings(config: StreamSettings, context: CheckContext): void {
  const age = config.retry?.max_record_age_seconds;
  if (age !== undefined && age !== -1 && (age < 60 || age > 604_800)) {
    context.report(['retry', 'max_record_age_seconds'], 'batch-out-of-range', `max_record_age_seconds is ${age}; Lambda accepts -1 (no limit) or 60 to 604800`);
  }
}
