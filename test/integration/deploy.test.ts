import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudFormationClient, DescribeChangeSetCommand, DescribeStackResourcesCommand, DescribeStacksCommand, GetTemplateCommand, ListChangeSetsCommand } from '@aws-sdk/client-cloudformation';
import { CreateStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployStack } from '../../generator/deploy/deploy-stack.ts';
import type { DeployRequest } from '../../generator/deploy/deploy-stack.ts';
import { DeployError } from '../../generator/deploy/errors.ts';
import { INLINE_TEMPLATE_BYTES, templateLocation } from '../../generator/deploy/template-location.ts';
import { awsClientConfig, motoEndpoint } from '../support/env.ts';

// deployStack against moto's CloudFormation, which creates the resource types it knows (queues
// here) and runs each change set to the end inside ExecuteChangeSet.

const cloudFormation = new CloudFormationClient(awsClientConfig());
const sqs = new SQSClient(awsClientConfig());
const suffix = randomUUID().slice(0, 8);
let stacks = 0;

const work = mkdtempSync(join(tmpdir(), 'ingest-deploy-test-'));

afterAll(() => {
  cloudFormation.destroy();
  sqs.destroy();
  rmSync(work, { recursive: true, force: true });
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
    expect(deploy.lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d  \\[\\d+/1\\]  CREATE_COMPLETE +AWS::CloudFormation::Stack +${stack}$`)));
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

describe('templateLocation', () => {
  it('sends a template that fits inline as its text', async () => {
    const s3 = new S3Client(awsClientConfig());
    const body = queueTemplate('small', 30);

    expect(await templateLocation(body, s3, 'no-bucket-needed')).toEqual({ body });
    s3.destroy();
  });

  it('uploads a template too large to send inline, and CloudFormation creates the stack from its URL', async () => {
    const s3 = new S3Client(awsClientConfig());
    const bucket = `deploy-templates-${suffix}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const { stack, queue } = names();
    const body = queueTemplate(queue, 45).replace('"Resources"', `"Metadata":{"Padding":"${'x'.repeat(INLINE_TEMPLATE_BYTES)}"},"Resources"`);

    const template = await templateLocation(body, s3, bucket, 'templates');
    const outcome = await deployStack(cloudFormation, { ...request(stack, body), template });

    expect(template).toEqual({ url: expect.stringMatching(new RegExp(`^https://s3\\.us-east-1\\.amazonaws\\.com/${bucket}/templates/[0-9a-f]{64}\\.template\\.yaml$`)) });
    expect(outcome).toMatchObject({ status: 'succeeded', stackStatus: 'CREATE_COMPLETE' });
    expect(await queueAttributes(queue)).toMatchObject({ VisibilityTimeout: '45' });
    s3.destroy();
  });
});

