import { randomUUID } from 'node:crypto';
import { CloudFormationClient, DescribeChangeSetCommand, DescribeStacksCommand, ListChangeSetsCommand } from '@aws-sdk/client-cloudformation';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { deployStack } from '../../generator/deploy/deploy-stack.ts';
import type { DeployRequest } from '../../generator/deploy/deploy-stack.ts';
import { DeployError } from '../../generator/deploy/errors.ts';
import { awsClientConfig } from '../support/env.ts';

// deployStack against moto's CloudFormation, which creates the resource types it knows (queues
// here) and runs each change set to the end inside ExecuteChangeSet.

const cloudFormation = new CloudFormationClient(awsClientConfig());
const sqs = new SQSClient(awsClientConfig());
const suffix = randomUUID().slice(0, 8);
let stacks = 0;

afterAll(() => {
  cloudFormation.destroy();
  sqs.destroy();
});

/** A template of one queue, with its visibility timeout and the spec parameter `retention` (a template name `Retention`). */
function queueTemplate(queueName: string, visibilitySeconds: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    AWSTemplateFormatVersion: '2010-09-09',
    Parameters: { Retention: { Type: 'String', Default: '345600' } },
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: queueName, VisibilityTimeout: visibilitySeconds, MessageRetentionPeriod: { Ref: 'Retention' } } },
      ...extra,
    },
  });
}

function request(stackName: string, body: string, overrides: Partial<DeployRequest> = {}): DeployRequest & { lines: string[] } {
  const lines: string[] = [];
  return {
    stackName,
    template: { body },
    declaredParameters: (JSON.parse(body) as { Parameters?: DeployRequest['declaredParameters'] }).Parameters ?? {},
    parameters: new Map(),
    execute: true,
    out: (line) => lines.push(line),
    pollMilliseconds: 0,
    lines,
    ...overrides,
  };
}

function names() {
  const index = stacks++;
  return { stack: `deploy-${suffix}-${index}`, queue: `deploy-${suffix}-${index}-queue` };
}

async function queueAttributes(queueName: string): Promise<Record<string, string>> {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
  return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
}

