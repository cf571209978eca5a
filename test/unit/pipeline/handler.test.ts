import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHandler, InvocationFailedError } from '../../../engine/handler.ts';
import type { HandlerOptions } from '../../../engine/handler.ts';
import { dynamoDbInsertEvent, kinesisEvent, s3ObjectCreatedEvent } from '../../../engine/local/events.ts';
import { UnknownEventError } from '../../../engine/sources/dispatch.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import type { Sink, Ticket } from '../../../engine/plugin/types.ts';
import type { BatchItem } from '../../../engine/pipeline/pipeline.ts';
import type { KinesisMeta } from '../../../engine/pipeline/record.ts';
import type { ObjectStore } from '../../../engine/ports/object-store.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import { FailingBucketStore, storeError } from '../../support/failing-bucket-store.ts';
import { reconciling } from '../../support/reconciliation.ts';

const NOW = new Date('2026-11-27T10:00:00Z');

/** The test spec with `overrides`; an override of `undefined` leaves that field out, as a user who omits it would. */
function spec(overrides: Record<string, unknown> = {}) {
  const value: Record<string, unknown> = {
    version: 1,
    name: 'orders',
    dead_letter: { bucket: 'errors', prefix: 'orders/{{stage}}/' },
    sources: { orders: { type: 'kinesis', stream: 'orders', format: 'json' } },
    transforms: {
      clean: {
        inputs: ['orders'],
        steps: [{ filter: "record.status != 'test'" }, { rename: { uid: 'user_id' } }, { cast: { amount: 'double' } }],
      },
    },
    sinks: { archive: { type: 's3', inputs: ['clean'], bucket: 'archive', key: 'orders/', compression: 'none' } },
    ...overrides,
  };
  for (const [field, override] of Object.entries(overrides)) if (override === undefined) delete value[field];
  return resolveSpec(value);
}

/** The handler of `specValue`; every invocation through it asserts that its counts and metrics reconcile. */
function handlerFor(specValue: ReturnType<typeof spec>, store: ObjectStore = new MemoryObjectStore(), options: Partial<HandlerOptions> = {}) {
  const lines: string[] = [];
  const handler = createHandler(specValue, { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: (line) => lines.push(line), clock: () => NOW, ...options });
  return { handler: reconciling(handler, lines), lines, store };
}

const payload = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

function objectsIn(store: MemoryObjectStore, bucket: string) {
  return [...store.objects].filter(([id]) => id.startsWith(`${bucket}/`)).map(([id, object]) => ({
    key: id.slice(bucket.length + 1),
    lines: (object.contentEncoding === 'gzip' ? gunzipSync(object.body) : Buffer.from(object.body)).toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>),
  }));
}

