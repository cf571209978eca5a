import { randomUUID } from 'node:crypto';
import { CloudFormationClient, CreateStackCommand, DescribeStackResourcesCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeRuleCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import { generateTemplate } from '../../generator/template.ts';
import { awsClientConfig, motoEndpoint } from '../support/env.ts';

// The stack a spec with every form of the source and sink modules generates, deployed into moto's
// CloudFormation, and read back through the service APIs: what moto creates must carry the
// settings the spec asked for. moto skips the resource types it does not know (alarms, bucket and
// queue policies among them), so only what it creates is asserted.

const suffix = randomUUID().slice(0, 8);
const stackName = `modules-${suffix}`;
const clients = {
  cloudFormation: new CloudFormationClient(awsClientConfig()),
  dynamodb: new DynamoDBClient(awsClientConfig()),
  events: new EventBridgeClient(awsClientConfig()),
  kinesis: new KinesisClient(awsClientConfig()),
  s3: new S3Client(awsClientConfig()),
  sqs: new SQSClient(awsClientConfig()),
};
const TIMEOUT_SECONDS = 120;

interface Mapping {
  EventSourceArn: string;
  BatchSize?: number;
  MaximumBatchingWindowInSeconds?: number;
  ParallelizationFactor?: number;
  BisectBatchOnFunctionError?: boolean;
  MaximumRetryAttempts?: number;
  MaximumRecordAgeInSeconds?: number;
  StartingPosition?: string;
  FunctionResponseTypes?: string[];
  FilterCriteria?: { Filters: { Pattern: string }[] };
  DestinationConfig?: { OnFailure?: { Destination?: string } };
}

let physical: Map<string, string>;
let mappings: Mapping[];
let streamArns: { named: string; parameter: string; table: string };

beforeAll(async () => {
  const named = `orders-${suffix}`;
  const parameter = `param-${suffix}`;
  for (const stream of [named, parameter]) await clients.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  const table = await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: `users-${suffix}`,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
  streamArns = { named: `arn:aws:kinesis:us-east-1:123456789012:stream/${named}`, parameter: `arn:aws:kinesis:us-east-1:123456789012:stream/${parameter}`, table: table.TableDescription!.LatestStreamArn! };
  await clients.s3.send(new CreateBucketCommand({ Bucket: `code-${suffix}` }));
  await clients.s3.send(new PutObjectCommand({ Bucket: `code-${suffix}`, Key: 'function.zip', Body: Buffer.from('504b0506000000000000000000000000000000000000', 'hex') }));

  const spec = applyDefaults({
    version: 1,
    name: 'modules',
    runtime: { timeout_seconds: 60 },
    parameters: { orders_stream: { type: 'string' }, users_stream: { type: 'string' } },
    sources: {
      by_parameter: {
        type: 'kinesis',
        stream: '${param.orders_stream}',
        batch: { max_records: 500, max_seconds: 5 },
        parallelization: 3,
        retry: { max_attempts: 3, max_record_age_seconds: 600, bisect_on_error: true },
        filter: [{ data: { kind: ['order'] } }],
      },
      by_name: { type: 'kinesis', stream: named, starting_position: 'trim_horizon' },
      created: { type: 'kinesis', stream: `made-${suffix}`, create: { shards: 2 } },
      users: { type: 'dynamodb', stream_arn: '${param.users_stream}', events: ['insert', 'remove'] },
      drops: { type: 's3', bucket: `drops-${suffix}`, prefix: 'in/', suffix: '.jsonl', create: true },
    },
    sinks: { archive: { type: 's3', inputs: ['by_name'], bucket: `archive-${suffix}`, key: 'out/{{record.kind}}/', create: true } },
  });
  const template = generateTemplate(spec, { code: { bucket: `code-${suffix}`, key: 'function.zip' } });
  await clients.cloudFormation.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: JSON.stringify(template),
      Parameters: [
        { ParameterKey: 'OrdersStream', ParameterValue: streamArns.parameter },
        { ParameterKey: 'UsersStream', ParameterValue: streamArns.table },
      ],
      Capabilities: ['CAPABILITY_IAM'],
    }),
  );
  const status = await settledStatus();
  expect(status).toBe('CREATE_COMPLETE');
  const resources = await clients.cloudFormation.send(new DescribeStackResourcesCommand({ StackName: stackName }));
  physical = new Map((resources.StackResources ?? []).map((resource) => [resource.LogicalResourceId!, resource.PhysicalResourceId!]));
  mappings = await eventSourceMappings(physical.get('Function')!);
}, TIMEOUT_SECONDS * 1000);

afterAll(() => {
  for (const client of Object.values(clients)) client.destroy();
});