async function stackStatus(stackName: string): Promise<string | undefined> {
  return (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.StackStatus;
}

describe('deployStack', () => {
  it('creates a new stack through a CREATE change set, printing the change summary, until CREATE_COMPLETE', async () => {
    const { stack, queue } = names();
    const deploy = request(stack, queueTemplate(queue, 45));

    const outcome = await deployStack(cloudFormation, deploy);

    expect(outcome).toMatchObject({ status: 'succeeded', stackStatus: 'CREATE_COMPLETE' });
    expect(await stackStatus(stack)).toBe('CREATE_COMPLETE');
    expect(await queueAttributes(queue)).toMatchObject({ VisibilityTimeout: '45', MessageRetentionPeriod: '345600' });
    expect(deploy.lines[0]).toMatch(new RegExp(`^creating stack ${stack}: change set ingest-\\d{8}-\\d{6}$`));
    expect(deploy.lines.slice(1, 4)).toEqual([
      'Action  Logical id  Type             Replacement',
      '------  ----------  ---------------  -----------',
      'Add     Queue       AWS::SQS::Queue  -',
    ]);
    expect(deploy.lines).toContainEqual(expect.stringMatching(/\[\d+\/1\]  CREATE_COMPLETE  AWS::CloudFormation::Stack  /));
    expect(deploy.lines.at(-1)).toBe(`stack ${stack}: CREATE_COMPLETE`);
  });

  it('updates an existing stack through an UPDATE change set until UPDATE_COMPLETE, keeping parameters not given', async () => {
    const { stack, queue } = names();
    await deployStack(cloudFormation, request(stack, queueTemplate(queue, 45), { parameters: new Map([['retention', '86400']]) }));
    const update = request(stack, queueTemplate(queue, 90));

    const outcome = await deployStack(cloudFormation, update);

    expect(outcome).toMatchObject({ status: 'succeeded', stackStatus: 'UPDATE_COMPLETE' });
    expect(update.lines[0]).toMatch(new RegExp(`^updating stack ${stack}: `));
    expect(update.lines).toContain('Modify  Queue       AWS::SQS::Queue  -');
    expect(await queueAttributes(queue)).toMatchObject({ VisibilityTimeout: '90', MessageRetentionPeriod: '86400' });
  });

  it('passes --parameter values under the spec name or the template name', async () => {
    const { stack, queue } = names();

    await deployStack(cloudFormation, request(stack, queueTemplate(queue, 30), { parameters: new Map([['Retention', '7200']]) }));

    expect(await queueAttributes(queue)).toMatchObject({ MessageRetentionPeriod: '7200' });
  });

  it('with execute false, creates the change set, prints it and leaves it unexecuted', async () => {
    const { stack, queue } = names();
    const review = request(stack, queueTemplate(queue, 45), { execute: false, changeSetName: 'review-me' });

    const outcome = await deployStack(cloudFormation, review);

    expect(outcome).toMatchObject({ status: 'not-executed', changeSetName: 'review-me' });
    expect(await stackStatus(stack)).toBe('REVIEW_IN_PROGRESS');
    const changeSet = await cloudFormation.send(new DescribeChangeSetCommand({ StackName: stack, ChangeSetName: 'review-me' }));
    expect(changeSet).toMatchObject({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE' });
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).rejects.toThrow();
    expect(review.lines).toContain('Add     Queue       AWS::SQS::Queue  -');
    expect(review.lines.at(-1)).toBe(`  aws cloudformation execute-change-set --stack-name ${stack} --change-set-name review-me`);
  });

  it('creates a stack whose first change set was never executed, on the next deploy', async () => {
    const { stack, queue } = names();
    await deployStack(cloudFormation, request(stack, queueTemplate(queue, 45), { execute: false }));

    const outcome = await deployStack(cloudFormation, request(stack, queueTemplate(queue, 45), { changeSetName: 'second' }));

    expect(outcome).toMatchObject({ status: 'succeeded', stackStatus: 'CREATE_COMPLETE' });
  });

  it('reports a deploy of the same template as no changes, and deletes the empty change set', async () => {
    const { stack, queue } = names();
    await deployStack(cloudFormation, request(stack, queueTemplate(queue, 45)));
    const again = request(stack, queueTemplate(queue, 45), { changeSetName: 'nothing-new' });

    const outcome = await deployStack(cloudFormation, again);

    expect(outcome).toEqual({ status: 'no-changes', changeSetName: 'nothing-new' });
    expect(again.lines.at(-1)).toBe(`no changes: stack ${stack} already matches the template`);
    const listed = await cloudFormation.send(new ListChangeSetsCommand({ StackName: stack }));
    expect((listed.Summaries ?? []).map((summary) => summary.ChangeSetName)).not.toContain('nothing-new');
  });

  it('fails with the reason when the stack cannot be created, and the stack does not pretend to be complete', async () => {
    const { stack, queue } = names();
    const failing = request(stack, queueTemplate(queue, 45, { Broken: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'not a queue name!' } } }));

    const outcome = await deployStack(cloudFormation, failing);

    expect(outcome).toMatchObject({ status: 'failed', failures: [expect.objectContaining({ reason: expect.stringContaining('Can only include alphanumeric characters') })] });
    expect(await stackStatus(stack)).not.toMatch(/_COMPLETE$/);
    expect(failing.lines).toContainEqual(expect.stringMatching(new RegExp(`^stack ${stack} failed: `)));
    expect(failing.lines).toContainEqual(expect.stringContaining('Can only include alphanumeric characters'));
  });

  it('refuses, before asking CloudFormation, a parameter the template does not have or a required one not given', async () => {
    const { stack, queue } = names();
    const required = queueTemplate(queue, 45).replace('"Default":"345600"', '"Description":"no default"');

    await expect(deployStack(cloudFormation, request(stack, queueTemplate(queue, 45), { parameters: new Map([['retension', '1']]) }))).rejects.toThrow('the template has no parameter retension; it has Retention');
    await expect(deployStack(cloudFormation, request(stack, required))).rejects.toThrow('give a value to --parameter Retention=<value>');
    await expect(deployStack(cloudFormation, request(stack, required))).rejects.toBeInstanceOf(DeployError);
    await expect(cloudFormation.send(new DescribeStacksCommand({ StackName: stack }))).rejects.toThrow(/does not exist/);
  });
});
