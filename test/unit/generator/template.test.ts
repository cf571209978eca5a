import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEAD_LETTER_BUCKET_VARIABLE, LEDGER_TABLE_VARIABLE, NOTIFICATION_TOPIC_VARIABLE } from '../../../engine/function-environment.ts';
import type { CfnResource, CfnValue, Contribution, SinkGenerator, SourceGenerator } from '../../../generator/contribution.ts';
import { SINK_GENERATORS, SOURCE_GENERATORS } from '../../../generator/registry.ts';
import { sweepRate } from '../../../generator/runtime/schedule.ts';
import { FUNCTION_RUNTIME, generateStack, generateTemplate, renderTemplate, TemplateError } from '../../../generator/template.ts';
import type { Generators, Template } from '../../../generator/template.ts';
import { applyDefaults } from '../../../engine/spec/resolve.ts';
import { exampleSpecs, featureSpecs, validSpec } from '../../support/generator-specs.ts';

const specs = [...exampleSpecs(), ...featureSpecs()];
const byName = (name: string) => specs.find((entry) => entry.name === name)!.spec;

const properties = (template: Template, id: string) => template.Resources[id]!.Properties!;
const environment = (template: Template) => (properties(template, 'Function').Environment as { Variables: Record<string, CfnValue> }).Variables;
const statements = (template: Template) =>
  ((properties(template, 'FunctionRole').Policies as { PolicyDocument: { Statement: { Sid: string; Action: string[]; Resource: CfnValue[] }[] } }[])[0]!.PolicyDocument.Statement);
const ofType = (template: Template, type: string) => Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

