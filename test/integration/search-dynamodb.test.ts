import { CreateTableCommand, DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BulkServer } from '../support/bulk-server.ts';
import { awsClientConfig } from '../support/env.ts';
import { dynamoDbEventFromStream } from './support/lambda-events.ts';
import { motoHandler, validSpec } from './support/pipeline-under-test.ts';
import { uniqueName } from './support/s3-contents.ts';

// End to end: changes made to a real (moto) table with a stream, read back with the DynamoDB
// Streams API, wrapped as Lambda's event source mapping wraps them, and indexed by the handler
// into the local `_bulk` server, whose final contents the tests assert.

describe('a DynamoDB table indexed into OpenSearch through the handler', () => {
  const dynamodb = new DynamoDBClient(awsClientConfig());
  const streams = new DynamoDBStreamsClient(awsClientConfig());
  const s3 = new S3Client(awsClientConfig());
  const table = uniqueName('profiles');
  let streamArn: string;
  let event: DynamoDBStreamEvent;
  let server: BulkServer;

  beforeAll(async () => {
    server = await BulkServer.start();
    const created = await dynamodb.send(new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }));
    streamArn = created.TableDescription!.LatestStreamArn!;
    const put = (id: string, name: string, updated: number) => dynamodb.send(new PutItemCommand({ TableName: table, Item: { id: { S: id }, name: { S: name }, updated_at: { N: String(updated) } } }));
    await put('u1', 'Ada', 1000);
    await put('u2', 'Grace', 1001);
    await put('u3', 'Edsger', 1002);
    await dynamodb.send(new UpdateItemCommand({
      TableName: table, Key: { id: { S: 'u1' } }, UpdateExpression: 'SET #name = :name, updated_at = :at',
      ExpressionAttributeNames: { '#name': 'name' }, ExpressionAttributeValues: { ':name': { S: 'Ada L.' }, ':at': { N: '2000' } },
    }));
    await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { id: { S: 'u2' } } }));

    event = await dynamoDbEventFromStream(streams, streamArn);
  });

  afterAll(async () => {
    dynamodb.destroy();
    streams.destroy();
    s3.destroy();
    await server.stop();
  });

  beforeEach(() => {
    server.reset();
  });

  /** A spec reading the table's stream (declared by its ARN) into the server's `profiles` index. */
  function pipeline(sink: Record<string, unknown> = {}) {
    const spec = validSpec({
      version: 1,
      name: 'profiles',
      dead_letter: { bucket: uniqueName('never-written') },
      sources: { users: { type: 'dynamodb', stream_arn: streamArn, image: 'new' } },
      sinks: {
        search: { type: 'opensearch', inputs: ['users'], endpoint: server.url, auth: { type: 'none' }, index: 'profiles', id: '{{record.id}}', action: 'auto', ...sink },
      },
    });
    return motoHandler(spec, s3, { captureDeadLetters: true }).handler;
  }

  it('reports documents written, retried and dead-lettered and the latency of each bulk request in the sink\'s metrics', async () => {
    let throttled = 0;
    server.itemFault = (operation) => {
      if (operation.id === 'u3' && throttled++ < 2) return { status: 429, type: 'es_rejected_execution_exception', reason: 'busy' };
      if (operation.id === 'u1' && operation.source?.name === 'Ada') return { status: 400, type: 'mapper_parsing_exception', reason: 'bad' };
      return undefined;
    };
    const spec = validSpec({
      version: 1,
      name: 'profiles',
      dead_letter: { bucket: uniqueName('never-written') },
      sources: { users: { type: 'dynamodb', stream_arn: streamArn } },
      sinks: { search: { type: 'opensearch', inputs: ['users'], endpoint: server.url, auth: { type: 'none' }, index: 'profiles', id: '{{record.id}}', concurrency: 1, retry: { initial_backoff_ms: 1 } } },
    });
    const { handler, lines } = motoHandler(spec, s3, { captureDeadLetters: true });

    await handler(event);

    const metrics = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.Component === 'search' && '_aws' in line)!;
    expect(metrics).toMatchObject({ RecordsIn: 5, RecordsOut: 4, RecordsDeadLettered: 1, RecordsRetried: 2, Requests: 3 });
    expect(metrics.RequestLatency).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
    const names = (metrics._aws as { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] }).CloudWatchMetrics[0]!.Metrics;
    expect(names).toEqual(expect.arrayContaining([{ Name: 'RecordsRetried', Unit: 'Count' }, { Name: 'Requests', Unit: 'Count' }, { Name: 'RequestLatency', Unit: 'Milliseconds' }]));
  });

  it('reads five changes from the stream, in the order they were made', () => {
    expect(event.Records.map((record) => [record.eventName, record.dynamodb?.Keys?.id?.S])).toEqual([
      ['INSERT', 'u1'], ['INSERT', 'u2'], ['INSERT', 'u3'], ['MODIFY', 'u1'], ['REMOVE', 'u2'],
    ]);
  });

  it('applies inserts, updates and deletes in order, leaving each remaining item indexed once', async () => {
    const handler = pipeline();

    const summary = await handler.invoke(event);

    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect(summary.counts).toEqual({ records_in: 5, written: 5, filtered: 0, dead_lettered: 0, failed: 0 });
    expect(server.documents('profiles')).toEqual({
      u1: { id: 'u1', name: 'Ada L.', updated_at: 2000 },
      u3: { id: 'u3', name: 'Edsger', updated_at: 1002 },
    });
  });

  it('changes nothing when the same batch is delivered again', async () => {
    const handler = pipeline({ version: '{{record.updated_at}}' });
    await handler(event);
    const before = server.documents('profiles');

    const summary = await handler.invoke(event);

    expect(summary.counts.written).toBe(5);
    expect(server.documents('profiles')).toEqual(before);
  });

  it('never lets a stale redelivery of the first insert overwrite the newer update, with a version', async () => {
    const handler = pipeline({ version: '{{record.updated_at}}' });
    await handler(event);

    const summary = await handler.invoke({ Records: [event.Records[0]!] });

    expect(summary.counts).toMatchObject({ written: 1, failed: 0 });
    expect(server.documents('profiles').u1).toEqual({ id: 'u1', name: 'Ada L.', updated_at: 2000 });
  });

  it('dead-letters a document the cluster rejects with the document itself and the reason, while the others are indexed', async () => {
    server.itemFault = (operation) => (operation.id === 'u3' ? { status: 400, type: 'mapper_parsing_exception', reason: 'failed to parse field [name]' } : undefined);
    const handler = pipeline({ on_error: 'retry' });

    const summary = await handler.invoke(event);

    expect(summary.counts).toEqual({ records_in: 5, written: 4, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(summary.deadLetters).toEqual([
      expect.objectContaining({ stage: 'sink', code: 'sink-rejected', component: 'search', record: { id: 'u3', name: 'Edsger', updated_at: 1002 }, message: expect.stringContaining('mapper_parsing_exception: failed to parse field [name]') }),
    ]);
    expect(Object.keys(server.documents('profiles'))).toEqual(['u1']);
  });

  it('reports the changes still throttled when the time runs out in batchItemFailures, and indexes the rest', async () => {
    server.itemFault = (operation) => (operation.id === 'u3' ? { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of bulk' } : undefined);
    const handler = pipeline({ retry: { max_attempts: 100, initial_backoff_ms: 50, max_backoff_ms: 200 } });
    const started = Date.now();

    const summary = await handler.invoke(event, { getRemainingTimeInMillis: () => 3000 });

    expect(Date.now() - started).toBeLessThan(3000);
    expect(summary.response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[2]!.dynamodb!.SequenceNumber! }] });
    expect(summary.counts).toMatchObject({ written: 4, failed: 1 });
    expect(server.documents('profiles')).toEqual({ u1: { id: 'u1', name: 'Ada L.', updated_at: 2000 } });
  });
});
