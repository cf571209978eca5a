import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationFailedError } from '../../engine/handler.ts';
import { s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import { awsClientConfig } from '../support/env.ts';
import { s3NotificationInSqs, sqsEventFromMessages } from './support/lambda-events.ts';
import type { NotifiedObject } from './support/lambda-events.ts';
import { motoHandler, validSpec } from './support/pipeline-under-test.ts';
import { createBuckets, jsonLines, listKeys, readObjects, recordsIn, uniqueName } from './support/s3-contents.ts';

// Objects are put into a moto bucket, announced by the events S3 really sends (EventBridge
// through SQS, the default wiring; classic notifications through SQS), read back by the
// handler through S3ObjectStore, and their records looked for in moto again.

const JSONL = ['{"click":1,"page":"/"}', '{"click":2,"page":"/pricing"}', '{"click":3,"page":"/signup"}'].join('\n') + '\n';
const CSV = 'id,page,ms\n1,/,120\n2,/pricing,95,extra\n3,/signup,300\n';
const JSON_ARRAY = JSON.stringify([{ doc: 'a', n: 1 }, { doc: 'b', n: 2 }]);

describe('the handler on S3 objects in moto', () => {
  const s3 = new S3Client(awsClientConfig());
  const raw = uniqueName('clicks-raw');
  const unreadable = uniqueName('never-created');

  beforeAll(async () => {
    await createBuckets(s3, raw);
  });

  afterAll(() => {
    s3.destroy();
  });

  /** Buckets of one test, and a spec reading `raw` three ways; each record says which object and line it came from. */
  async function pipeline(sink: Record<string, unknown> = {}) {
    const out = uniqueName('clicks-out');
    const errors = uniqueName('clicks-errors');
    await createBuckets(s3, out, errors);
    const spec = validSpec({
      version: 1,
      name: 'clicks',
      dead_letter: { bucket: errors },
      sources: {
        lines: { type: 's3', bucket: raw, prefix: 'jsonl/', format: 'jsonl' },
        rows: { type: 's3', bucket: raw, prefix: 'csv/', format: 'csv' },
        docs: { type: 's3', bucket: raw, prefix: 'json/', format: 'json' },
        elsewhere: { type: 's3', bucket: unreadable, format: 'jsonl' },
      },
      transforms: {
        traced: {
          inputs: ['lines', 'rows', 'docs', 'elsewhere'],
          steps: [{ set: { from_key: 'meta.key', from_line: 'meta.line', from_etag: 'meta.etag' } }],
        },
      },
      sinks: { out: { type: 's3', inputs: ['traced'], bucket: out, key: '{{meta.source}}/', ...sink } },
    });
    return { out, errors, ...motoHandler(spec, s3) };
  }

  /** Puts an object and returns what a notification says about it, from HeadObject (ETag without quotes, as events carry it). */
  async function put(key: string, body: string | Buffer, contentEncoding?: string): Promise<NotifiedObject> {
    await s3.send(new PutObjectCommand({ Bucket: raw, Key: key, Body: body, ...(contentEncoding ? { ContentEncoding: contentEncoding } : {}) }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: raw, Key: key }));
    return { bucket: raw, key, size: head.ContentLength!, etag: head.ETag!.replace(/^"|"$/g, '') };
  }

  it('reads a gzip JSON-lines object that EventBridge announced through SQS', async () => {
    const object = await put(`jsonl/${uniqueName('day')}/clicks.jsonl.gz`, gzipSync(JSONL), 'gzip');
    const { handler, out } = await pipeline();

    const response = await handler(s3ObjectCreatedEvent([object]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(object.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(await recordsIn(s3, out, 'lines/')).toEqual([
      { click: 1, page: '/', from_key: object.key, from_line: 1, from_etag: object.etag },
      { click: 2, page: '/pricing', from_key: object.key, from_line: 2, from_etag: object.etag },
      { click: 3, page: '/signup', from_key: object.key, from_line: 3, from_etag: object.etag },
    ]);
  });

  it('dead-letters the CSV row with a field too many and writes its neighbours', async () => {
    const object = await put(`csv/${uniqueName('visits')}.csv`, CSV);
    const { handler, out, errors } = await pipeline();

    const summary = await handler.invoke(s3ObjectCreatedEvent([object]));

    expect(summary.counts).toEqual({ records_in: 3, written: 2, filtered: 0, dead_lettered: 1, failed: 0 });
    expect((await recordsIn(s3, out, 'rows/')).map(({ id, page, ms, from_line }) => ({ id, page, ms, from_line }))).toEqual([
      { id: '1', page: '/', ms: '120', from_line: 2 },
      { id: '3', page: '/signup', ms: '300', from_line: 4 },
    ]);
    const [letter] = await recordsIn(s3, errors);
    expect(letter).toMatchObject({ stage: 'decode', code: 'invalid-csv', source: 'rows', position: `${raw}/${object.key}@${object.etag}:3`, raw: '2,/pricing,95,extra' });
  });

  it('reads a JSON array object as one record per element', async () => {
    const object = await put(`json/${uniqueName('docs')}.json`, JSON_ARRAY);
    const { handler, out } = await pipeline();

    await handler(s3ObjectCreatedEvent([object]));

    expect((await recordsIn(s3, out, 'docs/')).map(({ doc, n, from_line }) => ({ doc, n, from_line }))).toEqual([
      { doc: 'a', n: 1, from_line: 0 },
      { doc: 'b', n: 2, from_line: 1 },
    ]);
  });

  it('reads the objects that classic S3 notifications announced through SQS, one message each', async () => {
    const objects = [
      await put(`jsonl/${uniqueName('plain')}.jsonl`, JSONL),
      await put(`csv/${uniqueName('visits')}.csv`, CSV),
      await put(`json/${uniqueName('docs')}.json`, JSON_ARRAY),
    ];
    const { handler, out } = await pipeline();

    const summary = await handler.invoke(s3NotificationInSqs(objects));

    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect(summary.counts).toEqual({ records_in: 3 + 3 + 2, written: 3 + 2 + 2, filtered: 0, dead_lettered: 1, failed: 0 });
    const fromKeys = (records: Record<string, unknown>[]) => [...new Set(records.map((record) => record.from_key))];
    expect(fromKeys(await recordsIn(s3, out, 'lines/'))).toEqual([objects[0]!.key]);
    expect(fromKeys(await recordsIn(s3, out, 'rows/'))).toEqual([objects[1]!.key]);
    expect(fromKeys(await recordsIn(s3, out, 'docs/'))).toEqual([objects[2]!.key]);
  });

  it('reads a key holding spaces and a plus sign, whichever event announced it', async () => {
    const object = await put(`jsonl/${uniqueName('two words')} a+b (1).jsonl`, JSONL);
    const viaEventBridge = await pipeline();
    const viaNotification = await pipeline();

    await viaEventBridge.handler(s3ObjectCreatedEvent([object]));
    await viaNotification.handler(s3NotificationInSqs([object]));

    for (const { out } of [viaEventBridge, viaNotification]) {
      const records = await recordsIn(s3, out, 'lines/');
      expect(records.map((record) => record.from_key)).toEqual([object.key, object.key, object.key]);
    }
  });

  it('dead-letters an object deleted before the invocation as object-not-found, without retrying it', async () => {
    const object = await put(`jsonl/${uniqueName('gone')}.jsonl`, JSONL);
    await s3.send(new DeleteObjectCommand({ Bucket: raw, Key: object.key }));
    const { handler, out, errors } = await pipeline();

    const summary = await handler.invoke(s3ObjectCreatedEvent([object]));

    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(await listKeys(s3, out)).toEqual([]);
    const letters = await recordsIn(s3, errors);
    expect(letters).toEqual([expect.objectContaining({ stage: 'decode', code: 'object-not-found', source: 'lines', raw: '' })]);
    expect(letters[0]!.meta).toMatchObject({ bucket: raw, key: object.key, line: 0 });
  });

  it('reports for retry only the SQS message whose bucket cannot be read', async () => {
    const object = await put(`jsonl/${uniqueName('fine')}.jsonl`, JSONL);
    const { handler, out } = await pipeline();
    const event = s3ObjectCreatedEvent([object, { bucket: unreadable, key: 'clicks.jsonl', size: 10 }]);

    const summary = await handler.invoke(event);

    expect(summary.response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]!.messageId }] });
    expect(await recordsIn(s3, out, 'lines/')).toHaveLength(3);
  });

  it('leaves no object and no multipart upload of a corrupt gzip object, and dead-letters the object once', async () => {
    const good = gzipSync(Array.from({ length: 5000 }, (_, id) => `${JSON.stringify({ id, r: (id * 7919) % 10007 })}\n`).join(''));
    const corrupt = Buffer.from(good);
    const middle = Math.floor(corrupt.length / 2);
    for (let index = middle; index < middle + 20; index++) corrupt[index] = corrupt[index]! ^ 0xff;
    const object = await put(`jsonl/${uniqueName('corrupt')}.jsonl.gz`, corrupt);
    const { handler, out, errors } = await pipeline({ batch: { max_records: 100 } });

    const summary = await handler.invoke(s3ObjectCreatedEvent([object]));

    expect(await listKeys(s3, out)).toEqual([]);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: out }))).Uploads ?? []).toEqual([]);
    expect((await recordsIn(s3, errors)).map((letter) => [letter.code, (letter.meta as { key: string }).key])).toEqual([['invalid-gzip', object.key]]);
    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(summary.failures).toEqual([{ item: summary.items[0]!.id, retried: false, reason: expect.stringContaining('invalid-gzip') }]);
    expect(summary.response).toEqual({ batchItemFailures: [] });
  }, 60_000);

  it('completes the multipart uploads of an object read whole, leaving none open', async () => {
    const body = gzipSync(Array.from({ length: 5000 }, (_, id) => `${JSON.stringify({ id })}\n`).join(''));
    const object = await put(`jsonl/${uniqueName('whole')}.jsonl.gz`, body);
    const { handler, out } = await pipeline({ batch: { max_records: 1000 } });

    const summary = await handler.invoke(s3ObjectCreatedEvent([object]));

    expect(summary.counts).toMatchObject({ records_in: 5000, written: 5000 });
    expect(await listKeys(s3, out)).toHaveLength(5);
    expect((await recordsIn(s3, out)).map((record) => record.id as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 5000 }, (_, id) => id));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: out }))).Uploads ?? []).toEqual([]);
  }, 60_000);

  it('names the store error of an object that cannot be read in the summary', async () => {
    const { handler } = await pipeline();
    const event = s3ObjectCreatedEvent([{ bucket: unreadable, key: 'clicks.jsonl', size: 10 }]);

    const failed = (await handler.invoke(event).catch((error: unknown) => error)) as InvocationFailedError;

    expect(failed).toBeInstanceOf(InvocationFailedError);
    expect(failed.summary.failures).toEqual([{ item: event.Records[0]!.messageId, retried: true, reason: expect.stringMatching(/^NoSuchBucket \(HTTP 404\)/) }]);
    expect(failed.summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 0, failed: 1 });
  });

  it('streams a large gzip object and splits its records into objects of batch.max_records', async () => {
    const lines = 60_000;
    const body = gzipSync(Array.from({ length: lines }, (_, id) => `${JSON.stringify({ id, noise: randomBytes(48).toString('base64') })}\n`).join(''));
    expect(body.byteLength).toBeGreaterThan(3 * 1024 * 1024);
    const object = await put(`jsonl/${uniqueName('large')}.jsonl.gz`, body);
    const { handler, out } = await pipeline({ batch: { max_records: 25_000 } });

    const summary = await handler.invoke(s3ObjectCreatedEvent([object]));

    expect(summary.counts).toEqual({ records_in: lines, written: lines, filtered: 0, dead_lettered: 0, failed: 0 });
    const objects = await readObjects(s3, out, 'lines/');
    const ids = objects.map((stored) => jsonLines(stored.text).map((record) => record.id as number));
    expect(ids.map((part) => part.length).sort()).toEqual([10_000, 25_000, 25_000]);
    expect(ids.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: lines }, (_, id) => id));
    expect(objects.every((stored) => stored.key.endsWith('.jsonl.gz') && stored.contentEncoding === 'gzip')).toBe(true);
  }, 60_000);
});