describe('createHandler with a Kinesis source and an S3 sink', () => {
  it('writes transformed records and reports no failures', async () => {
    const { handler, store } = handlerFor(spec());
    const event = kinesisEvent('orders', [payload({ id: 1, uid: 'u1', amount: '2.5', status: 'paid' }), payload({ id: 2, uid: 'u2', amount: 3, status: 'paid' })]);

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [] });
    const [object] = objectsIn(store as MemoryObjectStore, 'archive');
    expect(object?.lines).toEqual([{ id: 1, user_id: 'u1', amount: 2.5, status: 'paid' }, { id: 2, user_id: 'u2', amount: 3, status: 'paid' }]);
  });

  it('counts each record in exactly one outcome', async () => {
    const { handler } = handlerFor(spec());
    const event = kinesisEvent('orders', [payload({ id: 1, status: 'paid', amount: 1 }), payload({ id: 2, status: 'test' }), payload('{not json'), payload({ id: 4, amount: 'lots', status: 'paid' })]);

    const summary = await handler.invoke(event);

    expect(summary.counts).toEqual({ records_in: 4, written: 1, filtered: 1, dead_lettered: 2, failed: 0 });
  });

  it('dead-letters a bad payload with stage, code, position and raw bytes, leaving its neighbours written', async () => {
    const { handler, store } = handlerFor(spec());
    const event = kinesisEvent('orders', [payload({ id: 1, status: 'paid' }), payload('{not json'), payload({ id: 3, status: 'paid' })]);

    await handler(event);

    expect(objectsIn(store as MemoryObjectStore, 'archive')[0]?.lines.map((line) => line.id)).toEqual([1, 3]);
    const [letters] = objectsIn(store as MemoryObjectStore, 'errors');
    expect(letters?.key).toMatch(/^orders\/decode\/orders-[0-9a-f]{20}-1\.jsonl$/);
    expect(letters?.lines[0]).toMatchObject({ stage: 'decode', code: 'invalid-json', source: 'orders', raw: '{not json', raw_encoding: 'utf8', position: event.Records[1]!.eventID.replace(':', '/') });
  });

  it('dead-letters a record whose step throws, with the record as far as it got', async () => {
    const { handler, store } = handlerFor(spec());

    await handler(kinesisEvent('orders', [payload({ id: 7, uid: 'u7', amount: 'lots', status: 'paid' })]));

    const [letters] = objectsIn(store as MemoryObjectStore, 'errors');
    expect(letters?.lines[0]).toMatchObject({ stage: 'transform', code: 'transform-error', component: 'clean', record: { id: 7, user_id: 'u7', amount: 'lots' } });
    expect(String(letters?.lines[0]?.message)).toContain('step 3 (cast)');
  });

  it('writes the same object keys when the same event is retried', async () => {
    const event = kinesisEvent('orders', [payload({ id: 1, status: 'paid' }), payload('{bad')]);
    const first = handlerFor(spec());
    const second = handlerFor(spec());

    await first.handler(event);
    await second.handler(event);

    expect([...(second.store as MemoryObjectStore).objects.keys()].sort()).toEqual([...(first.store as MemoryObjectStore).objects.keys()].sort());
  });

  it('gives each sink of a fan-out its own copy of the record', async () => {
    const fanOut = spec({
      transforms: { upper: { inputs: ['orders'], steps: [{ set: { status: 'record.status.upperAscii()' } }] } },
      sinks: {
        raw: { type: 's3', inputs: ['orders'], bucket: 'raw', key: 'r/', compression: 'none' },
        shouted: { type: 's3', inputs: ['upper'], bucket: 'shouted', key: 's/', compression: 'none' },
      },
    });
    const { handler, store } = handlerFor(fanOut);

    await handler(kinesisEvent('orders', [payload({ id: 1, status: 'paid' })]));

    expect(objectsIn(store as MemoryObjectStore, 'raw')[0]?.lines).toEqual([{ id: 1, status: 'paid' }]);
    expect(objectsIn(store as MemoryObjectStore, 'shouted')[0]?.lines).toEqual([{ id: 1, status: 'PAID' }]);
  });

  it('routes by `where`, and counts a record no sink selects as filtered', async () => {
    const routed = spec({ transforms: {}, sinks: { big: { type: 's3', inputs: ['orders'], where: 'record.amount > 100', bucket: 'big', key: 'b/', compression: 'none' } } });
    const { handler, store } = handlerFor(routed);

    const summary = await handler.invoke(kinesisEvent('orders', [payload({ id: 1, amount: 500 }), payload({ id: 2, amount: 5 })]));

    expect(objectsIn(store as MemoryObjectStore, 'big')[0]?.lines.map((line) => line.id)).toEqual([1]);
    expect(summary.counts).toMatchObject({ written: 1, filtered: 1 });
  });

  it('reports exactly the items whose sink write failed when on_error is retry', async () => {
    const twoSinks = spec({
      transforms: {},
      sinks: {
        small: { type: 's3', inputs: ['orders'], where: 'record.amount < 100', bucket: 'small', key: 's/' },
        big: { type: 's3', inputs: ['orders'], where: 'record.amount >= 100', bucket: 'broken', key: 'b/' },
      },
    });
    const { handler } = handlerFor(twoSinks, new FailingBucketStore('broken'));
    const event = kinesisEvent('orders', [payload({ amount: 1 }), payload({ amount: 1000 }), payload({ amount: 2 })]);

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]!.kinesis.sequenceNumber }] });
  });

  it('dead-letters records of a failed sink write when on_error is dead_letter', async () => {
    const toDeadLetter = spec({ transforms: {}, sinks: { archive: { type: 's3', inputs: ['orders'], bucket: 'broken', key: 'a/', on_error: 'dead_letter' } } });
    const { handler, store } = handlerFor(toDeadLetter, new FailingBucketStore('broken'));

    const summary = await handler.invoke(kinesisEvent('orders', [payload({ id: 1 })]));

    expect(summary.counts).toMatchObject({ dead_lettered: 1, failed: 0 });
    expect(objectsIn(store as MemoryObjectStore, 'errors')[0]?.lines[0]).toMatchObject({ stage: 'sink', code: 'sink-error', component: 'archive', record: { id: 1 } });
  });

  it('dead-letters a record its sink rejects on receipt with the record as delivered, when on_error is retry', async () => {
    const byPath = spec({ transforms: {}, sinks: { archive: { type: 's3', inputs: ['orders'], bucket: 'archive', key: '{{record.path}}/' } } });
    const { handler, store } = handlerFor(byPath);

    const summary = await handler.invoke(kinesisEvent('orders', [payload({ id: 1, path: 'a' }), payload({ id: 2, path: 'p'.repeat(2000) })]));

    expect(summary.counts).toMatchObject({ written: 1, dead_lettered: 1, failed: 0 });
    expect(objectsIn(store as MemoryObjectStore, 'errors')[0]?.lines[0]).toMatchObject({ stage: 'sink', code: 'sink-rejected', component: 'archive', record: { id: 2 } });
  });

  it('dead-letters a non-retryable failure reported after add with the raw bytes only, when on_error is retry', async () => {
    const late = (): Sink => ({
      open: () => {
        const tickets: Ticket[] = [];
        return {
          add: ({ ticket }) => void tickets.push(ticket),
          commit: () => {},
          abort: () => {},
          close: async () => {
            for (const ticket of tickets) ticket.failed({ code: 'sink-rejected', message: 'refused by the service', retryable: false });
          },
        };
      },
    });
    const direct = spec({ transforms: {}, sinks: { archive: { type: 's3', inputs: ['orders'], bucket: 'archive', key: 'a/' } } });
    const { handler, store } = handlerFor(direct, new MemoryObjectStore(), { sinkOverride: late });

    const summary = await handler.invoke(kinesisEvent('orders', [payload({ id: 1 })]));

    const letter = objectsIn(store as MemoryObjectStore, 'errors')[0]?.lines[0];
    expect(summary.counts).toMatchObject({ dead_lettered: 1 });
    expect(letter).toMatchObject({ stage: 'sink', code: 'sink-rejected', raw: '{"id":1}' });
    expect(letter).not.toHaveProperty('record');
  });

  it('dead-letters a late non-retryable failure with the record the failure carries', async () => {
    const late = (): Sink => ({
      open: () => {
        const held: { ticket: Ticket; record: Record<string, unknown> }[] = [];
        return {
          add: ({ ticket, record }) => void held.push({ ticket, record }),
          commit: () => {},
          abort: () => {},
          close: async () => {
            for (const { ticket, record } of held) ticket.failed({ code: 'sink-rejected', message: 'mapper_parsing_exception', retryable: false, record });
          },
        };
      },
    });
    const direct = spec({ transforms: {}, sinks: { archive: { type: 's3', inputs: ['orders'], bucket: 'archive', key: 'a/' } } });
    const { handler, store } = handlerFor(direct, new MemoryObjectStore(), { sinkOverride: late });

    await handler.invoke(kinesisEvent('orders', [payload({ id: 7 })]));

    expect(objectsIn(store as MemoryObjectStore, 'errors')[0]?.lines[0]).toMatchObject({ code: 'sink-rejected', record: { id: 7 } });
  });

  it('gives sinks a deadline inside the Lambda remaining time, with a margin', async () => {
    let deadline = 0;
    const spy = (): Sink => ({ open: (invocation) => ((deadline = invocation.deadline), { add: ({ ticket }) => ticket.written(), commit: () => {}, abort: () => {}, close: async () => {} }) });
    const { handler } = handlerFor(spec(), new MemoryObjectStore(), { sinkOverride: spy });
    const before = Date.now();

    await handler.invoke(kinesisEvent('orders', [payload({ id: 1 })]), { getRemainingTimeInMillis: () => 60_000 });

    expect(deadline).toBeGreaterThanOrEqual(before + 50_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 50_000);
  });

  it('throws when nothing could be processed because the dead-letter bucket is unreachable', async () => {
    const { handler } = handlerFor(spec(), new FailingBucketStore('errors'));

    await expect(handler(kinesisEvent('orders', [payload('{bad'), payload('{worse')]))).rejects.toBeInstanceOf(InvocationFailedError);
  });

  it('retries a bad record when the spec declares no dead_letter, rather than dropping it', async () => {
    const { handler } = handlerFor(spec({ dead_letter: undefined }));
    const event = kinesisEvent('orders', [payload({ id: 1, status: 'paid' }), payload('{bad')]);

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]!.kinesis.sequenceNumber }] });
  });

  it('rejects an event of a shape no source declares, naming what it received', async () => {
    const { handler } = handlerFor(spec());

    await expect(handler({ hello: 'world' })).rejects.toThrow(UnknownEventError);
    await expect(handler({ hello: 'world' })).rejects.toThrow(/keys \[hello\]/);
  });

  it('logs one JSON summary line and EMF metrics per component', async () => {
    const { handler, lines } = handlerFor(spec());

    await handler(kinesisEvent('orders', [payload({ id: 1, status: 'paid' })]), { awsRequestId: 'req-1' });

    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.find((entry) => entry.message === 'invocation complete')).toMatchObject({ request_id: 'req-1', records_in: 1, written: 1 });
    const metrics = entries.filter((entry) => entry._aws);
    expect(metrics.map((entry) => entry.Component).sort()).toEqual(['archive', 'clean', 'orders']);
    expect(metrics.find((entry) => entry.Component === 'archive')).toMatchObject({ Pipeline: 'orders', RecordsIn: 1, RecordsOut: 1 });
  });
});

