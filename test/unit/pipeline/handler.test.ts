import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHandler, InvocationFailedError } from '../../../engine/handler.ts';
import type { HandlerOptions } from '../../../engine/handler.ts';
import { dynamoDbInsertEvent, kinesisEvent, s3ObjectCreatedEvent } from '../../../engine/local/events.ts';
import { UnknownEventError } from '../../../engine/sources/dispatch.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import type { Sink, Ticket } from '../../../engine/plugin/types.ts';
import type { ObjectStore } from '../../../engine/ports/object-store.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';

const NOW = new Date('2026-11-27T10:00:00Z');

function spec(overrides: Record<string, unknown> = {}) {
  return resolveSpec({
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
  });
}

function handlerFor(specValue: ReturnType<typeof spec>, store: ObjectStore = new MemoryObjectStore(), options: Partial<HandlerOptions> = {}) {
  const lines: string[] = [];
  const handler = createHandler(specValue, { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: (line) => lines.push(line), clock: () => NOW, ...options });
  return { handler, lines, store };
}

const payload = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

function objectsIn(store: MemoryObjectStore, bucket: string) {
  return [...store.objects].filter(([id]) => id.startsWith(`${bucket}/`)).map(([id, object]) => ({
    key: id.slice(bucket.length + 1),
    lines: (object.contentEncoding === 'gzip' ? gunzipSync(object.body) : Buffer.from(object.body)).toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>),
  }));
}

/** A store whose puts to one bucket fail, as an unreachable or denied bucket would. */
class FailingBucketStore extends MemoryObjectStore {
  constructor(private readonly failing: string) {
    super();
  }
  override async put(...args: Parameters<MemoryObjectStore['put']>) {
    if (args[0] === this.failing) throw new Error(`AccessDenied on ${this.failing}`);
    return super.put(...args);
  }
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
    const spy = (): Sink => ({ open: (invocation) => ((deadline = invocation.deadline), { add: ({ ticket }) => ticket.written(), close: async () => {} }) });
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
    const { dead_letter: _unused, ...withoutDeadLetter } = spec();
    const { handler } = handlerFor(withoutDeadLetter as ReturnType<typeof spec>);
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
