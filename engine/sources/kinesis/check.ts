import type { CheckContext } from '../../plugin/checks.ts';
import { checkStreamSettings } from '../stream-settings.ts';

interface KinesisSourceSettings {
  retry?: { max_record_age_seconds?: number };
  format?: string;
  deaggregate?: boolean;
}

/** Offline checks of a Kinesis source beyond its schema. */
export function checkKinesisSource(config: KinesisSourceSettings, context: CheckContext): void {
  checkStreamSettings(config, context);
}
