import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CfnValue, Contribution } from '../../../generator/contribution.ts';
import { SOURCE_GENERATORS } from '../../../generator/registry.ts';
import { SOURCE_TYPES, type Source } from '../../../engine/spec/spec-types.ts';
import { contributionOfSource, resourceOf, statementOf } from '../../support/generator-context.ts';

const STREAM_ARN = 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders';
const TABLE_STREAM = 'arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2026-01-01T00:00:00.000';
const kinesis = (fields: Record<string, unknown> = {}): Source => ({ type: 'kinesis', stream: STREAM_ARN, ...fields }) as Source;
const dynamodb = (fields: Record<string, unknown> = {}): Source => ({ type: 'dynamodb', stream_arn: TABLE_STREAM, ...fields }) as Source;
const s3 = (fields: Record<string, unknown> = {}): Source => ({ type: 's3', bucket: 'acme-raw', prefix: 'clicks/', ...fields }) as Source;

function schemaProperties(type: string): string[] {
  return Object.keys(JSON.parse(readFileSync(new URL(`../../../schemas/sources/${type}.json`, import.meta.url), 'utf8')).properties);
}

describe('the source generator registry', () => {
  it('has a module for every source type, registered under its own type', () => {
    expect(Object.keys(SOURCE_GENERATORS).sort()).toEqual([...SOURCE_TYPES].sort());
    for (const [type, generator] of Object.entries(SOURCE_GENERATORS)) expect(generator.type).toBe(type);
  });
});

// Each option of a stream source and the mapping property it sets. Together with the list of
// options the runtime reads, it must cover every property of the schema fragment (checked below).
const STREAM_OPTIONS: { option: string; fields: Record<string, unknown>; property: string; expected: CfnValue }[] = [
  { option: 'batch', fields: { batch: { max_records: 500 } }, property: 'BatchSize', expected: 500 },
  { option: 'batch', fields: { batch: { max_seconds: 10 } }, property: 'MaximumBatchingWindowInSeconds', expected: 10 },
  { option: 'parallelization', fields: { parallelization: 4 }, property: 'ParallelizationFactor', expected: 4 },
  { option: 'starting_position', fields: { starting_position: 'trim_horizon' }, property: 'StartingPosition', expected: 'TRIM_HORIZON' },
  { option: 'retry', fields: { retry: { bisect_on_error: true } }, property: 'BisectBatchOnFunctionError', expected: true },
  { option: 'retry', fields: { retry: { max_attempts: 3 } }, property: 'MaximumRetryAttempts', expected: 3 },
  { option: 'retry', fields: { retry: { max_record_age_seconds: 3600 } }, property: 'MaximumRecordAgeInSeconds', expected: 3600 },
];
const KINESIS_ONLY_OPTIONS: typeof STREAM_OPTIONS = [
  { option: 'starting_position', fields: { starting_position: 'at_timestamp', starting_timestamp: '2026-11-27T00:00:00Z' }, property: 'StartingPosition', expected: 'AT_TIMESTAMP' },
  { option: 'starting_timestamp', fields: { starting_position: 'at_timestamp', starting_timestamp: '2026-11-27T00:00:00Z' }, property: 'StartingPositionTimestamp', expected: 1_795_737_600 },
  { option: 'filter', fields: { filter: [{ data: { event_type: ['purchase'] } }] }, property: 'FilterCriteria', expected: { Filters: [{ Pattern: '{"data":{"event_type":["purchase"]}}' }] } },
];
const DYNAMODB_ONLY_OPTIONS: typeof STREAM_OPTIONS = [
  { option: 'events', fields: { events: ['insert', 'modify'] }, property: 'FilterCriteria', expected: { Filters: [{ Pattern: '{"eventName":["INSERT","MODIFY"]}' }] } },
];
// Options that shape the stack elsewhere (the stream, the role) or only the runtime's decoding.
const NOT_MAPPING_OPTIONS = {
  kinesis: ['type', 'stream', 'create', 'format', 'csv', 'deaggregate', 'max_depth', 'max_record_bytes'],
  dynamodb: ['type', 'table', 'stream_arn', 'image'],
};

