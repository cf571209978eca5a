/**
 * Names of the AWS resources a component adds, per docs/decisions/0006-resource-names.md:
 * `<pipeline name>-<component id>-<suffix>`. `ingest validate` (`name-too-long`) keeps the
 * pipeline name and id short enough for a suffix of at most 7 characters in a 64-character name.
 */

/** Suffixes the generator modules use; each at most 7 characters, as 0006 requires. */
export type ResourceSuffix = 'events' | 'dlq' | 'failed' | 'age' | 'backlog';

/** The name of a per-component resource; every service named with it (SQS, EventBridge, CloudWatch) accepts the `_` of ids. */
export function componentResourceName(pipeline: string, id: string, suffix: ResourceSuffix): string {
  return `${pipeline}-${id}-${suffix}`;
}