describe('createHandler with an S3 source', () => {
  const s3Spec = () =>
    resolveSpec({
      version: 1,
      name: 'clicks',
      dead_letter: { bucket: 'errors' },
      sources: { clicks: { type: 's3', bucket: 'raw', prefix: 'clicks/', format: 'jsonl' } },
      sinks: { copy: { type: 's3', inputs: ['clicks'], bucket: 'out', key: 'c/', compression: 'none' } },
    });

  it('reads the object an EventBridge-in-SQS event announces', async () => {
    const store = new MemoryObjectStore();
    store.set('raw', 'clicks/a b.jsonl', '{"n":1}\n{"n":2}\n');
    const { handler } = handlerFor(s3Spec(), store);

    const response = await handler(s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/a b.jsonl', size: 16 }]));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(objectsIn(store, 'out')[0]?.lines).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('dead-letters an object that no longer exists instead of retrying forever', async () => {
    const store = new MemoryObjectStore();
    const { handler } = handlerFor(s3Spec(), store);

    const summary = await handler.invoke(s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/gone.jsonl', size: 1 }]));

    expect(summary.counts).toMatchObject({ records_in: 1, dead_lettered: 1 });
    expect(objectsIn(store, 'errors')[0]?.lines[0]).toMatchObject({ stage: 'decode', code: 'object-not-found' });
  });

  it('retries the message whose object cannot be read at all, and only that one', async () => {
    const store = new MemoryObjectStore();
    store.set('raw', 'clicks/ok.jsonl', '{"n":1}\n');
    const broken = Object.assign(Object.create(store) as MemoryObjectStore, {
      get: (bucket: string, key: string) => (key.includes('unreadable') ? Promise.reject(new Error('connection reset')) : store.get(bucket, key)),
    });
    const { handler } = handlerFor(s3Spec(), broken);
    const event = s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/ok.jsonl', size: 8 }, { bucket: 'raw', key: 'clicks/unreadable.jsonl', size: 8 }]);

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]!.messageId }] });
  });
});

