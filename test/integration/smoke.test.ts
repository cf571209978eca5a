import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient,
  PutRecordCommand, waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig, pgConnectionString } from '../support/env.ts';

// Proves the servers started by test/support/global-setup.ts are reachable the
// way the engine reaches AWS and Redshift: SDK v3 clients and `pg`.

const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

describe('moto', () => {
  const s3 = new S3Client(awsClientConfig());
  const dynamodb = new DynamoDBClient(awsClientConfig());
  const kinesis = new KinesisClient(awsClientConfig());
  afterAll(() => {
    s3.destroy();
    dynamodb.destroy();
    kinesis.destroy();
  });

  it('returns an S3 object body exactly as it was put', async () => {
    const bucket = uniqueName('smoke');
    const body = 'line one\nline two ✓\n';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/object.txt', Body: body }));
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/object.txt' }));

    expect(await object.Body?.transformToString()).toBe(body);
  });

  it('rejects a second DynamoDB put guarded by attribute_not_exists', async () => {
    const table = uniqueName('smoke');
    await dynamodb.send(new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    const guardedPut = () => dynamodb.send(new PutItemCommand({
      TableName: table,
      Item: { id: { S: 'record-1' } },
      ConditionExpression: 'attribute_not_exists(id)',
    }));
    await guardedPut();

    await expect(guardedPut()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('reads back a Kinesis record from the start of its shard', async () => {
    const stream = uniqueName('smoke');
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await waitUntilStreamExists({ client: kinesis, maxWaitTime: 15, minDelay: 1 }, { StreamName: stream });
    const description = await kinesis.send(new DescribeStreamCommand({ StreamName: stream }));
    const shardId = description.StreamDescription?.Shards?.[0]?.ShardId;
    await kinesis.send(new PutRecordCommand({
      StreamName: stream, PartitionKey: 'key-1', Data: new TextEncoder().encode('{"n":1}'),
    }));

    const iterator = await kinesis.send(new GetShardIteratorCommand({
      StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON',
    }));
    const records = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));

    expect(records.Records?.map((record) => new TextDecoder().decode(record.Data))).toEqual(['{"n":1}']);
  });
});

describe('PostgreSQL', () => {
  const client = new pg.Client({ connectionString: pgConnectionString() });
  beforeAll(async () => {
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  it('is version 15', async () => {
    const result = await client.query<{ version: string }>('select version()');

    expect(result.rows[0]?.version).toMatch(/^PostgreSQL 15\./);
  });

  it('returns the rows inserted into a temporary table', async () => {
    await client.query('create temporary table smoke (id integer primary key, name text not null)');

    await client.query('insert into smoke (id, name) values ($1, $2), ($3, $4)', [1, 'one', 2, 'two']);
    const result = await client.query('select id, name from smoke order by id');

    expect(result.rows).toEqual([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
  });
});
