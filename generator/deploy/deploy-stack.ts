/**
 * Deploys a template through a change set, as a careful operator would with the console: create
 * the change set, show what it changes, execute it, and watch the stack until it settles. No step
 * is skipped on a new stack (CloudFormation's change sets work for creation too), so what the user
 * sees before executing is always what will happen.
 */
import {
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
} from '@aws-sdk/client-cloudformation';
import type { Change, CloudFormationClient, Stack, StackEvent } from '@aws-sdk/client-cloudformation';
import { DeployError } from './errors.ts';
import { failures, finishedResources, isSettled, succeeded } from './stack-events.ts';
import type { ResourceFailure } from './stack-events.ts';
import { stackParameters } from './stack-parameters.ts';
import type { DeclaredParameters } from './stack-parameters.ts';

/** What to deploy, and how to report. */
export interface DeployRequest {
  stackName: string;
  /** The template: its text, or the S3 URL of a template too large to send (over 51,200 bytes). */
  template: { body: string } | { url: string };
  /** The template's `Parameters` section, to match `parameters` against it. */
  declaredParameters: DeclaredParameters;
  /** `--parameter name=value` arguments: a spec parameter's name or its template name. */
  parameters: ReadonlyMap<string, string>;
  /** False for `--no-execute`: create the change set, show it, leave it for review. */
  execute: boolean;
  /** Receives each line of progress. */
  out: (line: string) => void;
  /** Pause between polls of the change set and the stack; 2 s unless set (tests against moto use 0). */
  pollMilliseconds?: number;
  /** How long to follow the stack before giving up (it goes on without us); 2 hours unless set. */
  timeoutMilliseconds?: number;
  /** Defaults to `ingest-<UTC time>`, which sorts and says when it was made. */
  changeSetName?: string;
}

/** How a deploy ended. Every outcome but `failed` exits 0. */
export type DeployOutcome =
  | { status: 'no-changes'; changeSetName: string }
  | { status: 'not-executed'; changeSetName: string; changes: Change[] }
  | { status: 'succeeded'; stackStatus: string; changes: Change[] }
  | { status: 'failed'; stackStatus: string; failures: ResourceFailure[] };

const CHANGE_SET_EMPTY = /didn't contain changes|No updates are to be performed/i;
const CHANGE_SET_REFUSALS = new Set(['ValidationError', 'InsufficientCapabilitiesException', 'AlreadyExistsException', 'LimitExceededException']);

/**
 * Creates a change set for `request.template` (CREATE when the stack does not exist or has never
 * been executed, UPDATE otherwise, with `CAPABILITY_IAM` since the template makes the function's
 * role), waits for it, prints its changes as a table, and, unless `execute` is false, executes it
 * and prints the stack's events until the stack settles. A change set without changes is deleted
 * and reported as `no-changes`. A stack that fails (or rolls back) resolves to `failed` with the
 * failed resources and their reasons, already printed. Throws `DeployError` when the parameters do
 * not fit the template, the change set cannot be created, or the stack does not settle in time;
 * AWS errors other than these (no credentials, no region) propagate as the SDK throws them.
 */
