import {
  CreateStreamCommand, DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, PutRecordCommand, waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import type { _Record as KinesisApiRecord } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationFailedError } from '../../engine/handler.ts';
import { UnknownEventError } from '../../engine/sources/dispatch.ts';
import { awsClientConfig } from '../support/env.ts';
import { kinesisEventFromGetRecords } from './support/lambda-events.ts';
import { motoHandler, validSpec } from './support/pipeline-under-test.ts';
import { createBuckets, jsonLines, listKeys, readObjects, recordsIn, uniqueName } from './support/s3-contents.ts';

// Twenty orders go into a real (moto) Kinesis stream and come back through GetRecords; the test
// then plays the event source mapping and invokes the handler with them. Three of them are not
// plain good orders: one is not JSON, one has an amount `cast` cannot read, one is a test order
// the transform filters out.
const COUNT = 20;
const NOT_JSON = 5;
const BAD_AMOUNT = 11;
const TEST_ORDER = 14;

function payload(index: number): string {
  if (index === NOT_JSON) return '{"order_id": 5, "amount": ';
  const amount = index === BAD_AMOUNT ? 'lots' : `${index}.5`;
  return JSON.stringify({ order_id: index, uid: `u${index}`, amount, status: index === TEST_ORDER ? 'test' : 'paid' });
}

/** What the sink should hold for a good order. */
function transformed(index: number) {
  return { order_id: index, user_id: `u${index}`, amount: index + 0.5, status: 'paid' };
}

const GOOD = Array.from({ length: COUNT }, (_, index) => index).filter((index) => ![NOT_JSON, BAD_AMOUNT, TEST_ORDER].includes(index));

function ordersSpec(stream: string, buckets: { sink: string; deadLetters: string }, sinks?: Record<string, unknown>) {
  return validSpec({
    version: 1,
    name: 'orders',
    dead_letter: { bucket: buckets.deadLetters, prefix: 'orders/{{stage}}/' },
    sources: { orders: { type: 'kinesis', stream, format: 'json' } },
    transforms: {
      clean: {
        inputs: ['orders'],
        steps: [{ filter: "record.status != 'test'" }, { rename: { uid: 'user_id' } }, { cast: { amount: 'double' } }],
      },
    },
    sinks: sinks ?? { archive: { type: 's3', inputs: ['clean'], bucket: buckets.sink, key: "orders/{{meta.shard}}/{{date meta.arrival_time 'yyyy-MM-dd'}}/" } },
  });
}