describe('generateTemplate', () => {
  it.each(specs.map(({ name, spec }) => [name, spec] as const))('renders %s to the same text every time, in YAML and JSON', (_, spec) => {
    const first = generateTemplate(structuredClone(spec));
    const second = generateTemplate(structuredClone(spec));

    expect(renderTemplate(second, 'yaml')).toBe(renderTemplate(first, 'yaml'));
    expect(renderTemplate(second, 'json')).toBe(renderTemplate(first, 'json'));
  });

  it.each(specs.map(({ name, spec }) => [name, spec] as const))('renders %s as the same document in YAML and JSON', (_, spec) => {
    const template = generateTemplate(spec);

    expect(parse(renderTemplate(template, 'yaml'), { version: '1.1' })).toEqual(JSON.parse(renderTemplate(template, 'json')));
  });

  it('sorts keys, whatever order the spec and the modules wrote them in', () => {
    const spec = byName('examples/kinesis-fanout.yaml');
    const reordered = { ...spec, sinks: Object.fromEntries(Object.entries(spec.sinks).reverse()), sources: { ...spec.sources } };

    expect(renderTemplate(generateTemplate(reordered), 'json')).toBe(renderTemplate(generateTemplate(spec), 'json'));
  });

  it('quotes strings that a YAML 1.1 reader would take for dates or booleans', () => {
    const text = renderTemplate(generateTemplate(byName('examples/kinesis-archive.yaml')), 'yaml');

    expect(text).toMatch(/^AWSTemplateFormatVersion: "2010-09-09"$/m);
    expect(text).toMatch(/^ +Version: "2012-10-17"$/m);
  });

  it('derives logical ids from component ids, so adding a component leaves the others as they were', () => {
    const one = validSpec('one', { name: 'ids', sources: { clicks_raw: { type: 's3', bucket: 'acme-raw', format: 'jsonl' } }, sinks: { out: { type: 's3', inputs: ['clicks_raw'], bucket: 'acme-out', key: 'x/' } } });
    const two = validSpec('two', {
      name: 'ids',
      sources: { clicks_raw: { type: 's3', bucket: 'acme-raw', format: 'jsonl' }, orders: { type: 'kinesis', stream: 'orders', format: 'json' } },
      sinks: { out: { type: 's3', inputs: ['clicks_raw', 'orders'], bucket: 'acme-out', key: 'x/' } },
    });

    const before = generateTemplate(one.spec).Resources;
    const after = generateTemplate(two.spec).Resources;

    expect(Object.keys(before).filter((id) => id.startsWith('ClicksRaw')).length).toBeGreaterThan(0);
    // The function and its role gather every component's variables and statements; nothing else changes.
    for (const [id, resource] of Object.entries(before)) if (id !== 'Function' && id !== 'FunctionRole') expect(after[id], id).toEqual(resource);
    expect(Object.keys(after).filter((id) => !(id in before)).every((id) => id.startsWith('Orders'))).toBe(true);
  });

  it('makes the function from the runtime settings: current Node.js runtime, architecture, memory, /tmp size, timeout, reserved concurrency', () => {
    const template = generateTemplate(byName('runtime-options'));

    expect(properties(template, 'Function')).toMatchObject({
      Runtime: FUNCTION_RUNTIME,
      Handler: 'index.handler',
      Architectures: ['x86_64'],
      MemorySize: 256,
      EphemeralStorage: { Size: 4096 },
      Timeout: 30,
      ReservedConcurrentExecutions: 2,
      Role: { 'Fn::GetAtt': ['FunctionRole', 'Arn'] },
      LoggingConfig: { LogGroup: { Ref: 'FunctionLogGroup' } },
    });
    expect(properties(template, 'FunctionLogGroup').RetentionInDays).toBe(7);
  });

  it("defaults to arm64, Lambda's default 512 MB of /tmp and no reserved concurrency", () => {
    const function_ = properties(generateTemplate(byName('kinesis-by-name')), 'Function');

    expect(function_.Architectures).toEqual(['arm64']);
    expect(function_.EphemeralStorage).toEqual({ Size: 512 });
    expect(function_).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  it('turns parameters into CloudFormation Parameters, NoEcho when secret, and passes each to the function as INGEST_PARAM_<NAME>', () => {
    const template = generateTemplate(byName('runtime-options'));

    expect(template.Parameters).toMatchObject({
      Level: { Type: 'Number', Default: 3 },
      Token: { Type: 'String', NoEcho: true },
    });
    expect(template.Parameters!.Level).not.toHaveProperty('NoEcho');
    expect(environment(template)).toMatchObject({ INGEST_PARAM_LEVEL: { Ref: 'Level' }, INGEST_PARAM_TOKEN: { Ref: 'Token' } });
  });

  it('sets runtime.environment, substituting parameters and keeping any other ${ literal', () => {
    const variables = environment(generateTemplate(byName('runtime-options')));

    expect(variables).toMatchObject({ MODE: 'strict', LEVEL: { 'Fn::Sub': 'n${Level}' }, LITERAL: { 'Fn::Join': ['', ['a ', '$', '{AWS::Region} b']] } });
  });

  it('reads the code from the CodeBucket and CodeKey parameters, or from where the package was uploaded', () => {
    const spec = byName('kinesis-by-name');

    const parameterised = generateTemplate(spec);
    const uploaded = generateTemplate(spec, { code: { bucket: 'acme-artifacts', key: 'ingest/abc.zip' } });

    expect(properties(parameterised, 'Function').Code).toEqual({ S3Bucket: { Ref: 'CodeBucket' }, S3Key: { Ref: 'CodeKey' } });
    expect(Object.keys(parameterised.Parameters!)).toEqual(['CodeBucket', 'CodeKey']);
    expect(properties(uploaded, 'Function').Code).toEqual({ S3Bucket: 'acme-artifacts', S3Key: 'ingest/abc.zip' });
    expect(uploaded).not.toHaveProperty('Parameters');
  });

  it('lets the role be assumed by Lambda only and write only to its own log group', () => {
    const template = generateTemplate(byName('kinesis-by-name'));

    expect(properties(template, 'FunctionRole').AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    expect(statements(template).find((statement) => statement.Sid === 'WriteLogs')).toEqual({
      Sid: 'WriteLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [{ 'Fn::GetAtt': ['FunctionLogGroup', 'Arn'] }],
    });
  });

  it('merges the statements of every component into the one policy of the role, each with a distinct Sid', () => {
    const template = generateTemplate(byName('search-sinks'));
    const sids = statements(template).map((statement) => statement.Sid);

    expect(sids.length).toBeGreaterThan(3);
    expect(new Set(sids).size).toBe(sids.length);
    expect(sids.every((sid) => /^[A-Za-z0-9]+$/.test(sid))).toBe(true);
  });

  it('moves the statements into managed policies of at most 6,144 characters, which the function waits for, once they outgrow one inline policy', () => {
    const template = generateTemplate(byName('many-sinks'));
    const policies = ofType(template, 'AWS::IAM::ManagedPolicy');
    const documents = policies.map(([, policy]) => policy.Properties!.PolicyDocument as { Statement: { Sid: string }[] });
    const size = (value: unknown) => JSON.stringify(value).replace(/\s/g, '').length;

    expect(properties(template, 'FunctionRole')).not.toHaveProperty('Policies');
    expect(policies.length).toBeGreaterThan(1);
    expect(policies.every(([, policy]) => JSON.stringify(policy.Properties!.Roles) === JSON.stringify([{ Ref: 'FunctionRole' }]))).toBe(true);
    expect(documents.every((document) => size(document) <= 6144)).toBe(true);
    expect(documents.flatMap((document) => document.Statement.map((statement) => statement.Sid))).toEqual(expect.arrayContaining(['WriteLogs', 'WriteDeadLetters', 'Out59WriteObjects']));
    expect(documents.flatMap((document) => document.Statement).length).toBe(60 + 4);
    expect(template.Resources.Function!.DependsOn).toEqual(policies.map(([id]) => id));
  });

  it('keeps the statements inline while they fit', () => {
    const template = generateTemplate(byName('examples/kinesis-fanout.yaml'));

    expect(ofType(template, 'AWS::IAM::ManagedPolicy')).toEqual([]);
    expect(template.Resources.Function!).not.toHaveProperty('DependsOn');
  });

  it('outputs the function, its role and its log group', () => {
    const template = generateTemplate(byName('kinesis-by-name'));

    expect(Object.keys(template.Outputs!)).toEqual(expect.arrayContaining(['FunctionName', 'FunctionArn', 'FunctionRoleArn', 'LogGroupName']));
  });
});

describe('runtime features', () => {
  it('create a dead-letter bucket when the spec names none, pass it to the function and allow writes under the prefix only', () => {
    const template = generateTemplate(byName('no-dead-letter-bucket'));

    expect(template.Resources.DeadLetterBucket).toMatchObject({ Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(properties(template, 'DeadLetterBucket')).not.toHaveProperty('BucketName');
    expect(properties(template, 'DeadLetterBucket')).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [expect.objectContaining({ AbortIncompleteMultipartUpload: expect.any(Object) })] },
    });
    expect(JSON.stringify(properties(template, 'DeadLetterBucketPolicy'))).toContain('aws:SecureTransport');
    expect(environment(template)[DEAD_LETTER_BUCKET_VARIABLE]).toEqual({ Ref: 'DeadLetterBucket' });
    expect(statements(template).find((statement) => statement.Sid === 'WriteDeadLetters')).toMatchObject({ Action: ['s3:PutObject'], Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${DeadLetterBucket}/x/*' }] });
  });

  it('create no bucket and set no variable for a named dead-letter bucket, but allow writes under its prefix', () => {
    const template = generateTemplate(byName('examples/kinesis-archive.yaml'));

    expect(template.Resources).not.toHaveProperty('DeadLetterBucket');
    expect(environment(template)).not.toHaveProperty(DEAD_LETTER_BUCKET_VARIABLE);
    expect(statements(template).find((statement) => statement.Sid === 'WriteDeadLetters')!.Resource).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::orders-dead-letters/orders-archive/*' }]);
  });

  it('create the named dead-letter bucket when the spec says create', () => {
    const template = generateTemplate(byName('dead-letter-bucket-created'));

    expect(properties(template, 'DeadLetterBucket').BucketName).toBe('acme-dl');
    expect(environment(template)).not.toHaveProperty(DEAD_LETTER_BUCKET_VARIABLE);
  });

  it('write a literal asterisk of a dead-letter prefix as IAM escapes it, never as a wildcard', () => {
    const template = generateTemplate(byName('dead-letter-bucket-from-parameter'));

    expect(JSON.stringify(statements(template).find((statement) => statement.Sid === 'WriteDeadLetters')!.Resource)).toContain('dl/${!*}/*');
  });

  it('create the ledger table for batching sinks: on demand, pk/sk strings, TTL on expires_at, point-in-time recovery, retained', () => {
    const template = generateTemplate(byName('redshift-workgroup'));

    expect(template.Resources.LedgerTable).toMatchObject({ Type: 'AWS::DynamoDB::Table', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(properties(template, 'LedgerTable')).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(environment(template)[LEDGER_TABLE_VARIABLE]).toEqual({ Ref: 'LedgerTable' });
    expect(statements(template).find((statement) => statement.Sid === 'UseLedger')).toMatchObject({
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
      Resource: [{ 'Fn::GetAtt': ['LedgerTable', 'Arn'] }],
    });
  });

  it('use an existing ledger table by name, by ARN, or by a parameter holding either', () => {
    const byTableName = generateTemplate(byName('redshift-cluster-existing-ledger'));
    const byArn = generateTemplate(byName('ledger-by-arn'));
    const byParameter = generateTemplate(byName('postgres-ledger-from-parameter'));

    for (const template of [byTableName, byArn, byParameter]) expect(template.Resources).not.toHaveProperty('LedgerTable');
    expect(environment(byTableName)[LEDGER_TABLE_VARIABLE]).toBe('ingest-ledger');
    expect(statements(byTableName).find((statement) => statement.Sid === 'UseLedger')!.Resource).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/ingest-ledger' }]);
    expect(statements(byArn).find((statement) => statement.Sid === 'UseLedger')!.Resource).toEqual(['arn:aws:dynamodb:eu-west-1:123456789012:table/ingest-ledger']);
    expect(byParameter.Conditions).toEqual({ LedgerTableIsArn: { 'Fn::Equals': [{ 'Fn::Select': [0, { 'Fn::Split': [':', { 'Fn::Sub': '${Ledger}' }] }] }, 'arn'] } });
    expect(statements(byParameter).find((statement) => statement.Sid === 'UseLedger')!.Resource).toEqual([
      { 'Fn::If': ['LedgerTableIsArn', { 'Fn::Sub': '${Ledger}' }, { 'Fn::Sub': 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Ledger}' }] },
    ]);
  });

  it('need no ledger and no schedule when no sink batches across invocations', () => {
    const template = generateTemplate(byName('examples/kinesis-archive.yaml'));

    expect(ofType(template, 'AWS::DynamoDB::Table')).toEqual([]);
    expect(ofType(template, 'AWS::Events::Rule')).toEqual([]);
    expect(environment(template)).not.toHaveProperty(LEDGER_TABLE_VARIABLE);
  });

  it('sweep at the smallest max_seconds of the batching sinks, allowing EventBridge to invoke the function from that rule only', () => {
    const template = generateTemplate(byName('postgres-ledger-from-parameter'));

    expect(properties(template, 'SweepSchedule')).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED', Targets: [{ Arn: { 'Fn::GetAtt': ['Function', 'Arn'] }, Id: 'sweep' }] });
    expect(properties(template, 'SweepSchedulePermission')).toEqual({
      Action: 'lambda:InvokeFunction',
      FunctionName: { Ref: 'Function' },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['SweepSchedule', 'Arn'] },
    });
  });

  it.each([
    [60, 'rate(1 minute)'],
    [90, 'rate(1 minute)'],
    [120, 'rate(2 minutes)'],
    [300, 'rate(5 minutes)'],
    [86400, 'rate(1440 minutes)'],
  ])('sweep every whole minute within max_seconds %i: %s', (seconds, rate) => {
    expect(sweepRate(seconds)).toBe(rate);
  });

  it('create the notification topic when asked, pass its ARN and allow publishing to it only', () => {
    const template = generateTemplate(byName('notifications-created'));

    expect(template.Resources.NotificationTopic!.Type).toBe('AWS::SNS::Topic');
    expect(environment(template)[NOTIFICATION_TOPIC_VARIABLE]).toEqual({ Ref: 'NotificationTopic' });
    expect(statements(template).find((statement) => statement.Sid === 'PublishNotifications')).toMatchObject({ Action: ['sns:Publish'], Resource: [{ Ref: 'NotificationTopic' }] });
    expect(template.Outputs).toHaveProperty('NotificationTopicArn');
  });

  it('publish to the topic the spec names, creating none', () => {
    const template = generateTemplate(byName('notifications-to-topic'));

    expect(ofType(template, 'AWS::SNS::Topic')).toEqual([]);
    expect(environment(template)[NOTIFICATION_TOPIC_VARIABLE]).toEqual({ 'Fn::Sub': '${Topic}' });
    expect(statements(template).find((statement) => statement.Sid === 'PublishNotifications')!.Resource).toEqual([{ 'Fn::Sub': '${Topic}' }]);
  });

  it('alarm on function errors, throttles and dead letters of the pipeline', () => {
    const template = generateTemplate(byName('kinesis-by-name'));

    expect(properties(template, 'FunctionErrorsAlarm')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'Function' } }] });
    expect(properties(template, 'FunctionThrottlesAlarm')).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Throttles' });
    expect(JSON.stringify(properties(template, 'DeadLettersAlarm').Metrics)).toContain("RecordsDeadLettered) FROM SCHEMA(Ingest, Component, Pipeline) WHERE Pipeline = 'kin-name'");
  });
});

describe('merging contributions', () => {
  const base = byName('kinesis-by-name');
  const withSource = (contribution: Contribution): Generators => ({
    sources: { ...SOURCE_GENERATORS, kinesis: { type: 'kinesis', contribute: () => contribution } as SourceGenerator<'kinesis'> },
    sinks: { ...SINK_GENERATORS, s3: { type: 's3', contribute: () => ({}) } as SinkGenerator<'s3'> },
  });
  const queue: CfnResource = { Type: 'AWS::SQS::Queue' };

  it.each([
    ['a resource named like a core resource', { resources: { Function: queue } }, 'logical id Function'],
    ['an environment variable the runtime sets', { environment: { INGEST_DEAD_LETTER_BUCKET: 'x' } }, 'environment variable INGEST_DEAD_LETTER_BUCKET'],
    ['an output the core writes', { outputs: { FunctionArn: { Description: 'x', Value: 'y' } } }, 'output FunctionArn'],
    ['a statement id the runtime uses', { statements: [{ Sid: 'WriteLogs', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: ['arn:aws:sqs:eu-west-1:123456789012:q'] }] }, 'statement id WriteLogs'],
  ] as const)('refuses %s, naming both owners', (_, contribution, claim) => {
    const spec = validSpec('collide', { name: 'collide', sources: { in: { type: 'kinesis', stream: 'orders', format: 'json' } }, sinks: { out: { type: 's3', inputs: ['in'], bucket: 'acme-out', key: 'x/' } } }).spec;

    expect(() => generateStack(spec, {}, withSource(contribution as Contribution))).toThrow(TemplateError);
    expect(() => generateStack(spec, {}, withSource(contribution as Contribution))).toThrow(new RegExp(`(source in and .+|.+ and source in) both need the ${claim} `));
  });

  it.each([
    ['code_bucket', 'the template and parameter code_bucket both need the logical id CodeBucket'],
    ['function', 'the template and parameter function both need the logical id Function'],
    ['dead_letter_bucket', 'the dead_letters feature and parameter dead_letter_bucket both need the logical id DeadLetterBucket'],
  ])('refuses a parameter %s named like a resource of the template', (parameter, message) => {
    const spec = validSpec('params', {
      name: 'params',
      parameters: { [parameter]: { type: 'string', default: 'x' } },
      sources: { in: { type: 'kinesis', stream: 'orders', format: 'json' } },
      sinks: { out: { type: 's3', inputs: ['in'], bucket: 'acme-out', key: 'x/' } },
    }).spec;

    expect(() => generateStack(spec)).toThrow(message);
  });

  it('refuses two parameters whose CamelCase forms meet, should validate let them through', () => {
    const spec = applyDefaults({
      version: 1,
      name: 'params',
      parameters: { level_1: { type: 'string' }, level1: { type: 'string' } },
      sources: { in: { type: 'kinesis', stream: 'orders', format: 'json' } },
      sinks: { out: { type: 's3', inputs: ['in'], bucket: 'acme-out', key: 'x/' } },
    });

    expect(() => generateStack(spec)).toThrow('parameter level1 and parameter level_1 both need the logical id Level1');
  });

  it('refuses two parts of the spec that both create one bucket, naming both', () => {
    const spec = validSpec('shared-bucket', {
      name: 'shared',
      dead_letter: { bucket: 'acme-out', create: true, prefix: 'dead/' },
      sources: { in: { type: 'kinesis', stream: 'orders', format: 'json' } },
      sinks: { out: { type: 's3', inputs: ['in'], bucket: 'acme-out', key: 'x/', create: true } },
    }).spec;

    expect(() => generateStack(spec)).toThrow(/OutBucket \(sink out\) and DeadLetterBucket \(the dead_letters feature\) are both AWS::S3::Bucket "acme-out"/);
  });

  it('lets resources of one type share names of other properties (two S3 sources, two alarms on one metric)', () => {
    const spec = validSpec('two-s3', {
      name: 'two-s3',
      sources: { a: { type: 's3', bucket: 'acme-a', format: 'jsonl' }, b: { type: 's3', bucket: 'acme-b', format: 'jsonl' } },
      sinks: { out: { type: 's3', inputs: ['a', 'b'], bucket: 'acme-out', key: 'x/' } },
    }).spec;

    expect(() => generateStack(spec)).not.toThrow();
  });

  it('names statements without a Sid after their component and position', () => {
    const contribution: Contribution = { statements: [{ Effect: 'Allow', Action: ['kinesis:GetRecords'], Resource: ['arn:aws:kinesis:eu-west-1:123456789012:stream/orders'] }] };

    const sids = statements(generateStack(base, {}, withSource(contribution)).template).map((statement) => statement.Sid);

    expect(sids).toContain('SourceIn1');
  });

  it('collects the notes of every part in spec order', () => {
    const { notes } = generateStack(base, {}, withSource({ notes: ['from the source'] }));

    expect(notes[0]).toBe('from the source');
  });
});
