import { readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../engine/handler.ts';
import type { InvocationSummary } from '../../engine/handler.ts';
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';
import { UnknownEventError } from '../../engine/sources/dispatch.ts';
import { CaptureSink } from '../../engine/testing/capture-sink.ts';
import { NO_FILES, validSpec } from './support/pipeline-under-test.ts';

// Every captured AWS sample event of test/fixtures/events (origins in its README) through the
// whole handler: dispatch, decoding, the transform graph and outcome counting. The spec's source
// is derived from the event (stream, table, bucket), sinks are captured in memory, and the
// objects S3 events name are seeded in a memory store.

function fixture(name: string): any {
  return JSON.parse(readFileSync(new URL(`../fixtures/events/${name}`, import.meta.url), 'utf8'));
}

interface Outcome {
  summary: InvocationSummary;
  /** What reached the sink. */
  records: Record<string, unknown>[];
  /** Codes of the dead letters, in order. */
  letters: string[];
}

/** Invokes a handler whose one source is `source` with `event`; S3 objects come from `store`. */
async function invoke(source: Record<string, unknown>, event: unknown, store = new MemoryObjectStore()): Promise<Outcome> {
  const spec = validSpec({
    version: 1,
    name: 'samples',
    sources: { sample: source },
    sinks: { captured: { type: 's3', inputs: ['sample'], bucket: 'captured', key: 'x/' } },
  });
  const capture = new CaptureSink();
  const handler = createHandler(spec, { ports: { objects: store }, files: NO_FILES, sinkOverride: () => capture, captureDeadLetters: true, write: () => {} });
  const summary = await handler.invoke(event);
  return { summary, records: capture.records, letters: (summary.deadLetters ?? []).map((letter) => letter.code) };
}

const streamName = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/** The fixtures this file runs; a fixture added to the folder must be added here, with its test. */
const TESTED = [
  'kinesis-json.json', 'kinesis-text.json', 'kinesis-cloudwatch-logs.json',
  'dynamodb-insert-modify-remove.json', 'dynamodb-all-types.json',
  's3-put.json', 's3-put-encoded-key.json', 's3-test-event-message.json',
  'sqs-s3.json', 'sqs-raw-sns-s3.json', 'sqs-sns-s3.json', 'sqs-eventbridge-s3.json', 'sns-s3.json',
  'eventbridge-s3-object-created.json', 'eventbridge-s3-object-deleted.json',
];

it('runs every captured event of test/fixtures/events', () => {
  const captured = readdirSync(new URL('../fixtures/events/', import.meta.url)).filter((name) => name.endsWith('.json'));

  expect(captured.sort()).toEqual([...TESTED].sort());
});

describe('captured Kinesis events', () => {
  it('decodes the JSON sample as its one record', async () => {
    const event = fixture('kinesis-json.json');

    const { summary, records } = await invoke({ type: 'kinesis', stream: streamName(event.Records[0].eventSourceARN), format: 'json' }, event);

    expect(records).toEqual([{ message: 'test message', username: 'test' }]);
    expect(summary.counts).toEqual({ records_in: 1, written: 1, filtered: 0, dead_lettered: 0, failed: 0 });
    expect(summary.response).toEqual({ batchItemFailures: [] });
  });

  it('decodes the plain-text payloads of the tumbling-window sample under format: text', async () => {
    const event = fixture('kinesis-text.json');

    const { summary, records } = await invoke({ type: 'kinesis', stream: streamName(event.Records[0].eventSourceARN), format: 'text' }, event);

    expect(records).toEqual([{ message: 'Hello, this is a test.' }, { message: 'This is only a test.' }]);
    expect(summary.counts).toMatchObject({ records_in: event.Records.length, written: event.Records.length });
  });

  it('dead-letters the same plain-text payloads as invalid-json under format: json', async () => {
    const event = fixture('kinesis-text.json');

    const { summary, letters } = await invoke({ type: 'kinesis', stream: streamName(event.Records[0].eventSourceARN), format: 'json' }, event);

    expect(letters).toEqual(['invalid-json', 'invalid-json']);
    expect(summary.counts).toMatchObject({ records_in: 2, written: 0, dead_lettered: 2 });
  });

  it('turns each log event of the CloudWatch Logs sample into one record', async () => {
    const event = fixture('kinesis-cloudwatch-logs.json');
    const payloads = event.Records.map((record: { kinesis: { data: string } }) => JSON.parse(gunzipSync(Buffer.from(record.kinesis.data, 'base64')).toString()));
    const logEvents = payloads.flatMap((payload: { logEvents: { message: string }[] }) => payload.logEvents);

    const { summary, records } = await invoke({ type: 'kinesis', stream: streamName(event.Records[0].eventSourceARN), format: 'cloudwatch_logs' }, event);

    expect(logEvents).toHaveLength(6);
    expect(records.map((record) => record.message)).toEqual(logEvents.map((logEvent: { message: string }) => logEvent.message));
    expect(records.every((record) => record.log_group === payloads[0].logGroup)).toBe(true);
    expect(summary.counts).toEqual({ records_in: 6, written: 6, filtered: 0, dead_lettered: 0, failed: 0 });
  });
});

describe('captured DynamoDB Streams events', () => {
  it('writes the new image of the insert and the modify, and the keys of the remove', async () => {
    const event = fixture('dynamodb-insert-modify-remove.json');

    const { summary, records } = await invoke({ type: 'dynamodb', stream_arn: event.Records[0].eventSourceARN }, event);

    expect(records).toEqual([{ Message: 'New item!', Id: 101 }, { Message: 'This item has changed', Id: 101 }, { Id: 101 }]);
    expect(summary.counts).toEqual({ records_in: 3, written: 3, filtered: 0, dead_lettered: 0, failed: 0 });
    expect(summary.response).toEqual({ batchItemFailures: [] });
  });

  it('keeps only the declared kinds of the insert-modify-remove sample', async () => {
    const event = fixture('dynamodb-insert-modify-remove.json');

    const { summary, records } = await invoke({ type: 'dynamodb', stream_arn: event.Records[0].eventSourceARN, events: ['remove'], image: 'old' }, event);

    expect(records).toEqual([{ Message: 'This item has changed', Id: 101 }]);
    expect(summary.counts).toMatchObject({ records_in: 3, written: 1, filtered: 2 });
  });

  it('decodes both records of the every-type sample, serialised with null members', async () => {
    const event = fixture('dynamodb-all-types.json');

    const { summary, records } = await invoke({ type: 'dynamodb', stream_arn: event.Records[0].eventSourceARN }, event);

    expect(summary.counts).toEqual({ records_in: 2, written: 2, filtered: 0, dead_lettered: 0, failed: 0 });
    expect(records[0]).toEqual({ val: 'data', asdf1: 'AAEqQQ==', asdf2: ['AAEqQQ==', 'QSoBAA=='], key: 'binary' });
    expect(records[1]).toMatchObject({ List: ['Cookies', 'Coffee', 3.14159], Map: { Name: 'Joe', Age: 35 }, NumberSet: [567.8, 1234], Null: null, EmptyStringSet: [] });
  });
});

describe('captured stream events from a stream or table the spec does not declare', () => {
  it.each([
    ['kinesis-json.json', { type: 'kinesis', stream: 'orders', format: 'json' }],
    ['kinesis-text.json', { type: 'kinesis', stream: 'arn:aws:kinesis:us-east-2:123456789012:stream/orders', format: 'text' }],
    ['kinesis-cloudwatch-logs.json', { type: 'kinesis', stream: 'lambda-stream', format: 'cloudwatch_logs' }],
    ['dynamodb-insert-modify-remove.json', { type: 'dynamodb', stream_arn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/users/stream/2015-06-27T00:48:05.899' }],
    ['dynamodb-all-types.json', { type: 'dynamodb', table: 'users', stream_arn: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2016-12-01T00:00:00.000' }],
  ])('rejects %s when the only source declares another origin, and writes nothing', async (name, source) => {
    const capture = new CaptureSink();
    const spec = validSpec({ version: 1, name: 'samples', sources: { sample: source }, sinks: { captured: { type: 's3', inputs: ['sample'], bucket: 'captured', key: 'x/' } } });
    const handler = createHandler(spec, { ports: { objects: new MemoryObjectStore() }, files: NO_FILES, sinkOverride: () => capture, captureDeadLetters: true, write: () => {} });

    await expect(handler.invoke(fixture(name))).rejects.toThrow(UnknownEventError);
    expect(capture.records).toEqual([]);
  });
});

describe('a DynamoDB time-to-live delete', () => {
  /** The sample event with its REMOVE made by TTL: userIdentity as the DynamoDB developer guide shows it. */
  function withTtlRemove() {
    const event = fixture('dynamodb-insert-modify-remove.json');
    for (const record of event.Records) delete record.userIdentity;
    event.Records[2].userIdentity = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
    return event;
  }

  it('can be told from a user delete in filter, set and where', async () => {
    const event = withTtlRemove();
    const capture = new CaptureSink();
    const spec = validSpec({
      version: 1,
      name: 'ttl',
      sources: { users: { type: 'dynamodb', stream_arn: event.Records[0].eventSourceARN } },
      transforms: {
        tagged: { inputs: ['users'], steps: [{ set: { changed_by: "meta.user_identity == null ? 'user' : meta.user_identity.principal_id", ttl: 'meta.ttl_delete' } }] },
        kept: { inputs: ['tagged'], steps: [{ filter: '!meta.ttl_delete' }] },
      },
      sinks: {
        everything: { type: 's3', inputs: ['tagged'], bucket: 'captured', key: 'all/' },
        no_expiries: { type: 's3', inputs: ['tagged'], bucket: 'captured', key: 'kept/', where: '!meta.ttl_delete' },
        filtered: { type: 's3', inputs: ['kept'], bucket: 'captured', key: 'filtered/' },
      },
    });
    const captures = new Map<string, CaptureSink>();
    const handler = createHandler(spec, {
      ports: { objects: new MemoryObjectStore() },
      files: NO_FILES,
      sinkOverride: (id) => {
        captures.set(id, id === 'everything' ? capture : new CaptureSink());
        return captures.get(id);
      },
      write: () => {},
    });

    await handler.invoke(event);

    expect(capture.records.map((record) => [record.changed_by, record.ttl])).toEqual([['user', false], ['user', false], ['dynamodb.amazonaws.com', true]]);
    expect(captures.get('no_expiries')!.records).toHaveLength(2);
    expect(captures.get('filtered')!.records).toHaveLength(2);
  });
});

/** The sample's S3 notification (for the message wrappers), with the `s3:TestEvent` message in its place. */
function withTestEvent(name: 'sqs-s3.json' | 'sns-s3.json' | 'sqs-sns-s3.json') {
  const event = fixture(name);
  const test = JSON.stringify(fixture('s3-test-event-message.json'));
  const record = event.Records[0];
  if (name === 'sqs-s3.json') record.body = test;
  else if (name === 'sns-s3.json') record.Sns.Message = test;
  else record.body = JSON.stringify({ ...JSON.parse(record.body), Message: test });
  return event;
}

describe('captured S3 events', () => {
  const TOML = 'version = 0.1\n\n[default.deploy.parameters]\nstack_name = "unwrap"\n';
  const TOML_LINES = [{ message: 'version = 0.1' }, { message: '[default.deploy.parameters]' }, { message: 'stack_name = "unwrap"' }];

  /** A memory store holding `body` at the bucket and key the event names. */
  function storeWith(bucket: string, key: string, body: string): MemoryObjectStore {
    const store = new MemoryObjectStore();
    store.set(bucket, key, body);
    return store;
  }

  it('reads the object of a direct S3 notification, with no batch response', async () => {
    const event = fixture('s3-put.json');
    const { name: bucket } = event.Records[0].s3.bucket;

    const { summary, records } = await invoke({ type: 's3', bucket, format: 'text' }, event, storeWith(bucket, 'HappyFace.jpg', TOML));

    expect(records).toEqual(TOML_LINES);
    expect(summary.response).toBeUndefined();
  });

  it('reads the object of a notification whose key is URL-encoded under its decoded key', async () => {
    const event = fixture('s3-put-encoded-key.json');
    const { name: bucket } = event.Records[0].s3.bucket;

    const { records, letters } = await invoke({ type: 's3', bucket, format: 'text' }, event, storeWith(bucket, 'Happy Face.jpg', TOML));

    expect(letters).toEqual([]);
    expect(records).toEqual(TOML_LINES);
  });

  it.each([
    ['sqs-s3.json', (event: any) => JSON.parse(event.Records[0].body).Records[0].s3],
    ['sqs-raw-sns-s3.json', (event: any) => JSON.parse(event.Records[0].body).Records[0].s3],
    ['sqs-sns-s3.json', (event: any) => JSON.parse(JSON.parse(event.Records[0].body).Message).Records[0].s3],
    ['sns-s3.json', (event: any) => JSON.parse(event.Records[0].Sns.Message).Records[0].s3],
  ])('reads the object that %s names', async (name, notification) => {
    const event = fixture(name);
    const { bucket, object } = notification(event);

    const { summary, records } = await invoke({ type: 's3', bucket: bucket.name, format: 'text' }, event, storeWith(bucket.name, object.key, TOML));

    expect(records).toEqual(TOML_LINES);
    expect(summary.counts).toEqual({ records_in: 3, written: 3, filtered: 0, dead_lettered: 0, failed: 0 });
    // SQS takes a partial batch response; SNS invokes Lambda asynchronously and takes none.
    expect(summary.response).toEqual(name.startsWith('sqs') ? { batchItemFailures: [] } : undefined);
  });

  it('reads the empty object of the EventBridge-through-SQS sample as no record at all', async () => {
    const event = fixture('sqs-eventbridge-s3.json');
    const { detail } = JSON.parse(event.Records[0].body);

    const { summary, letters } = await invoke({ type: 's3', bucket: detail.bucket.name, format: 'text' }, event, storeWith(detail.bucket.name, detail.object.key, ''));

    expect(detail.object.size).toBe(0);
    expect(letters).toEqual([]);
    expect(summary.counts).toEqual({ records_in: 0, written: 0, filtered: 0, dead_lettered: 0, failed: 0 });
    expect(summary.response).toEqual({ batchItemFailures: [] });
  });

  it('reads the object of a direct EventBridge Object Created event', async () => {
    const event = fixture('eventbridge-s3-object-created.json');
    // The sample's ETag is the MD5 of "hello\n".
    const store = storeWith(event.detail.bucket.name, event.detail.object.key, 'hello\n');

    const { summary, records } = await invoke({ type: 's3', bucket: event.detail.bucket.name, format: 'text' }, event, store);

    expect(store.object(event.detail.bucket.name, event.detail.object.key)?.etag).toBe(event.detail.object.etag);
    expect(records).toEqual([{ message: 'hello' }]);
    expect(summary.response).toBeUndefined();
  });

  it('ignores an EventBridge Object Deleted event without reading anything', async () => {
    const event = fixture('eventbridge-s3-object-deleted.json');

    const { summary, letters } = await invoke({ type: 's3', bucket: event.detail.bucket.name, format: 'text' }, event);

    expect(letters).toEqual([]);
    expect(summary.counts.records_in).toBe(0);
  });

  it.each(['sqs-s3.json', 'sns-s3.json', 'sqs-sns-s3.json'] as const)('yields nothing for the s3:TestEvent in the envelope of %s', async (name) => {
    const event = withTestEvent(name);

    const { summary, letters } = await invoke({ type: 's3', bucket: fixture('s3-test-event-message.json').Bucket, format: 'text' }, event);

    expect(letters).toEqual([]);
    expect(summary.counts).toEqual({ records_in: 0, written: 0, filtered: 0, dead_lettered: 0, failed: 0 });
    expect(summary.items.some((item) => item.failed)).toBe(false);
  });
});