async function settledStatus(): Promise<string | undefined> {
  for (let attempt = 0; attempt < TIMEOUT_SECONDS; attempt++) {
    const status = (await clients.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]?.StackStatus;
    if (status !== undefined && !status.endsWith('_IN_PROGRESS')) return status;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return undefined;
}

// No Lambda client is installed; moto does not check signatures, only the region in the header.
async function eventSourceMappings(functionName: string): Promise<Mapping[]> {
  const response = await fetch(`${motoEndpoint()}/2015-03-31/event-source-mappings/?FunctionName=${encodeURIComponent(functionName)}`, {
    headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0' },
  });
  if (!response.ok) throw new Error(`ListEventSourceMappings: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { EventSourceMappings: Mapping[] }).EventSourceMappings;
}

/** The statements of the function role's inline policy, as IAM stores them (intrinsics resolved). */
async function roleStatements(): Promise<{ Sid?: string; Action: string[]; Resource: string[] | string }[]> {
  const response = await fetch(motoEndpoint(), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0' },
    body: new URLSearchParams({ Action: 'GetRolePolicy', Version: '2010-05-08', RoleName: physical.get('FunctionRole')!, PolicyName: 'ingest-function' }).toString(),
  });
  const body = await response.text();
  const document = /<PolicyDocument>([\s\S]*?)<\/PolicyDocument>/.exec(body)?.[1];
  if (!response.ok || document === undefined) throw new Error(`GetRolePolicy: HTTP ${response.status} ${body}`);
  const text = decodeURIComponent(document.replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
  // moto answers a policy written through CloudFormation as a Python literal; its strings here hold no quotes.
  const json = text.startsWith("{'") ? text.replace(/'/g, '"').replace(/\bTrue\b/g, 'true').replace(/\bFalse\b/g, 'false') : text;
  return (JSON.parse(json) as { Statement: { Sid?: string; Action: string[]; Resource: string[] | string }[] }).Statement;
}

function mappingOf(eventSourceArn: string): Mapping {
  const mapping = mappings.find((candidate) => candidate.EventSourceArn === eventSourceArn);
  if (!mapping) throw new Error(`no mapping reads ${eventSourceArn}; mappings read ${mappings.map((candidate) => candidate.EventSourceArn).join(', ')}`);
  return mapping;
}

async function queueAttributes(logicalId: string): Promise<Record<string, string>> {
  return (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: physical.get(logicalId)!, AttributeNames: ['All'] }))).Attributes ?? {};
}

describe('the generated stack of every source and sink form, deployed into moto', () => {
  it('maps a kinesis stream given as a parameter holding an ARN, with every option of the spec', async () => {
    const failedQueue = await queueAttributes('ByParameterFailedQueue');

    expect(mappingOf(streamArns.parameter)).toMatchObject({
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 5,
      ParallelizationFactor: 3,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 600,
      StartingPosition: 'LATEST',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: { Filters: [{ Pattern: '{"data":{"kind":["order"]}}' }] },
      DestinationConfig: { OnFailure: { Destination: failedQueue.QueueArn } },
    });
  });

  it('maps a kinesis stream given by name, in the stack\'s account and region', () => {
    expect(mappingOf(streamArns.named)).toMatchObject({ StartingPosition: 'TRIM_HORIZON', FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  it('creates the stream a source asks for and maps it', () => {
    expect(mappingOf(`arn:aws:kinesis:us-east-1:123456789012:stream/made-${suffix}`)).toMatchObject({ BatchSize: 100 });
  });

  it('maps a dynamodb stream with a filter of the change kinds it reads', () => {
    expect(mappingOf(streamArns.table)).toMatchObject({ FilterCriteria: { Filters: [{ Pattern: '{"eventName":["INSERT","REMOVE"]}' }] }, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  it('feeds an s3 source from its queue, redriving to a dead-letter queue, with a rule for its bucket, prefix and suffix', async () => {
    const queue = await queueAttributes('DropsQueue');
    const deadLetters = await queueAttributes('DropsDeadLetterQueue');
    const rule = await clients.events.send(new DescribeRuleCommand({ Name: physical.get('DropsRule')! }));

    expect(mappingOf(queue.QueueArn!)).toMatchObject({ BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(queue.VisibilityTimeout).toBe('360');
    expect(JSON.parse(queue.RedrivePolicy!)).toEqual({ deadLetterTargetArn: deadLetters.QueueArn, maxReceiveCount: 5 });
    expect(JSON.parse(rule.EventPattern!)).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [`drops-${suffix}`] }, object: { key: [{ wildcard: 'in/*.jsonl' }] } },
    });
  });

  it('lets the role read exactly the streams and objects the spec names, with parameters filled in', async () => {
    const statements = new Map((await roleStatements()).map((statement) => [statement.Sid, [statement.Resource].flat()]));

    expect(statements.get('ByParameterRead')).toEqual([streamArns.parameter]);
    expect(statements.get('ByNameRead')).toEqual([streamArns.named]);
    expect(statements.get('UsersRead')).toEqual([streamArns.table]);
    expect(statements.get('DropsReadObjects')).toEqual([`arn:aws:s3:::drops-${suffix}/in/*`]);
    expect(statements.get('ArchiveWriteObjects')).toEqual([`arn:aws:s3:::archive-${suffix}/out/*`]);
  });

  it('creates the buckets a source and a sink ask for, under the names the spec gives', () => {
    expect(physical.get('DropsBucket')).toBe(`drops-${suffix}`);
    expect(physical.get('ArchiveBucket')).toBe(`archive-${suffix}`);
  });
});