describe('ingest deploy', { timeout: 120_000 }, () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const stream = `deploy-orders-${suffix}`;
  const codeBucket = `deploy-code-${suffix}`;
  const stack = `deploy-cli-${suffix}`;
  const spec = (batchSize: number, streamName = stream) => `version: 1
name: deployed
dead_letter: { bucket: deploy-errors-${suffix} }
sources:
  orders: { type: kinesis, stream: ${streamName}, batch: { max_records: ${batchSize} } }
sinks:
  out: { type: s3, inputs: [orders], bucket: deploy-out-${suffix}, key: "orders/" }
`;
  /** Credentials and region for moto, and nothing else of the AWS environment of this process. */
  const credentials = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };

  /** The binary in a child process, with `environment` as the only AWS settings. */
  function ingest(argv: string[], environment: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
    return new Promise((resolvePromise, reject) => {
      const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'cli', 'ingest.ts'), ...argv], { cwd: work, env: { ...inherited, ...environment }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    });
  }

  beforeAll(async () => {
    const kinesis = new KinesisClient(awsClientConfig());
    const s3 = new S3Client(awsClientConfig());
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await s3.send(new CreateBucketCommand({ Bucket: codeBucket }));
    kinesis.destroy();
    s3.destroy();
    writeFileSync(join(work, 'v1.yaml'), spec(100));
    writeFileSync(join(work, 'v2.yaml'), spec(250));
    writeFileSync(join(work, 'missing-stream.yaml'), spec(100, `no-such-stream-${suffix}`));
  });

  it('packages, uploads and creates the stack, printing sizes, the change table and CREATE_COMPLETE', async () => {
    const run = await ingest(['deploy', 'v1.yaml', '--stack-name', stack, '--bucket', codeBucket, '--prefix', 'functions', '--endpoint', motoEndpoint()], credentials);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ {2}bundle +[\d.]+ KiB$/m);
    const key = /^uploaded s3:\/\/[^/]+\/(functions\/[0-9a-f]{64}\.zip)$/m.exec(run.stdout)?.[1];
    expect(key).toBeDefined();
    expect(run.stdout).toMatch(/^Action +Logical id +Type +Replacement$/m);
    expect(run.stdout).toMatch(/^Add +Function +AWS::Lambda::Function +-$/m);
    expect(run.stdout).toMatch(/^Add +OrdersMapping +AWS::Lambda::EventSourceMapping +-$/m);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(`stack ${stack}: CREATE_COMPLETE`);
    expect(await stackStatus(stack)).toBe('CREATE_COMPLETE');
    const template = parse((await cloudFormation.send(new GetTemplateCommand({ StackName: stack }))).TemplateBody!) as { Resources: { Function: { Properties: { Code: unknown } } } };
    expect(template.Resources.Function.Properties.Code).toEqual({ S3Bucket: codeBucket, S3Key: key });
    const s3 = new S3Client(awsClientConfig());
    expect((await s3.send(new HeadObjectCommand({ Bucket: codeBucket, Key: key }))).ContentLength).toBeGreaterThan(0);
    s3.destroy();
    const resources = await cloudFormation.send(new DescribeStackResourcesCommand({ StackName: stack }));
    expect((resources.StackResources ?? []).map((resource) => resource.ResourceType)).toEqual(expect.arrayContaining(['AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::Lambda::EventSourceMapping']));
  });

  it('deploys the same spec again as no changes, reaching AWS through AWS_PROFILE and AWS_ENDPOINT_URL', async () => {
    const config = join(work, 'aws-config');
    writeFileSync(config, '[profile ingest-test]\nregion = us-east-1\n');
    writeFileSync(join(work, 'aws-credentials'), '[ingest-test]\naws_access_key_id = testing\naws_secret_access_key = testing\n');

    const run = await ingest(['deploy', 'v1.yaml', '--stack-name', stack, '--bucket', codeBucket, '--prefix', 'functions'], {
      AWS_PROFILE: 'ingest-test',
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'aws-credentials'),
      AWS_ENDPOINT_URL: motoEndpoint(),
    });

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^already uploaded \(same content\) s3:\/\//m);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(`no changes: stack ${stack} already matches the template`);
  });

  it('with --no-execute, prints the update and leaves its change set for review', async () => {
    const run = await ingest(['deploy', 'v2.yaml', '--stack-name', stack, '--bucket', codeBucket, '--no-execute', '--endpoint', motoEndpoint()], credentials);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Modify +OrdersMapping +AWS::Lambda::EventSourceMapping /m);
    const changeSetName = /--change-set-name (ingest-[\d-]+)$/m.exec(run.stdout)?.[1];
    const changeSet = await cloudFormation.send(new DescribeChangeSetCommand({ StackName: stack, ChangeSetName: changeSetName }));
    expect(changeSet).toMatchObject({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE' });
    expect(await stackStatus(stack)).toBe('CREATE_COMPLETE');
  });

  it('exits 1 with the reason when the stack cannot be created, and without a stack trace', async () => {
    const run = await ingest(['deploy', 'missing-stream.yaml', '--stack-name', `${stack}-failing`, '--bucket', codeBucket, '--endpoint', motoEndpoint()], credentials);

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^stack ${stack}-failing failed: `, 'm'));
    expect(run.stdout + run.stderr).not.toMatch(/^ {4}at /m);
  });

  it('exits 2 with one line when no region is configured', async () => {
    const run = await ingest(['deploy', 'v1.yaml', '--stack-name', stack, '--bucket', codeBucket, '--endpoint', motoEndpoint()], { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_CONFIG_FILE: join(work, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials') });

    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^ingest deploy: no AWS region: set AWS_REGION, or a region in the profile AWS_PROFILE names$/m);
  });
});
