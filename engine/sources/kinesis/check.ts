import type { CheckContext } from '../../plugin/checks.ts';
import { checkStreamSettings } from '../stream-settings.ts';
import { compileFilterPatterns, FilterPatternError } from './filter-pattern.ts';

interface KinesisSourceSettings {
  retry?: { max_record_age_seconds?: number };
  format?: string;
  deaggregate?: boolean;
  filter?: unknown[];
}

/**
 * Offline checks of a Kinesis source beyond its schema: the stream settings, and the `filter`
 * patterns, which Lambda would refuse at deploy and `ingest run` and `ingest test` could not apply.
 */
export function checkKinesisSource(config: KinesisSourceSettings, context: CheckContext): void {
  checkStreamSettings(config, context);
  if (config.filter === undefined) return;
  try {
    compileFilterPatterns(config.filter);
  } catch (error) {
    if (!(error instanceof FilterPatternError)) throw error;
    context.report(['filter', ...error.path], 'invalid-filter-pattern', `filter pattern: ${error.message}`);
  }
}
