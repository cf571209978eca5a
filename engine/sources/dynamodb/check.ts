import type { CheckContext } from '../../plugin/checks.ts';
import { checkStreamSettings } from '../stream-settings.ts';

interface DynamoDbSourceSettings {
  retry?: { max_record_age_seconds?: number };
}

/** Offline checks of a DynamoDB Streams source beyond its schema. */
export function checkDynamoDbSource(config: DynamoDbSourceSettings, context: CheckContext): void {
  checkStreamSettings(config, context);
}