export async function deployStack(cloudFormation: CloudFormationClient, request: DeployRequest): Promise<DeployOutcome> {
  const poll = request.pollMilliseconds ?? 2_000;
  const deadline = Date.now() + (request.timeoutMilliseconds ?? 2 * 60 * 60 * 1000);
  const changeSetName = request.changeSetName ?? `ingest-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*/, '')}`;
  const stack = await describeStack(cloudFormation, request.stackName);
  // A stack whose first change set was never executed is still waiting to be created.
  const changeSetType = stack === undefined || stack.StackStatus === 'REVIEW_IN_PROGRESS' ? 'CREATE' : 'UPDATE';
  const previous = changeSetType === 'UPDATE' ? new Set((stack?.Parameters ?? []).flatMap((parameter) => (parameter.ParameterKey ? [parameter.ParameterKey] : []))) : undefined;
  const parameters = stackParameters(request.declaredParameters, request.parameters, previous);

  let stackId: string;
  try {
    const created = await cloudFormation.send(new CreateChangeSetCommand({
      StackName: request.stackName,
      ChangeSetName: changeSetName,
      ChangeSetType: changeSetType,
      ...('body' in request.template ? { TemplateBody: request.template.body } : { TemplateURL: request.template.url }),
      Parameters: parameters,
      Capabilities: ['CAPABILITY_IAM'],
      Description: 'ingest deploy',
    }));
    // From here on the stack is named by its id: a name can stand for an older stack (deleted, or left under review).
    stackId = created.StackId ?? request.stackName;
  } catch (error) {
    const message = (error as Error).message;
    // Some CloudFormation implementations refuse an empty change set outright instead of failing it.
    if ((error as Error).name === 'ValidationError' && CHANGE_SET_EMPTY.test(message)) return noChanges(request, changeSetName);
    // CloudFormation's word on the template or the stack (invalid template, stack busy or rolled back) is the user's to act on.
    if (!CHANGE_SET_REFUSALS.has((error as Error).name)) throw error;
    throw new DeployError('change-set-failed', `cannot create a change set for stack ${request.stackName}: ${message}`, { cause: error });
  }
  request.out(`${changeSetType === 'CREATE' ? 'creating' : 'updating'} stack ${request.stackName}: change set ${changeSetName}`);

  const created = await settledChangeSet(cloudFormation, stackId, changeSetName, poll, deadline);
  if (created.status === 'FAILED' && !CHANGE_SET_EMPTY.test(created.reason)) {
    throw new DeployError('change-set-failed', `the change set for stack ${request.stackName} failed: ${created.reason}`);
  }
  if (created.status === 'FAILED' || created.changes.length === 0) {
    await cloudFormation.send(new DeleteChangeSetCommand({ StackName: stackId, ChangeSetName: changeSetName }));
    return noChanges(request, changeSetName);
  }
  for (const line of changeTable(created.changes)) request.out(line);

  if (!request.execute) {
    request.out(`change set ${changeSetName} created and not executed (--no-execute); review it, then run:`);
    request.out(`  aws cloudformation execute-change-set --stack-name ${request.stackName} --change-set-name ${changeSetName}`);
    return { status: 'not-executed', changeSetName, changes: created.changes };
  }

  // Events before this one belong to earlier deploys.
  const lastBefore = (await cloudFormation.send(new DescribeStackEventsCommand({ StackName: stackId }))).StackEvents?.[0]?.EventId;
  try {
    await cloudFormation.send(new ExecuteChangeSetCommand({ StackName: stackId, ChangeSetName: changeSetName }));
  } catch (error) {
    // CloudFormation reports resource failures as events; emulators that create resources inside ExecuteChangeSet throw them here.
    const reason = (error as Error).message || (error as Error).name;
    request.out(`stack ${request.stackName} failed: the change set could not be executed: ${reason}`);
    const stackStatus = (await describeStack(cloudFormation, stackId))?.StackStatus ?? 'UNKNOWN';
    const failed = failures(await eventsSince(cloudFormation, stackId, lastBefore));
    const reported = failed.length > 0 ? failed : [{ logicalId: request.stackName, type: 'AWS::CloudFormation::Stack', status: 'EXECUTE_FAILED', reason }];
    for (const line of failureLines(reported)) request.out(line);
    return { status: 'failed', stackStatus, failures: reported };
  }

  const events: StackEvent[] = [];
  const printNewEvents = async () => {
    for (const event of (await eventsSince(cloudFormation, stackId, lastBefore)).slice(events.length)) {
      events.push(event);
      request.out(eventLine(event, finishedResources(events), created.changes.length));
    }
  };
  let polls = 0;
  for (;;) {
    await printNewEvents();
    const status = (await describeStack(cloudFormation, stackId))?.StackStatus ?? 'DELETE_COMPLETE';
    // Right after ExecuteChangeSet a stack can still show the status of its last deploy: trust a
    // settled status only once the stack has logged that this execution started (or, should it log
    // nothing, after a minute of polls).
    const started = events.some((event) => event.ResourceType === 'AWS::CloudFormation::Stack' && event.LogicalResourceId === request.stackName) || ++polls > 30;
    if (started && isSettled(status)) {
      // The events that led to the final status may land after it; read them once more.
      await printNewEvents();
      if (succeeded(status)) {
        request.out(`stack ${request.stackName}: ${status}`);
        return { status: 'succeeded', stackStatus: status, changes: created.changes };
      }
      const failed = failures(events);
      request.out(`stack ${request.stackName} failed: ${status}`);
      for (const line of failureLines(failed)) request.out(line);
      return { status: 'failed', stackStatus: status, failures: failed };
    }
    if (Date.now() > deadline) throw new DeployError('timed-out', `stack ${request.stackName} is still ${status}; it goes on without ingest: follow it with aws cloudformation describe-stack-events --stack-name ${request.stackName}`);
    await sleep(poll);
  }
}