describe('the handler on a Kinesis batch read back from moto', () => {
  const kinesis = new KinesisClient(awsClientConfig());
  const s3 = new S3Client(awsClientConfig());
  const stream = uniqueName('orders');
  let shardId: string;
  let event: KinesisStreamEvent;

  beforeAll(async () => {
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    await waitUntilStreamExists({ client: kinesis, maxWaitTime: 30, minDelay: 1 }, { StreamName: stream });
    // One at a time: each put is acknowledged before the next, so sequence numbers follow the indexes.
    for (let index = 0; index < COUNT; index++) {
      await kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: `customer-${index % 3}`, Data: Buffer.from(payload(index)) }));
    }
    const description = (await kinesis.send(new DescribeStreamCommand({ StreamName: stream }))).StreamDescription!;
    shardId = description.Shards![0]!.ShardId!;
    let iterator = (await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    const records: KinesisApiRecord[] = [];
    while (records.length < COUNT && iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...(page.Records ?? []));
      iterator = page.NextShardIterator;
    }
    event = kinesisEventFromGetRecords(description.StreamARN!, shardId, records);
  });

  afterAll(() => {
    kinesis.destroy();
    s3.destroy();
  });

  async function freshBuckets() {
    const buckets = { sink: uniqueName('orders-archive'), deadLetters: uniqueName('orders-errors') };
    await createBuckets(s3, buckets.sink, buckets.deadLetters);
    return buckets;
  }

  it('builds its event from the stream: every record put, in order, with its shard and sequence number', () => {
    expect(event.Records.map((record) => Buffer.from(record.kinesis.data, 'base64').toString())).toEqual(Array.from({ length: COUNT }, (_, index) => payload(index)));
    expect(event.Records[0]!.eventID).toBe(`${shardId}:${event.Records[0]!.kinesis.sequenceNumber}`);
    expect(event.Records[0]!.eventSourceARN).toMatch(new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${stream}$`));
  });

  it('writes exactly the good records, transformed, as gzip JSON lines in the sink bucket', async () => {
    const buckets = await freshBuckets();
    const { handler } = motoHandler(ordersSpec(stream, buckets), s3);

    await handler(event);

    const objects = await readObjects(s3, buckets.sink);
    // Partitioned by the arrival time moto recorded for each record.
    const days = [...new Set(GOOD.map((index) => new Date(event.Records[index]!.kinesis.approximateArrivalTimestamp * 1000).toISOString().slice(0, 10)))];
    expect(objects.map((object) => object.key.split('/').slice(0, 3).join('/'))).toEqual(days.map((day) => `orders/${shardId}/${day}`));
    expect(objects.map((object) => object.key.split('/').at(-1))).toEqual([expect.stringMatching(new RegExp(`^orders-${shardId}_\\d+-[0-9a-f]{16}-${GOOD.length}\\.jsonl\\.gz$`))]);
    expect(objects[0]).toMatchObject({ contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
    expect(jsonLines(objects[0]!.text)).toEqual(GOOD.map(transformed));
  });

  it('rejects the same records read from another stream, the only Kinesis source declaring this one, and writes nothing', async () => {
    const buckets = await freshBuckets();
    const { handler } = motoHandler(ordersSpec(uniqueName('other-orders'), buckets), s3);

    await expect(handler(event)).rejects.toThrow(UnknownEventError);

    expect(await readObjects(s3, buckets.sink)).toEqual([]);
    expect(await readObjects(s3, buckets.deadLetters)).toEqual([]);
  });

  it('answers with no batch item failures and counts that reconcile', async () => {
    const buckets = await freshBuckets();
    const { handler } = motoHandler(ordersSpec(stream, buckets), s3);

    const summary = await handler.invoke(event);

    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect(summary.counts).toEqual({ records_in: COUNT, written: GOOD.length, filtered: 1, dead_lettered: 2, failed: 0 });
    const { records_in, written, filtered, dead_lettered, failed } = summary.counts;
    expect(written + filtered + dead_lettered + failed).toBe(records_in);
  });

  it('dead-letters the record that is not JSON and the one whose cast fails, as JSON lines with stage, code, position and raw', async () => {
    const buckets = await freshBuckets();
    const { handler } = motoHandler(ordersSpec(stream, buckets), s3);

    await handler(event);

    const keys = await listKeys(s3, buckets.deadLetters);
    expect(keys).toEqual([
      expect.stringMatching(/^orders\/decode\/orders-[0-9a-f]{20}-1\.jsonl$/),
      expect.stringMatching(/^orders\/transform\/orders-[0-9a-f]{20}-1\.jsonl$/),
    ]);
    const letters = await recordsIn(s3, buckets.deadLetters);
    const position = (index: number) => `${shardId}/${event.Records[index]!.kinesis.sequenceNumber}`;
    expect(letters).toEqual([
      expect.objectContaining({ stage: 'decode', code: 'invalid-json', component: 'orders', source: 'orders', position: position(NOT_JSON), raw_encoding: 'utf8', raw: payload(NOT_JSON) }),
      expect.objectContaining({
        stage: 'transform', code: 'transform-error', component: 'clean', position: position(BAD_AMOUNT), raw: payload(BAD_AMOUNT),
        record: { order_id: BAD_AMOUNT, user_id: `u${BAD_AMOUNT}`, amount: 'lots', status: 'paid' },
      }),
    ]);
    expect(letters[1]!.meta).toMatchObject({ stream, shard: shardId, sequence: event.Records[BAD_AMOUNT]!.kinesis.sequenceNumber, partition_key: `customer-${BAD_AMOUNT % 3}` });
  });

  it('rewrites the same keys with the same content when the same event is delivered again', async () => {
    const buckets = await freshBuckets();
    await motoHandler(ordersSpec(stream, buckets), s3).handler(event);
    const first = await readObjects(s3, buckets.sink);
    const firstLetters = await listKeys(s3, buckets.deadLetters);
    expect(first).toHaveLength(1);
    expect(firstLetters).toHaveLength(2);

    await motoHandler(ordersSpec(stream, buckets), s3).handler(event);

    const second = await readObjects(s3, buckets.sink);
    expect(second.map((object) => object.key)).toEqual(first.map((object) => object.key));
    expect(second.map((object) => object.text)).toEqual(first.map((object) => object.text));
    expect(await listKeys(s3, buckets.deadLetters)).toEqual(firstLetters);
  });

  it('dead-letters, rather than retries forever, exactly the records routed to a bucket that does not exist', async () => {
    const buckets = await freshBuckets();
    const missing = uniqueName('never-created');
    const spec = ordersSpec(stream, buckets, {
      small: { type: 's3', inputs: ['clean'], where: 'record.amount < 10.0', bucket: buckets.sink, key: 'small/', on_error: 'retry' },
      large: { type: 's3', inputs: ['clean'], where: 'record.amount >= 10.0', bucket: missing, key: 'large/', on_error: 'retry' },
    });
    const { handler, lines } = motoHandler(spec, s3);

    const summary = await handler.invoke(event);

    // NoSuchBucket is an answer a retry cannot change (classifyStoreError): the records are set aside.
    const large = GOOD.filter((index) => index >= 10);
    expect(summary.response?.batchItemFailures).toEqual([]);
    expect(summary.counts).toEqual({ records_in: COUNT, written: GOOD.length - large.length, filtered: 1, dead_lettered: 2 + large.length, failed: 0 });
    expect((await recordsIn(s3, buckets.sink)).map((record) => record.order_id)).toEqual(GOOD.filter((index) => index < 10));
    const sinkLetters = await recordsIn(s3, buckets.deadLetters, 'orders/sink/');
    // A write that fails after `add` returned leaves the letter the raw input (the sink no longer holds the record).
    expect(sinkLetters.map((letter) => [letter.code, letter.component, (JSON.parse(letter.raw as string) as { order_id: number }).order_id])).toEqual(large.map((index) => ['sink-rejected', 'large', index]));
    expect(sinkLetters[0]!.message).toContain('NoSuchBucket');
    expect(lines.length).toBeGreaterThan(0);
  });

  it('throws when every record of the batch failed: neither the sink bucket nor the dead-letter bucket exists', async () => {
    const buckets = await freshBuckets();
    const spec = ordersSpec(stream, { ...buckets, deadLetters: uniqueName('never-created') }, { archive: { type: 's3', inputs: ['clean'], bucket: uniqueName('never-created'), key: 'orders/' } });
    const goodOnly: KinesisStreamEvent = { Records: GOOD.map((index) => event.Records[index]!) };
    const { handler } = motoHandler(spec, s3);

    await expect(handler(goodOnly)).rejects.toBeInstanceOf(InvocationFailedError);
    expect(await listKeys(s3, buckets.deadLetters)).toEqual([]);
  });

  it('dead-letters instead of retrying when the unreachable sink says on_error: dead_letter', async () => {
    const buckets = await freshBuckets();
    const spec = ordersSpec(stream, buckets, { archive: { type: 's3', inputs: ['clean'], bucket: uniqueName('never-created'), key: 'orders/', on_error: 'dead_letter' } });
    const { handler } = motoHandler(spec, s3);

    const summary = await handler.invoke(event);

    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect(summary.counts).toEqual({ records_in: COUNT, written: 0, filtered: 1, dead_lettered: GOOD.length + 2, failed: 0 });
    const sinkLetters = (await recordsIn(s3, buckets.deadLetters, 'orders/sink/'));
    expect(sinkLetters.map((letter) => (letter.record as { order_id: number }).order_id)).toEqual(GOOD);
    expect(sinkLetters[0]).toMatchObject({ stage: 'sink', code: 'sink-rejected', component: 'archive' });
  });
});