describe.each([
  { type: 'kinesis', source: kinesis, options: [...STREAM_OPTIONS, ...KINESIS_ONLY_OPTIONS] },
  { type: 'dynamodb', source: dynamodb, options: [...STREAM_OPTIONS, ...DYNAMODB_ONLY_OPTIONS] },
] as const)('the event source mapping of a $type source', ({ type, source, options }) => {
  it.each(options.map((row) => [row.option, row.property, row] as const))('maps %s to %s', (_option, property, row) => {
    const mapping = resourceOf(contributionOfSource(source(row.fields)), 'OrdersMapping');

    expect(mapping[property]).toEqual(row.expected);
  });

  it('accounts for every option of the schema fragment', () => {
    const covered = new Set([...options.map((row) => row.option), ...NOT_MAPPING_OPTIONS[type]]);

    expect(schemaProperties(type).filter((option) => !covered.has(option))).toEqual([]);
  });

  it('reports failed records one by one and sends what Lambda gives up on to a queue of the stack', () => {
    const contribution = contributionOfSource(source());
    const mapping = resourceOf(contribution, 'OrdersMapping');

    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.FunctionName).toEqual({ Ref: 'Function' });
    expect(mapping.DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': ['OrdersFailedQueue', 'Arn'] } } });
    expect(resourceOf(contribution, 'OrdersFailedQueue')).toEqual({ MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
    expect(statementOf(contribution, 'OrdersFailedQueueSend')).toEqual({
      Sid: 'OrdersFailedQueueSend',
      Effect: 'Allow',
      Action: ['sqs:SendMessage'],
      Resource: [{ 'Fn::GetAtt': ['OrdersFailedQueue', 'Arn'] }],
    });
  });

  it('leaves retry limits to AWS when the spec sets none, and needs no filter without one', () => {
    const mapping = resourceOf(contributionOfSource(source()), 'OrdersMapping');

    expect(mapping).not.toHaveProperty('MaximumRetryAttempts');
    expect(mapping).not.toHaveProperty('MaximumRecordAgeInSeconds');
    expect(mapping).not.toHaveProperty('FilterCriteria');
    expect(mapping.StartingPosition).toBe('LATEST');
  });

  it.each([
    [{}, 3_600_000],
    [{ retry: { max_record_age_seconds: 600 } }, 300_000],
    [{ retry: { max_record_age_seconds: -1 } }, 3_600_000],
  ])('alarms on iterator age (%j → %d ms) before records expire', (fields, threshold) => {
    const alarm = resourceOf(contributionOfSource(source(fields)), 'OrdersIteratorAgeAlarm');

    expect(alarm).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'IteratorAge', Threshold: threshold, Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'Function' } }] });
  });
});

describe('a kinesis source', () => {
  const READ = ['kinesis:DescribeStream', 'kinesis:DescribeStreamSummary', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards', 'kinesis:SubscribeToShard'];

  it.each([
    ['an ARN', STREAM_ARN, STREAM_ARN],
    ['a name, in the stack\'s account and region', 'orders', { 'Fn::Sub': 'arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/orders' }],
  ])('reads exactly the stream given as %s', (_form, stream, arn) => {
    const contribution = contributionOfSource(kinesis({ stream }));

    expect(statementOf(contribution, 'OrdersRead')).toEqual({ Sid: 'OrdersRead', Effect: 'Allow', Action: READ, Resource: [arn] });
    expect(resourceOf(contribution, 'OrdersMapping').EventSourceArn).toEqual(arn);
  });

  it('takes a stream parameter as an ARN or a name, deciding in the template', () => {
    const contribution = contributionOfSource(kinesis({ stream: '${param.orders_stream}' }));

    const arn = { 'Fn::If': ['OrdersStreamIsArn', { Ref: 'OrdersStream' }, { 'Fn::Sub': 'arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${OrdersStream}' }] };
    expect(statementOf(contribution, 'OrdersRead').Resource).toEqual([arn]);
    expect(resourceOf(contribution, 'OrdersMapping').EventSourceArn).toEqual(arn);
    expect(contribution.conditions).toEqual({ OrdersStreamIsArn: { 'Fn::Equals': [{ 'Fn::Select': [0, { 'Fn::Split': [':', { Ref: 'OrdersStream' }] }] }, 'arn'] } });
  });

  it.each([
    [{ on_demand: true }, { StreamModeDetails: { StreamMode: 'ON_DEMAND' } }],
    [{ shards: 3 }, { StreamModeDetails: { StreamMode: 'PROVISIONED' }, ShardCount: 3 }],
  ])('creates the stream with capacity %j and reads that stream', (create, capacity) => {
    const contribution = contributionOfSource(kinesis({ stream: 'orders', create }));

    expect(resourceOf(contribution, 'OrdersStream')).toEqual({ Name: 'orders', ...capacity, StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } });
    expect(statementOf(contribution, 'OrdersRead').Resource).toEqual([{ 'Fn::GetAtt': ['OrdersStream', 'Arn'] }]);
    expect(resourceOf(contribution, 'OrdersMapping').EventSourceArn).toEqual({ 'Fn::GetAtt': ['OrdersStream', 'Arn'] });
  });
});