function noChanges(request: DeployRequest, changeSetName: string): DeployOutcome {
  request.out(`no changes: stack ${request.stackName} already matches the template`);
  return { status: 'no-changes', changeSetName };
}

/** The change summary: one row per change, with the columns the console shows. */
export function changeTable(changes: readonly Change[]): string[] {
  const rows = changes.map((change) => {
    const resource = change.ResourceChange ?? {};
    // Replacement only means something for a modification; an addition or removal is one by definition.
    const replacement = resource.Action === 'Modify' ? (resource.Replacement ?? '-') : '-';
    return [resource.Action ?? change.Type ?? '?', resource.LogicalResourceId ?? '?', resource.ResourceType ?? '?', replacement];
  });
  const header = ['Action', 'Logical id', 'Type', 'Replacement'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
}

function eventLine(event: StackEvent, finished: number, total: number): string {
  const time = event.Timestamp?.toISOString().slice(11, 19) ?? '--:--:--';
  const reason = event.ResourceStatusReason ? `  ${event.ResourceStatusReason}` : '';
  // Padded to the common statuses and types so that a run of events reads as columns; longer ones push the line out.
  return `${time}  [${finished}/${total}]  ${(event.ResourceStatus ?? '?').padEnd(20)}  ${(event.ResourceType ?? '?').padEnd(32)}  ${event.LogicalResourceId ?? '?'}${reason}`;
}

function failureLines(failed: readonly ResourceFailure[]): string[] {
  return failed.length === 0 ? ['  (CloudFormation reported no failed resource)'] : failed.map((failure) => `  ${failure.logicalId} (${failure.type}) ${failure.status}: ${failure.reason}`);
}

/** The stack, or `undefined` when there is none of that name. */
async function describeStack(cloudFormation: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    return (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** The change set once it stops being created, with all its changes. */
async function settledChangeSet(cloudFormation: CloudFormationClient, stackName: string, changeSetName: string, poll: number, deadline: number): Promise<{ status: string; reason: string; changes: Change[] }> {
  for (;;) {
    const changes: Change[] = [];
    let nextToken: string | undefined;
    let status: string;
    let reason: string;
    do {
      const page = await cloudFormation.send(new DescribeChangeSetCommand({ StackName: stackName, ChangeSetName: changeSetName, ...(nextToken ? { NextToken: nextToken } : {}) }));
      status = page.Status ?? 'UNKNOWN';
      reason = page.StatusReason ?? '';
      changes.push(...(page.Changes ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    if (status !== 'CREATE_PENDING' && status !== 'CREATE_IN_PROGRESS') return { status, reason, changes };
    if (Date.now() > deadline) throw new DeployError('timed-out', `the change set ${changeSetName} is still ${status}`);
    await sleep(poll);
  }
}

/** The stack's events after the one with id `after` (all of them when it is undefined), oldest first. */
async function eventsSince(cloudFormation: CloudFormationClient, stackName: string, after: string | undefined): Promise<StackEvent[]> {
  const newestFirst: StackEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await cloudFormation.send(new DescribeStackEventsCommand({ StackName: stackName, ...(nextToken ? { NextToken: nextToken } : {}) }));
    for (const event of page.StackEvents ?? []) {
      if (event.EventId === after) return newestFirst.reverse();
      newestFirst.push(event);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return newestFirst.reverse();
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}