// Here moto itself announces the objects: S3 sends its notification (or its EventBridge event,
// routed by a rule) to an SQS queue, and the test receives the messages as the event source
// mapping would. moto's EventBridge events do not form-encode keys as S3 does
// (docs/decisions/0009-s3-event-keys-and-object-reading.md), so that path uses a plain key.
describe('the handler on S3 events that moto delivered through SQS', () => {
  const s3 = new S3Client(awsClientConfig());
  const sqs = new SQSClient(awsClientConfig());
  const eventBridge = new EventBridgeClient(awsClientConfig());

  afterAll(() => {
    s3.destroy();
    sqs.destroy();
    eventBridge.destroy();
  });

  /** A new queue's URL and ARN. */
  async function queue(): Promise<{ url: string; arn: string }> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('ingest-objects') }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
  }

  /** Receives until `count` messages arrived (moto sends them as the object is put). */
  async function receive(url: string, count: number): Promise<Message[]> {
    const messages: Message[] = [];
    for (let attempt = 0; attempt < 20 && messages.length < count; attempt++) {
      const page = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 1 }));
      messages.push(...(page.Messages ?? []));
    }
    return messages;
  }

  /** A spec reading JSON lines from `bucket` into a new sink bucket. */
  async function pipeline(bucket: string) {
    const out = uniqueName('delivered-out');
    const errors = uniqueName('delivered-errors');
    await createBuckets(s3, out, errors);
    const spec = validSpec({
      version: 1,
      name: 'delivered',
      dead_letter: { bucket: errors },
      sources: { objects: { type: 's3', bucket, format: 'jsonl' } },
      transforms: { traced: { inputs: ['objects'], steps: [{ set: { from_key: 'meta.key' } }] } },
      sinks: { out: { type: 's3', inputs: ['traced'], bucket: out, key: 'objects/' } },
    });
    return { out, errors, ...motoHandler(spec, s3) };
  }

  it('reads the object of a classic notification and takes the s3:TestEvent before it for nothing', async () => {
    const bucket = uniqueName('notified');
    const { url, arn } = await queue();
    await createBuckets(s3, bucket);
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: { QueueConfigurations: [{ QueueArn: arn, Events: ['s3:ObjectCreated:*'] }] },
    }));
    const key = 'in/two words a+b.jsonl';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSONL }));
    const messages = await receive(url, 2);
    const { handler, out, errors } = await pipeline(bucket);

    const summary = await handler.invoke(sqsEventFromMessages(arn, messages));

    expect(messages.map((message) => JSON.parse(message.Body!).Event ?? JSON.parse(message.Body!).Records[0].eventName)).toEqual(['s3:TestEvent', 'ObjectCreated:Put']);
    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect(summary.counts).toEqual({ records_in: 3, written: 3, filtered: 0, dead_lettered: 0, failed: 0 });
    expect((await recordsIn(s3, out)).map((record) => [record.click, record.from_key])).toEqual([[1, key], [2, key], [3, key]]);
    expect(await listKeys(s3, errors)).toEqual([]);
  });

  it('reads the object of an EventBridge Object Created event that a rule sent to SQS', async () => {
    const bucket = uniqueName('bridged');
    const { url, arn } = await queue();
    const rule = uniqueName('ingest-objects');
    await eventBridge.send(new PutRuleCommand({
      Name: rule,
      EventPattern: JSON.stringify({ source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: [bucket] } } }),
    }));
    await eventBridge.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'queue', Arn: arn }] }));
    await createBuckets(s3, bucket);
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: { EventBridgeConfiguration: {} } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'in/clicks.jsonl.gz', Body: gzipSync(JSONL) }));
    const messages = await receive(url, 1);
    const { handler, out } = await pipeline(bucket);

    const summary = await handler.invoke(sqsEventFromMessages(arn, messages));

    expect(messages.map((message) => JSON.parse(message.Body!)['detail-type'])).toEqual(['Object Created']);
    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect((await recordsIn(s3, out)).map((record) => [record.click, record.from_key])).toEqual([[1, 'in/clicks.jsonl.gz'], [2, 'in/clicks.jsonl.gz'], [3, 'in/clicks.jsonl.gz']]);
  });
});
