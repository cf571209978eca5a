import {
  CreateTableCommand, DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnknownEventError } from '../../engine/sources/dispatch.ts';
import { awsClientConfig } from '../support/env.ts';
import { dynamoDbEventFromStream } from './support/lambda-events.ts';
import { motoHandler, validSpec } from './support/pipeline-under-test.ts';
import { createBuckets, readObjects, recordsIn, uniqueName } from './support/s3-contents.ts';

// Changes made to a real (moto) table with a NEW_AND_OLD_IMAGES stream, read back with the
// DynamoDB Streams API, wrapped as Lambda's event source mapping wraps them, and written by the
// handler to a moto bucket.

const BIG = '12345678901234567890'; // beyond 2^53: a double would round it to 12345678901234567000
const AVATAR = Buffer.from([0x00, 0x01, 0xfe, 0xff]);

describe('the handler on DynamoDB stream records read back from moto', () => {
  const dynamodb = new DynamoDBClient(awsClientConfig());
  const streams = new DynamoDBStreamsClient(awsClientConfig());
  const s3 = new S3Client(awsClientConfig());
  const table = uniqueName('users');
  let streamArn: string;
  let event: DynamoDBStreamEvent;

  beforeAll(async () => {
    const created = await dynamodb.send(new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }));
    streamArn = created.TableDescription!.LatestStreamArn!;
    await dynamodb.send(new PutItemCommand({
      TableName: table,
      Item: {
        id: { S: 'u1' }, name: { S: 'Ada' }, balance: { N: BIG }, score: { N: '0.5' },
        tags: { SS: ['admin', 'beta'] }, avatar: { B: AVATAR }, prefs: { M: { theme: { S: 'dark' }, size: { N: '3' } } },
      },
    }));
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: { id: { S: 'u2' }, name: { S: 'Grace' }, balance: { N: '7' } } }));
    await dynamodb.send(new UpdateItemCommand({
      TableName: table, Key: { id: { S: 'u1' } }, UpdateExpression: 'SET #name = :name', ExpressionAttributeNames: { '#name': 'name' }, ExpressionAttributeValues: { ':name': { S: 'Ada L.' } },
    }));
    await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: 'u2' } } }));

    event = await dynamoDbEventFromStream(streams, streamArn);
  });

  afterAll(() => {
    dynamodb.destroy();
    streams.destroy();
    s3.destroy();
  });

  /** A sink bucket and a spec reading the table's stream into it, one prefix per change kind. */
  async function pipeline(source: Record<string, unknown> = {}) {
    const out = uniqueName('users-out');
    const errors = uniqueName('users-errors');
    await createBuckets(s3, out, errors);
    const spec = validSpec({
      version: 1,
      name: 'users',
      dead_letter: { bucket: errors },
      sources: { users: { type: 'dynamodb', stream_arn: streamArn, ...source } },
      sinks: { changes: { type: 's3', inputs: ['users'], bucket: out, key: '{{meta.event_name}}/' } },
    });
    return { out, ...motoHandler(spec, s3) };
  }

  it('reads one stream record per change, in the order they were made', () => {
    expect(event.Records.map((record) => [record.eventName, record.dynamodb?.Keys?.id?.S])).toEqual([
      ['INSERT', 'u1'], ['INSERT', 'u2'], ['MODIFY', 'u1'], ['REMOVE', 'u2'],
    ]);
    expect(event.Records.every((record) => record.eventSourceARN === streamArn && record.eventSource === 'aws:dynamodb')).toBe(true);
  });

  it('writes the new image of inserts and modifies, and the keys of a remove', async () => {
    const { handler, out } = await pipeline();

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [] });
    expect((await recordsIn(s3, out, 'insert/')).map((record) => record.name)).toEqual(['Ada', 'Grace']);
    expect(await recordsIn(s3, out, 'modify/')).toEqual([expect.objectContaining({ id: 'u1', name: 'Ada L.' })]);
    expect(await recordsIn(s3, out, 'remove/')).toEqual([{ id: 'u2' }]);
  });

  it('rejects the changes of this table when the only DynamoDB source declares another table, and writes nothing', async () => {
    const { handler, out } = await pipeline({ stream_arn: streamArn.replace(`:table/${table}/`, `:table/${table}-payments/`) });

    await expect(handler(event)).rejects.toThrow(UnknownEventError);

    expect(await readObjects(s3, out)).toEqual([]);
  });

  it('keeps a number beyond 2^53 as its exact decimal string and others as numbers', async () => {
    const { handler, out } = await pipeline({ events: ['insert'] });

    await handler(event);

    const [object] = await readObjects(s3, out, 'insert/');
    expect(object?.text).toContain(`"balance":"${BIG}"`);
    const [ada, grace] = await recordsIn(s3, out, 'insert/');
    expect(ada).toEqual({
      id: 'u1', name: 'Ada', balance: BIG, score: 0.5, tags: ['admin', 'beta'], avatar: AVATAR.toString('base64'), prefs: { theme: 'dark', size: 3 },
    });
    expect(grace).toMatchObject({ balance: 7 });
  });

  it('counts the change kinds left out of events as filtered and writes nothing for them', async () => {
    const { handler, out } = await pipeline({ events: ['insert', 'modify'] });

    const summary = await handler.invoke(event);

    expect(summary.counts).toEqual({ records_in: 4, written: 3, filtered: 1, dead_lettered: 0, failed: 0 });
    expect(await recordsIn(s3, out, 'remove/')).toEqual([]);
  });

  it('writes the image before the change with image: old', async () => {
    const { handler, out } = await pipeline({ events: ['modify', 'remove'], image: 'old' });

    await handler(event);

    expect(await recordsIn(s3, out, 'modify/')).toEqual([expect.objectContaining({ id: 'u1', name: 'Ada' })]);
    expect(await recordsIn(s3, out, 'remove/')).toEqual([{ id: 'u2', name: 'Grace', balance: 7 }]);
  });

  it('writes both images, null where the change has none, with image: both', async () => {
    const { handler, out } = await pipeline({ image: 'both' });

    await handler(event);

    const inserts = await recordsIn(s3, out, 'insert/');
    expect(inserts[1]).toEqual({ new: { id: 'u2', name: 'Grace', balance: 7 }, old: null });
    const [modify] = await recordsIn(s3, out, 'modify/');
    expect([(modify?.old as { name: string }).name, (modify?.new as { name: string }).name]).toEqual(['Ada', 'Ada L.']);
    expect(await recordsIn(s3, out, 'remove/')).toEqual([{ new: null, old: { id: 'u2', name: 'Grace', balance: 7 } }]);
  });

  it('names the sequence numbers of the changes it could not write in batchItemFailures', async () => {
    const out = uniqueName('users-out');
    await createBuckets(s3, out);
    const spec = validSpec({
      version: 1,
      name: 'users',
      sources: { users: { type: 'dynamodb', stream_arn: streamArn } },
      sinks: {
        kept: { type: 's3', inputs: ['users'], where: "meta.event_name != 'remove'", bucket: out, key: 'kept/' },
        removals: { type: 's3', inputs: ['users'], where: "meta.event_name == 'remove'", bucket: uniqueName('never-created'), key: 'removed/' },
      },
    });
    const { handler } = motoHandler(spec, s3);

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[3]!.dynamodb!.SequenceNumber! }] });
    expect(await recordsIn(s3, out, 'kept/')).toHaveLength(3);
  });
});