describe('createHandler with a DynamoDB source', () => {
  const ddbSpec = () =>
    resolveSpec({
      version: 1,
      name: 'users',
      dead_letter: { bucket: 'errors' },
      sources: { users: { type: 'dynamodb', stream_arn: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000' } },
      transforms: { typed: { inputs: ['users'], steps: [{ cast: { age: 'int' } }] } },
      sinks: { copy: { type: 's3', inputs: ['typed'], bucket: 'out', key: 'u/', compression: 'none' } },
    });

  it('dead-letters an image whose attribute does not cast, and writes its neighbours', async () => {
    const store = new MemoryObjectStore();
    const { handler } = handlerFor(ddbSpec(), store);
    const event = dynamoDbInsertEvent('users', [{ id: 'a', age: 41 }, { id: 'b', age: new Uint8Array([1, 2]) }, { id: 'c', age: '7' }], ['id']);

    const response = await handler(event);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(objectsIn(store, 'out')[0]?.lines).toEqual([{ id: 'a', age: 41 }, { id: 'c', age: 7 }]);
    expect(objectsIn(store, 'errors')[0]?.lines[0]).toMatchObject({ stage: 'transform', code: 'transform-error', record: { id: 'b', age: 'AQI=' } });
  });
});

/** `lines` JSON lines, gzipped: about 88 KB for 5,000 lines, as in the hardening report. */
function gzipLines(lines: number): Buffer {
  return gzipSync(Array.from({ length: lines }, (_, id) => `${JSON.stringify({ id, r: (id * 7919) % 10007, tag: `t${id % 97}` })}\n`).join(''));
}

/** `body` with `count` bytes in its middle inverted, as a bad disk or a broken copy would leave it. */
function corruptMiddle(body: Buffer, count = 20): Buffer {
  const corrupt = Buffer.from(body);
  const start = Math.floor(corrupt.length / 2);
  for (let index = start; index < start + count; index++) corrupt[index] = corrupt[index]! ^ 0xff;
  return corrupt;
}

describe('the item commit point: an S3 object reaches sinks only once it was read whole', () => {
  const s3Spec = (maxRecords = 100) =>
    resolveSpec({
      version: 1,
      name: 'clicks',
      dead_letter: { bucket: 'errors' },
      sources: { clicks: { type: 's3', bucket: 'raw', prefix: 'clicks/', format: 'jsonl' } },
      sinks: { copy: { type: 's3', inputs: ['clicks'], bucket: 'out', key: 'c/', compression: 'none', batch: { max_records: maxRecords } } },
    });

  it('leaves no output of a corrupt gzip object and dead-letters the object once, with the reason', async () => {
    let uploadsStaged = 0;
    const store = new (class extends MemoryObjectStore {
      override stage(...args: Parameters<MemoryObjectStore['stage']>) {
        uploadsStaged++;
        return super.stage(...args);
      }
    })();
    const body = corruptMiddle(gzipLines(5000));
    store.set('raw', 'clicks/day.jsonl.gz', body);
    const { handler } = handlerFor(s3Spec(), store);

    const summary = await handler.invoke(s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/day.jsonl.gz', size: body.length }]));

    // Full objects of the records read before the corruption was found were uploaded, then discarded.
    expect(uploadsStaged).toBeGreaterThan(0);
    expect(objectsIn(store, 'out')).toEqual([]);
    expect(store.staged.size).toBe(0);
    const letters = objectsIn(store, 'errors').flatMap((object) => object.lines);
    expect(letters).toEqual([expect.objectContaining({ stage: 'decode', code: 'invalid-gzip', component: 'clicks', position: expect.stringMatching(/^raw\/clicks\/day\.jsonl\.gz.*:0$/) })]);
    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(summary.failures).toEqual([{ item: summary.items[0]!.id, retried: false, reason: expect.stringContaining('invalid-gzip') }]);
    expect(summary.response).toEqual({ batchItemFailures: [] });
  });

  it('publishes every object of a good gzip object, the full ones staged while it was read', async () => {
    const store = new MemoryObjectStore();
    const body = gzipLines(5000);
    store.set('raw', 'clicks/day.jsonl.gz', body);
    const { handler } = handlerFor(s3Spec(), store);

    const summary = await handler.invoke(s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/day.jsonl.gz', size: body.length }]));

    expect(summary.counts).toMatchObject({ records_in: 5000, written: 5000 });
    expect(objectsIn(store, 'out')).toHaveLength(50);
    expect(store.staged.size).toBe(0);
  });

  it('keeps the output of a good object when another object of the batch is corrupt', async () => {
    const store = new MemoryObjectStore();
    store.set('raw', 'clicks/good.jsonl.gz', gzipLines(300));
    store.set('raw', 'clicks/bad.jsonl.gz', corruptMiddle(gzipLines(5000)));
    const { handler } = handlerFor(s3Spec(1000), store);

    const summary = await handler.invoke(s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/good.jsonl.gz', size: 1 }, { bucket: 'raw', key: 'clicks/bad.jsonl.gz', size: 1 }]));

    expect(objectsIn(store, 'out').flatMap((object) => object.lines)).toHaveLength(300);
    expect(summary.counts).toEqual({ records_in: 301, written: 300, filtered: 0, dead_lettered: 1, failed: 0 });
  });

  it('stores the dead letters of records a sink rejects after their object committed, and reconciles', async () => {
    // A sink that writes an object's records at its commit and has them refused there (as a search cluster may).
    const atCommit: Sink = {
      open: () => {
        const held: Ticket[] = [];
        let written: Promise<void> | undefined;
        return {
          add: ({ ticket }) => void held.push(ticket),
          commit: () => {
            written = Promise.resolve().then(() => {
              for (const ticket of held.splice(0)) ticket.failed({ code: 'sink-rejected', message: 'mapper_parsing_exception', retryable: false });
            });
          },
          abort: () => void held.splice(0),
          close: async () => written,
        };
      },
    };
    const store = new MemoryObjectStore();
    store.set('raw', 'clicks/day.jsonl.gz', gzipLines(30));
    const { handler } = handlerFor(s3Spec(), store, { sinkOverride: () => atCommit });

    const summary = await handler.invoke(s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/day.jsonl.gz', size: 1 }]));

    expect(summary.counts).toEqual({ records_in: 30, written: 0, filtered: 0, dead_lettered: 30, failed: 0 });
    expect(summary.failures).toEqual([]);
    expect(objectsIn(store, 'errors').flatMap((object) => object.lines)).toHaveLength(30);
  });

  it('retries an object whose store refuses the read, naming the store error in the summary', async () => {
    const store = new MemoryObjectStore();
    const refusing = Object.assign(Object.create(store) as MemoryObjectStore, { get: () => Promise.reject(storeError('SlowDown', 503)) });
    const { handler } = handlerFor(s3Spec(), refusing);
    const event = s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/day.jsonl', size: 1 }, { bucket: 'raw', key: 'clicks/other.jsonl', size: 1 }]);

    const failed = await handler.invoke(event).catch((error: unknown) => error);

    expect(failed).toBeInstanceOf(InvocationFailedError);
    const { summary } = failed as InvocationFailedError;
    expect(summary.counts).toEqual({ records_in: 2, written: 0, filtered: 0, dead_lettered: 0, failed: 2 });
    expect([summary.metrics.get('clicks', 'records_in'), summary.metrics.get('clicks', 'failed')]).toEqual([2, 2]);
    expect(summary.failures.map((failure) => [failure.retried, failure.reason])).toEqual([
      [true, expect.stringMatching(/^SlowDown \(HTTP 503\)/)],
      [true, expect.stringMatching(/^SlowDown \(HTTP 503\)/)],
    ]);
  });
});

/** A record nested `levels` deep, built in memory (a decoder would refuse it): deeper than `JSON.stringify` and `structuredClone` can follow. */
function nested(levels: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let level = 0; level < levels; level++) value = { x: [value] };
  return { id: 'deep', ...(value as Record<string, unknown>) };
}

/** Kinesis records already decoded, one batch item each, as `handler.process` takes them. */
function decodedItems(values: Record<string, unknown>[]): BatchItem[] {
  return values.map((value, index) => {
    const meta: KinesisMeta = { event: 'kinesis', source: 'orders', stream: 'orders', shard: 'shardId-0', sequence: String(index), partition_key: 'k', arrival_time: NOW.toISOString(), position: `shardId-0/${index}` };
    return { id: String(index), records: [{ outcome: 'record', value, meta, raw: Buffer.from(`record ${index}`) }] };
  });
}

describe('no record content escapes its record', () => {
  const fanOut = () =>
    spec({
      transforms: {
        clean: { inputs: ['orders'], steps: [{ rename: { uid: 'user_id' } }] },
        audit: { inputs: ['orders'], steps: [{ drop: ['secret'] }] },
      },
      sinks: {
        archive: { type: 's3', inputs: ['clean'], bucket: 'archive', key: 'a/', compression: 'none' },
        copy: { type: 's3', inputs: ['audit'], bucket: 'copy', key: 'c/', compression: 'none' },
      },
    });

  it('dead-letters a record nested 5,000 levels deep at each component it cannot pass, and writes its neighbours', async () => {
    const { handler, store } = handlerFor(fanOut());

    const summary = await handler.process(decodedItems([{ id: 1 }, nested(5000), { id: 2 }]));

    expect(summary.counts).toEqual({ records_in: 3, written: 2, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(summary.response).toEqual({ batchItemFailures: [] });
    const letters = objectsIn(store as MemoryObjectStore, 'errors').flatMap((object) => object.lines);
    // Fan-out cannot copy it for `clean`; `audit` gets the original and `copy` cannot encode it.
    expect(letters.map((letter) => [letter.component, letter.code, letter.raw])).toEqual([
      ['clean', 'transform-error', 'record 1'],
      ['copy', 'sink-rejected', 'record 1'],
    ]);
    expect(letters.every((letter) => typeof letter.record_error === 'string')).toBe(true);
    expect(objectsIn(store as MemoryObjectStore, 'archive')[0]?.lines).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('dead-letters a record whose sink throws in add, instead of failing the batch', async () => {
    const throwing = (): Sink => ({
      open: () => ({
        add: ({ record, ticket }) => {
          if (record.id === 2) throw new RangeError('Maximum call stack size exceeded');
          ticket.written();
        },
        commit: () => {},
        abort: () => {},
        close: async () => {},
      }),
    });
    const direct = spec({ transforms: {}, sinks: { archive: { type: 's3', inputs: ['orders'], bucket: 'archive', key: 'a/' } } });
    const { handler, store } = handlerFor(direct, new MemoryObjectStore(), { sinkOverride: throwing });

    const summary = await handler.invoke(kinesisEvent('orders', [payload({ id: 1 }), payload({ id: 2 }), payload({ id: 3 })]));

    expect(summary.counts).toEqual({ records_in: 3, written: 2, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(objectsIn(store as MemoryObjectStore, 'errors')[0]?.lines).toEqual([expect.objectContaining({ code: 'sink-rejected', component: 'archive', record: { id: 2 } })]);
  });
});

describe('counts, component counters and EMF metrics agree on every outcome path', () => {
  const base = (overrides: Record<string, unknown> = {}) =>
    spec({
      transforms: { clean: { inputs: ['orders'], steps: [{ filter: "record.status != 'test'" }, { cast: { amount: 'int' } }] } },
      sinks: { archive: { type: 's3', inputs: ['clean'], where: 'int(record.w) >= 0', bucket: 'archive', key: 'a/', compression: 'none' } },
      ...overrides,
    });
  const good = { status: 'paid', amount: 1, w: 1 };
  const zero = { records_in: 0, records_out: 0, filtered: 0, dead_lettered: 0, failed: 0 };
  type Counters = Partial<typeof zero>;
  const cases: { path: string; specValue: ReturnType<typeof spec>; store?: () => ObjectStore; record: unknown; headline: Partial<typeof zero & { written: number }>; components: Record<string, Counters> }[] = [
    { path: 'decode dead letter', specValue: base(), record: '{bad', headline: { dead_lettered: 1 }, components: { orders: { records_in: 1, dead_lettered: 1 } } },
    {
      path: 'transform dead letter',
      specValue: base(),
      record: { status: 'paid', amount: 'abc', w: 1 },
      headline: { dead_lettered: 1 },
      components: { orders: { records_in: 1, records_out: 1 }, clean: { records_in: 1, dead_lettered: 1 } },
    },
    {
      path: 'transform filter',
      specValue: base(),
      record: { status: 'test', amount: 1, w: 1 },
      headline: { filtered: 1 },
      components: { orders: { records_in: 1, records_out: 1 }, clean: { records_in: 1, filtered: 1 } },
    },
    {
      path: 'where filter',
      specValue: base(),
      record: { status: 'paid', amount: 1, w: -1 },
      headline: { filtered: 1 },
      components: { orders: { records_in: 1, records_out: 1 }, clean: { records_in: 1, records_out: 1 }, archive: { records_in: 1, filtered: 1 } },
    },
    {
      path: 'where error',
      specValue: base(),
      record: { status: 'paid', amount: 1, w: 'x' },
      headline: { dead_lettered: 1 },
      components: { orders: { records_in: 1, records_out: 1 }, clean: { records_in: 1, records_out: 1 }, archive: { records_in: 1, dead_lettered: 1 } },
    },
    {
      path: 'sink written',
      specValue: base(),
      record: good,
      headline: { written: 1 },
      components: { orders: { records_in: 1, records_out: 1 }, clean: { records_in: 1, records_out: 1 }, archive: { records_in: 1, records_out: 1 } },
    },
    {
      path: 'sink retryable failure',
      specValue: base(),
      store: () => new FailingBucketStore('archive'),
      record: good,
      headline: { failed: 1 },
      components: { orders: { records_in: 1, records_out: 1 }, clean: { records_in: 1, records_out: 1 }, archive: { records_in: 1, failed: 1 } },
    },
    {
      path: 'sink non-retryable failure',
      specValue: base(),
      store: () => new FailingBucketStore('archive', () => storeError('AccessDenied', 403)),
      record: good,
      headline: { dead_lettered: 1 },
      components: { orders: { records_in: 1, records_out: 1 }, clean: { records_in: 1, records_out: 1 }, archive: { records_in: 1, dead_lettered: 1 } },
    },
    {
      path: 'dead-letter store missing',
      specValue: base({ dead_letter: undefined }),
      record: '{bad',
      headline: { failed: 1 },
      components: { orders: { records_in: 1, failed: 1 } },
    },
    {
      path: 'dead-letter store failing',
      specValue: base(),
      store: () => new FailingBucketStore('errors'),
      record: '{bad',
      headline: { failed: 1 },
      components: { orders: { records_in: 1, failed: 1 } },
    },
  ];

  it.each(cases)('$path', async ({ specValue, store, record, headline, components }) => {
    const { handler } = handlerFor(specValue, store?.());

    const summary = await handler.invoke(kinesisEvent('orders', [payload(record)])).catch((error: unknown) => (error as InvocationFailedError).summary);

    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 0, failed: 0, ...headline });
    for (const id of ['orders', 'clean', 'archive']) {
      const counters = Object.fromEntries(Object.keys(zero).map((counter) => [counter, summary.metrics.get(id, counter as keyof typeof zero)]));
      expect(counters, id).toEqual({ ...zero, ...components[id] });
    }
  });
});