describe('a dynamodb source', () => {
  it.each([
    [TABLE_STREAM, TABLE_STREAM],
    ['${param.users_stream}', { Ref: 'UsersStream' }],
  ])('reads exactly the stream %s', (streamArn, arn) => {
    const contribution = contributionOfSource(dynamodb({ stream_arn: streamArn }));

    expect(statementOf(contribution, 'OrdersRead')).toEqual({
      Sid: 'OrdersRead',
      Effect: 'Allow',
      Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      Resource: [arn],
    });
    expect(resourceOf(contribution, 'OrdersMapping').EventSourceArn).toEqual(arn);
  });
});

describe('an s3 source', () => {
  it('sends the bucket\'s Object Created events under the prefix and suffix to a queue of the stack', () => {
    const contribution = contributionOfSource(s3({ suffix: '.json.gz' }));

    expect(resourceOf(contribution, 'OrdersRule')).toMatchObject({
      State: 'ENABLED',
      EventPattern: { source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: ['acme-raw'] }, object: { key: [{ wildcard: 'clicks/*.json.gz' }] } } },
      Targets: [{ Id: 'queue', Arn: { 'Fn::GetAtt': ['OrdersQueue', 'Arn'] } }],
    });
  });

  it.each([
    ['a prefix only', { prefix: 'clicks/' }, [{ prefix: 'clicks/' }]],
    ['a suffix only', { prefix: '', suffix: '.csv' }, [{ suffix: '.csv' }]],
    ['neither', { prefix: '' }, undefined],
    ['a prefix S3 encodes in its events', { prefix: 'in/dt=2026 11/' }, [{ prefix: 'in/dt%3D2026+11/' }]],
    ['a prefix with a character of unsure encoding', { prefix: 'in(1)/' }, [{ prefix: 'in(1)/' }, { prefix: 'in%281%29/' }]],
    ['a wildcard character in a prefix and suffix', { prefix: 'a*b/', suffix: '.x' }, [{ wildcard: 'a\\*b/*.x' }, { wildcard: 'a%2Ab/*.x' }]],
  ])('matches object keys with %s', (_case, fields, key) => {
    const pattern = resourceOf(contributionOfSource(s3(fields)), 'OrdersRule').EventPattern as { detail: { object?: { key: unknown } } };

    expect(pattern.detail.object?.key).toEqual(key);
  });

  it('feeds the function from the queue with partial batch responses, and redrives failing messages to a dead-letter queue', () => {
    const contribution = contributionOfSource(s3(), { runtime: { timeout_seconds: 120 } });

    expect(resourceOf(contribution, 'OrdersMapping')).toEqual({
      FunctionName: { Ref: 'Function' },
      EventSourceArn: { 'Fn::GetAtt': ['OrdersQueue', 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(resourceOf(contribution, 'OrdersQueue')).toMatchObject({
      VisibilityTimeout: 720,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['OrdersDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 },
    });
  });

  it.each([
    [20, { ScalingConfig: { MaximumConcurrency: 20 } }, 0],
    [1, { ScalingConfig: { MaximumConcurrency: 2 } }, 1],
  ])('polls the queue no faster than a reserved concurrency of %d lets the function run', (reserved, scaling, notes) => {
    const contribution = contributionOfSource(s3(), { runtime: { reserved_concurrency: reserved } });

    expect(resourceOf(contribution, 'OrdersMapping')).toMatchObject(scaling);
    expect(contribution.notes!.filter((note) => note.includes('reserved_concurrency'))).toHaveLength(notes);
  });

  it('lets EventBridge send to the queue from its rule only', () => {
    const policy = resourceOf(contributionOfSource(s3()), 'OrdersQueuePolicy');

    expect(policy.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'EventsFromTheRuleOnly',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: { 'Fn::GetAtt': ['OrdersQueue', 'Arn'] },
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['OrdersRule', 'Arn'] } } },
        },
      ],
    });
  });

  it('reads objects under the prefix only and receives from its own queue only', () => {
    const contribution = contributionOfSource(s3());

    expect(statementOf(contribution, 'OrdersReadObjects')).toEqual({
      Sid: 'OrdersReadObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::acme-raw/clicks/*' }],
    });
    expect(statementOf(contribution, 'OrdersReceiveEvents').Resource).toEqual([{ 'Fn::GetAtt': ['OrdersQueue', 'Arn'] }]);
  });

  it('names a bucket and prefix given as parameters through Fn::Sub', () => {
    const contribution = contributionOfSource(s3({ bucket: '${param.raw_bucket}', prefix: '${param.stage}/clicks/' }));

    expect(statementOf(contribution, 'OrdersReadObjects').Resource).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${RawBucket}/${Stage}/clicks/*' }]);
    expect((resourceOf(contribution, 'OrdersRule').EventPattern as { detail: unknown }).detail).toEqual({
      bucket: { name: [{ Ref: 'RawBucket' }] },
      object: { key: [{ prefix: { 'Fn::Sub': '${Stage}/clicks/' } }] },
    });
  });

  it('alarms on the age of the oldest event and on any message in the dead-letter queue', () => {
    const contribution = contributionOfSource(s3());

    expect(resourceOf(contribution, 'OrdersBacklogAlarm')).toMatchObject({ MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['OrdersQueue', 'QueueName'] } }] });
    expect(resourceOf(contribution, 'OrdersDeadLetterAlarm')).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['OrdersDeadLetterQueue', 'QueueName'] } }],
    });
  });

  it('says that an existing bucket needs EventBridge notifications turned on', () => {
    const contribution = contributionOfSource(s3());

    expect(contribution.notes).toEqual([expect.stringContaining('turn on its EventBridge notifications')]);
    expect(contribution.resources).not.toHaveProperty('OrdersBucket');
  });

  it('creates a bucket it owns with EventBridge notifications, encryption, no public access and TLS only', () => {
    const contribution = contributionOfSource(s3({ create: true }));

    expect(contribution.resources!.OrdersBucket).toMatchObject({
      Type: 'AWS::S3::Bucket',
      DeletionPolicy: 'Retain',
      Properties: {
        BucketName: 'acme-raw',
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      },
    });
    expect(resourceOf(contribution, 'OrdersBucketPolicy').PolicyDocument).toMatchObject({
      Statement: [{ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
    });
    expect(contribution.notes).toEqual([]);
  });
});

describe('the resources of every source', () => {
  const NAMED_ON_PURPOSE = new Set(['AWS::S3::Bucket', 'AWS::Kinesis::Stream']);

  it.each([kinesis(), dynamodb(), s3(), s3({ create: true }), kinesis({ stream: 'orders', create: { on_demand: true } })])('leave physical names to CloudFormation, so two stacks of one spec never clash: %j', (source) => {
    const contribution = contributionOfSource(source);

    for (const resource of Object.values(contribution.resources!)) {
      if (NAMED_ON_PURPOSE.has(resource.Type)) continue;
      expect(Object.keys(resource.Properties ?? {}).filter((property) => /^(Queue|Alarm)?Name$/.test(property))).toEqual([]);
    }
  });
});

describe('the role statements of every source', () => {
  const SOURCES: Source[] = [
    kinesis(),
    kinesis({ stream: 'orders' }),
    kinesis({ stream: '${param.orders_stream}' }),
    kinesis({ stream: 'orders', create: { shards: 1 } }),
    dynamodb(),
    dynamodb({ stream_arn: '${param.users_stream}' }),
    s3(),
    s3({ prefix: '' }),
    s3({ bucket: '${param.raw_bucket}', create: true }),
  ];

  it.each(SOURCES.map((source) => [JSON.stringify(source), source] as const))('name exact resources, never *, for %s', (_name, source) => {
    const contribution: Contribution = contributionOfSource(source);

    expect(contribution.statements!.length).toBeGreaterThan(0);
    for (const statement of contribution.statements!) {
      expect(statement.Action.filter((action) => action.includes('*'))).toEqual([]);
      for (const resource of statement.Resource) expect(wildcardOnlyAtEnd(resource)).toBe(true);
    }
  });
});

/** True when a resource names one ARN, or the objects under one key prefix of one bucket (`arn:…:s3:::bucket/prefix*`). */
function wildcardOnlyAtEnd(resource: CfnValue): boolean {
  const text = JSON.stringify(resource);
  return !text.includes('*') || /^\{"Fn::Sub":"arn:\$\{AWS::Partition\}:s3:::[^/*"]+\/[^*"]*\*"\}$/.test(text);
}
