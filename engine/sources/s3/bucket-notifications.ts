import type { SourceConfig } from '../../spec/spec-types.ts';

/**
 * What the owner of an S3 source's bucket must do that no template can: turn on the bucket's
 * EventBridge notifications, which S3 sources read objects through (docs/decisions/0042). Said by
 * `ingest validate` and `ingest generate`. `undefined` when the stack creates the bucket, and
 * turns them on itself.
 */
export function bucketNotificationsNote(id: string, config: Pick<SourceConfig<'s3'>, 'bucket'> & { create?: boolean }): string | undefined {
  if (config.create === true) return undefined;
  return `source ${id}: the stack does not create bucket ${config.bucket}, so turn on its EventBridge notifications (console: bucket Properties → Amazon EventBridge → On; `
    + 'CLI: add "EventBridgeConfiguration": {} to the output of get-bucket-notification-configuration and put it back, since put-bucket-notification-configuration replaces every notification of the bucket). '
    + 'Without them no object reaches the pipeline.';
}
