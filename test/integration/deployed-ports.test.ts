import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { kinesisEvent } from '../../engine/local/events.ts';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import { packagedSpec } from '../../generator/package-function.ts';
import { awsClientConfig, motoEndpoint, pgConnectionString } from '../support/env.ts';
import { RedshiftDataApiEmulator } from '../support/redshift-data-api.ts';
import { createScratchDatabase } from '../support/scratch-database.ts';
import type { ScratchDatabase } from '../support/scratch-database.ts';

// The function as deployed: engine/lambda.ts reads a packaged spec and builds every port from its
// environment alone (ports/aws-ports.ts): S3 and the DynamoDB ledger in moto, the Redshift Data
// API at AWS_ENDPOINT_URL_REDSHIFT_DATA (the emulator over the test run's PostgreSQL), a postgres
// sink through its url parameter, notifications to an SNS topic. One Kinesis batch goes in; the
// rows come out in both tables and the topic hears of both loads.

const VARIABLES = [
  'INGEST_SPEC_PATH', 'INGEST_LEDGER_TABLE', 'INGEST_NOTIFICATION_TOPIC', 'INGEST_PARAM_DATABASE_URL', 'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_REDSHIFT_DATA', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AWS_EC2_METADATA_DISABLED',
];

const PASSWORD = 'never-logged-7f3c';

function withPassword(url: URL): URL {
  const copy = new URL(url);
  copy.password = PASSWORD;
  return copy;
}

describe('the deployed function with redshift and postgres sinks, built from its environment', () => {
  const saved = new Map(VARIABLES.map((name) => [name, process.env[name]]));
  const s3 = new S3Client(awsClientConfig());
  const dynamodb = new DynamoDBClient(awsClientConfig());
  const sns = new SNSClient(awsClientConfig());
  const sqs = new SQSClient(awsClientConfig());
  const suffix = randomUUID().slice(0, 8);
  const name = `deployed-${suffix}`;
  const database = `deployed_${suffix}`;
  const directory = mkdtempSync(join(tmpdir(), 'ingest-deployed-'));
  let scratch: ScratchDatabase | undefined;
  let target: pg.Pool;
  let emulator: RedshiftDataApiEmulator;
  let queueUrl = '';

  beforeAll(async () => {
    scratch = await createScratchDatabase(pgConnectionString(), database);
    const url = new URL(scratch.url);
    target = new pg.Pool({ connectionString: scratch.url, max: 2 });
    target.on('error', () => undefined);
    await target.query('CREATE SCHEMA sales');
    await target.query('CREATE TABLE sales.orders (order_id VARCHAR(20) NOT NULL, amount INTEGER)');
    await target.query('CREATE TABLE shipments (order_id VARCHAR(20) NOT NULL, amount INTEGER)');
    emulator = await RedshiftDataApiEmulator.start({ connectionString: pgConnectionString(), s3 });

    for (const bucket of [`${name}-staging`, `${name}-errors`]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const ledgerTable = `${name}-ledger`;
    await dynamodb.send(new CreateTableCommand({
      TableName: ledgerTable,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn!;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));

    const spec = applyDefaults({
      version: 1,
      name,
      parameters: { database_url: { type: 'string', secret: true } },
      dead_letter: { bucket: `${name}-errors` },
      notifications: { create: true, on: ['load_succeeded', 'load_failed'] },
      sources: { orders: { type: 'kinesis', stream: 'orders', format: 'json' } },
      sinks: {
        warehouse: {
          type: 'redshift', inputs: ['orders'], connection: { workgroup: 'analytics', database },
          table: 'sales.orders', columns: ['order_id', 'amount'], staging: { bucket: `${name}-staging` }, batch: { max_files: 1 },
        },
        shipments: {
          type: 'postgres', inputs: ['orders'], connection: { url: '${param.database_url}' },
          table: 'shipments', columns: ['order_id', 'amount'], staging: { bucket: `${name}-staging` }, batch: { max_files: 1 },
        },
      },
    });
    const specPath = join(directory, 'spec.json');
    writeFileSync(specPath, JSON.stringify(packagedSpec(spec)));
    Object.assign(process.env, {
      INGEST_SPEC_PATH: specPath,
      INGEST_LEDGER_TABLE: ledgerTable,
      INGEST_NOTIFICATION_TOPIC: topicArn,
      // The server trusts local connections: the password only shows whether it leaks into logs.
      INGEST_PARAM_DATABASE_URL: withPassword(url).toString(),
      AWS_ENDPOINT_URL: motoEndpoint(),
      AWS_ENDPOINT_URL_REDSHIFT_DATA: emulator.url,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  });

  afterAll(async () => {
    for (const [variable, value] of saved) {
      if (value === undefined) delete process.env[variable];
      else process.env[variable] = value;
    }
    await emulator?.stop();
    await target?.end();
    await scratch?.drop();
    for (const client of [s3, dynamodb, sns, sqs]) client.destroy();
    rmSync(directory, { recursive: true, force: true });
  });

  it('loads one Kinesis batch into both tables and notifies the topic of each load, logging no secret', async () => {
    const { handler } = await import('../../engine/lambda.ts');
    const records = [{ order_id: 'o-1', amount: 3 }, { order_id: 'o-2', amount: 5 }, { order_id: 'o-3', amount: 8 }];
    const context = { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 600_000 };
    let logged = '';
    const capture = (chunk: string | Uint8Array) => {
      logged += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture as typeof process.stderr.write);
    let response: unknown;
    try {
      response = await handler(kinesisEvent('orders', records.map((record) => Buffer.from(JSON.stringify(record)))), context);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }

    expect(response).toEqual({ batchItemFailures: [] });
    const rows = async (table: string) => (await target.query(`SELECT order_id, amount FROM ${table} ORDER BY order_id`)).rows;
    expect(await rows('sales.orders')).toEqual(records);
    expect(await rows('shipments')).toEqual(records);
    const notifications: { event: string; component: string; pipeline: string }[] = [];
    for (let attempt = 0; attempt < 10 && notifications.length < 2; attempt++) {
      const page = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const message of page.Messages ?? []) notifications.push(JSON.parse((JSON.parse(message.Body!) as { Message: string }).Message));
    }
    expect(logged).toContain('"message":"batch loaded"');
    expect(logged).not.toContain(PASSWORD);
    expect(notifications.map(({ event, component, pipeline }) => `${pipeline} ${event} ${component}`).sort()).toEqual([`${name} load_succeeded shipments`, `${name} load_succeeded warehouse`]);
  });
});
