/**
 * How `ingest deploy` reads a stack while it changes: which statuses are final, which events are
 * failures, how far along it is. Pure functions over what DescribeStacks and DescribeStackEvents
 * return, so the reading is tested without a stack that fails on cue.
 */
import type { StackEvent } from '@aws-sdk/client-cloudformation';

/** What these functions read of a stack event. */
export type EventFacts = Pick<StackEvent, 'LogicalResourceId' | 'ResourceType' | 'ResourceStatus' | 'ResourceStatusReason'>;

/** The stack statuses that end a deploy well. */
const SUCCEEDED = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

/**
 * Whether a stack in `status` has stopped changing. `REVIEW_IN_PROGRESS` counts as still
 * changing: it is what a new stack reports between ExecuteChangeSet and the creation starting.
 */
export function isSettled(status: string): boolean {
  return !status.endsWith('_IN_PROGRESS');
}

/** Whether a settled stack in `status` holds what the change set asked for (a rollback or failure does not). */
export function succeeded(status: string): boolean {
  return SUCCEEDED.has(status);
}

/** A resource that failed to change, and why. */
export interface ResourceFailure {
  logicalId: string;
  type: string;
  status: string;
  reason: string;
}

/**
 * The failures among `events` (oldest first), in the order they happened: the first is usually the
 * cause, the rest are resources CloudFormation cancelled or could not roll back because of it.
 */
export function failures(events: readonly EventFacts[]): ResourceFailure[] {
  return events
    .filter((event) => event.ResourceStatus?.endsWith('_FAILED'))
    .map((event) => ({
      logicalId: event.LogicalResourceId ?? '?',
      type: event.ResourceType ?? '?',
      status: event.ResourceStatus!,
      reason: event.ResourceStatusReason ?? 'no reason given',
    }));
}

/** How many of the resources a change set touches have finished: distinct logical ids (not the stack's own) that reached a `_COMPLETE` status. */
export function finishedResources(events: readonly EventFacts[]): number {
  const done = new Set<string>();
  for (const event of events) {
    if (event.ResourceType !== 'AWS::CloudFormation::Stack' && event.ResourceStatus?.endsWith('_COMPLETE') && event.LogicalResourceId) done.add(event.LogicalResourceId);
  }
  return done.size;
}
