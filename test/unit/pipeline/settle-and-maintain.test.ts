import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../engine/handler.ts';
import type { HandlerOptions } from '../../../engine/handler.ts';
import { kinesisEvent, s3ObjectCreatedEvent } from '../../../engine/local/events.ts';
import type { ItemScope, MaintenanceContext, MaintenanceReport, Sink, SinkEntry } from '../../../engine/plugin/types.ts';
import { InjectedCrash } from '../../../engine/plugin/types.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import type { Notification } from '../../../engine/ports/notifier.ts';
import type { S3Meta } from '../../../engine/pipeline/record.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import { reconciling } from '../../support/reconciliation.ts';

const SCHEDULED_EVENT = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {}, id: 'e1', time: '2026-11-27T10:00:00Z' };

function spec(overrides: Record<string, unknown> = {}) {
  return resolveSpec({
    version: 1,
    name: 'orders',
    dead_letter: { bucket: 'errors', prefix: 'orders/{{stage}}/' },
    sources: {
      orders: { type: 'kinesis', stream: 'orders', format: 'json' },
      files: { type: 's3', bucket: 'raw', format: 'jsonl' },
    },
    sinks: {
      first: { type: 's3', inputs: ['orders', 'files'], bucket: 'out', key: 'a/' },
      second: { type: 's3', inputs: ['orders', 'files'], bucket: 'out', key: 'b/' },
    },
    ...overrides,
  });
}

const payload = (value: unknown) => Buffer.from(JSON.stringify(value));

interface Behaviour {
  /** Ids (record `id`) whose ticket the sink fails for retry. */
  failIds?: number[];
  /** Item indexes whose publication fails in `settle`. */
  unpublishable?: number[];
  /** `settle` rejects with this. */
  settleError?: Error;
  /** Batches `settle` reports sealed. */
  sealed?: number[];
  maintain?: (context: MaintenanceContext) => Promise<MaintenanceReport>;
}

/** A batching sink in miniature: holds records per item, publishes in `settle` those of items not delivered again. */
class RecordingSink implements Sink {
  published: number[] = [];
  maintained: MaintenanceContext['reason'][] = [];
  maintain?: Sink['maintain'];

  constructor(private readonly behaviour: Behaviour = {}) {
    if (behaviour.maintain) {
      const run = behaviour.maintain;
      this.maintain = (context) => {
        this.maintained.push(context.reason);
        return run(context);
      };
    }
  }

  open() {
    const held: { entry: SinkEntry; id: number }[] = [];
    const behaviour = this.behaviour;
    return {
      add: (entry: SinkEntry) => {
        const id = (entry.record as { id: number }).id;
        if (behaviour.failIds?.includes(id)) entry.ticket.failed({ code: 'sink-error', message: 'refused', retryable: true });
        else held.push({ entry, id });
      },
      commit: () => {},
      abort: (item: ItemScope) => {
        for (let index = held.length - 1; index >= 0; index--) if (held[index]!.entry.item.index === item.index) held.splice(index, 1);
      },
      close: async () => {
        for (const { entry } of held) entry.ticket.written();
      },
      settle: async (items: { redelivered(item: ItemScope): boolean }) => {
        if (behaviour.settleError) throw behaviour.settleError;
        const failed: { item: ItemScope; reason: string }[] = [];
        for (const { entry, id } of held) {
          if (items.redelivered(entry.item)) continue;
          // As the contract asks of stream batches: the first failure stops every later publication.
          if (behaviour.unpublishable?.includes(entry.item.index) || (failed.length > 0 && !entry.item.staged)) {
            if (!failed.some((failure) => failure.item.index === entry.item.index)) failed.push({ item: entry.item, reason: 'the ledger refused' });
            continue;
          }
          this.published.push(id);
        }
        return { failed, ...(behaviour.sealed ? { sealed: behaviour.sealed } : {}) };
      },
    };
  }
}

const IDLE: MaintenanceReport = { sealed: [], loaded: [], failed: [], resumed: [], deadLettered: 0, pending: [] };

function handlerWith(sinks: Record<string, Sink>, options: Partial<HandlerOptions> = {}, specValue = spec()) {
  const lines: string[] = [];
  const store = new MemoryObjectStore();
  const handler = createHandler(specValue, {
    ports: { objects: store },
    files: { exists: () => false, read: () => undefined },
    write: (line) => lines.push(line),
    sinkOverride: (id) => sinks[id],
    ...options,
  });
  return { handler: reconciling(handler, lines), lines, store };
}

/** One-line objects `raw/<name>.jsonl` holding `{ id: <char code of name> }`. */
async function putObjects(store: MemoryObjectStore, names: readonly string[]): Promise<void> {
  for (const name of names) await store.put('raw', `${name}.jsonl`, Buffer.from(JSON.stringify({ id: name.charCodeAt(0) }) + '\n'), { contentType: 'application/x-ndjson' });
}

const ids = (count: number) => Array.from({ length: count }, (_, index) => payload({ id: index + 1 }));

describe('settling batching sinks after the writers closed', () => {
  it('publishes nothing of a stream item at or after the first failed item, since Lambda retries from that checkpoint', async () => {
    const first = new RecordingSink({ failIds: [3] });
    const second = new RecordingSink();
    const { handler } = handlerWith({ first, second });

    const summary = await handler.invoke(kinesisEvent('orders', ids(5)));

    expect(summary.response?.batchItemFailures).toHaveLength(1);
    expect(first.published).toEqual([1, 2]);
    expect(second.published).toEqual([1, 2]);
  });

  it('publishes every item but the failed ones of an SQS batch, whose items are retried one by one', async () => {
    const store = new MemoryObjectStore();
    await putObjects(store, ['a', 'b', 'c']);
    const first = new RecordingSink({ failIds: ['b'.charCodeAt(0)] });
    const { handler } = handlerWith({ first, second: new RecordingSink() }, { ports: { objects: store } });

    const summary = await handler.invoke(s3ObjectCreatedEvent(['a', 'b', 'c'].map((name) => ({ bucket: 'raw', key: `${name}.jsonl`, size: 9 }))));

    expect(summary.response?.batchItemFailures).toHaveLength(1);
    expect(first.published.sort()).toEqual(['a'.charCodeAt(0), 'c'.charCodeAt(0)]);
  });

  it('fails the item a sink could not publish and every later stream item, and the next sink publishes none of them', async () => {
    const first = new RecordingSink({ unpublishable: [2] });
    const second = new RecordingSink();
    const { handler } = handlerWith({ first, second });

    const summary = await handler.invoke(kinesisEvent('orders', ids(5)));

    const failedItems = summary.items.map((item) => item.failed);
    expect(failedItems).toEqual([false, false, true, true, true]);
    expect(summary.response?.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(summary.items.slice(2).map((item) => item.id));
    expect(first.published).toEqual([1, 2]);
    expect(second.published).toEqual([1, 2]);
  });

  it('fails only the unpublished item of an SQS batch', async () => {
    const store = new MemoryObjectStore();
    await putObjects(store, ['a', 'b', 'c']);
    const { handler } = handlerWith({ first: new RecordingSink({ unpublishable: [0] }), second: new RecordingSink() }, { ports: { objects: store } });

    const summary = await handler.invoke(s3ObjectCreatedEvent(['a', 'b', 'c'].map((name) => ({ bucket: 'raw', key: `${name}.jsonl`, size: 9 }))));

    expect(summary.items.map((item) => item.failed)).toEqual([true, false, false]);
  });

  it('retries every item when a sink cannot settle at all', async () => {
    const { handler } = handlerWith({ first: new RecordingSink({ settleError: new Error('bug') }), second: new RecordingSink() });

    await expect(handler.invoke(kinesisEvent('orders', ids(3)))).rejects.toThrow(/3 of 3 batch items failed/);
  });

  it('lets an injected crash end the invocation without an answer, as a dying Lambda', async () => {
    const crashing = new RecordingSink({ settleError: new InjectedCrash('registered') });
    const { handler } = handlerWith({ first: crashing, second: new RecordingSink() });

    await expect(handler.invoke(kinesisEvent('orders', ids(2)))).rejects.toBeInstanceOf(InjectedCrash);
  });

  it('turns any error thrown by the fault hook into an injected crash at that step', async () => {
    const sink: Sink = {
      open: (invocation) => ({ add: ({ ticket }) => ticket.written(), commit: () => {}, abort: () => {}, close: async () => invocation.fault?.('staged') }),
    };
    const { handler } = handlerWith({ first: sink, second: new RecordingSink() }, { faults: (step) => { if (step === 'staged') throw new Error('boom'); } });

    await expect(handler.invoke(kinesisEvent('orders', ids(1)))).rejects.toMatchObject({ name: 'InjectedCrash', step: 'staged' });
  });
});

describe('maintenance of batching sinks', () => {
  it('runs every sink that has maintenance on the scheduled event, and reports what each did', async () => {
    const report = { ...IDLE, sealed: [4], loaded: [{ batch: 4, rows: 10, duplicates: 0, ms: 5, ageSeconds: 61 }] };
    const first = new RecordingSink({ maintain: async () => report });
    const second = new RecordingSink({ maintain: async () => IDLE });
    const { handler, lines } = handlerWith({ first, second });

    const summary = await handler.invoke(SCHEDULED_EVENT);

    expect(first.maintained).toEqual(['schedule']);
    expect(second.maintained).toEqual(['schedule']);
    expect(summary.maintenance).toEqual({ first: report, second: IDLE });
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(expect.objectContaining({ message: 'sink maintenance', sink: 'first', sealed: [4] }));
  });

  it('after the writers, maintains only the sinks that sealed a batch, and only while time remains', async () => {
    const sealing = new RecordingSink({ sealed: [1], maintain: async () => IDLE });
    const quiet = new RecordingSink({ maintain: async () => IDLE });
    const { handler } = handlerWith({ first: sealing, second: quiet });

    await handler.invoke(kinesisEvent('orders', ids(1)), { getRemainingTimeInMillis: () => 20_000 });
    expect(sealing.maintained).toEqual([]);

    await handler.invoke(kinesisEvent('orders', ids(1)), { getRemainingTimeInMillis: () => 300_000 });
    expect(sealing.maintained).toEqual(['after-writers']);
    expect(quiet.maintained).toEqual([]);
  });

  it('runs maintenance alone on demand, sealing whatever is open when flushing', async () => {
    const first = new RecordingSink({ maintain: async () => IDLE });
    const { handler } = handlerWith({ first, second: new RecordingSink() });

    const reports = await handler.maintain('flush');

    expect(first.maintained).toEqual(['flush']);
    expect(Object.keys(reports)).toEqual(['first']);
  });

  it('logs a sink whose maintenance fails and goes on with the others', async () => {
    const broken = new RecordingSink({ maintain: async () => { throw new Error('ledger unreachable'); } });
    const healthy = new RecordingSink({ maintain: async () => IDLE });
    const { handler, lines } = handlerWith({ first: broken, second: healthy });

    const summary = await handler.invoke(SCHEDULED_EVENT);

    expect(healthy.maintained).toEqual(['schedule']);
    expect(summary.maintenance).toEqual({ second: IDLE });
    expect(lines.join('\n')).toContain('ledger unreachable');
  });

  it('stores the dead letters a sink gives during maintenance, in one object when given together', async () => {
    const meta = { source: 'orders', event: 's3', position: 'raw/a.jsonl@e:1' } as unknown as S3Meta;
    const letters = [1, 2, 3].map((line) => ({ stage: 'sink' as const, code: 'sink-error' as const, message: `rejected line ${line}`, component: 'first', source: 'orders', position: `file:${line}`, meta, raw: Buffer.from(`row ${line}`) }));
    const first = new RecordingSink({ maintain: async (context) => {
      await Promise.all(letters.map((letter) => context.deadLetter(letter)));
      return { ...IDLE, deadLettered: letters.length };
    } });
    const { handler, store } = handlerWith({ first, second: new RecordingSink() });

    await handler.maintain('schedule');

    const stored = [...store.objects].filter(([id]) => id.startsWith('errors/'));
    expect(stored).toHaveLength(1);
    const lines = gunzipOrText(stored[0]![1].body, stored[0]![1].contentEncoding).trim().split('\n').map((line) => JSON.parse(line) as { message: string });
    expect(lines.map((line) => line.message)).toEqual(letters.map((letter) => letter.message));
  });

  it('publishes only the notifications the spec asks for', async () => {
    const published: Notification[] = [];
    const notifier = { publish: async (_pipeline: string, notification: Notification) => void published.push(notification) };
    const first = new RecordingSink({ maintain: async (context) => {
      await context.notify({ event: 'load_failed', component: 'first', subject: 'load failed', detail: {} });
      await context.notify({ event: 'load_succeeded', component: 'first', subject: 'loaded', detail: {} });
      return IDLE;
    } });
    const specValue = spec({ notifications: { topic: 'arn:aws:sns:us-east-1:123456789012:alerts', on: ['load_failed'] } });
    const { handler } = handlerWith({ first, second: new RecordingSink() }, { ports: { objects: new MemoryObjectStore(), notifier } }, specValue);

    await handler.maintain('schedule');

    expect(published.map((notification) => notification.event)).toEqual(['load_failed']);
  });
});

describe('dead-letter notifications', () => {
  it('publishes one notification per invocation that dead-lettered records, with counts per component', async () => {
    const published: { pipeline: string; notification: Notification }[] = [];
    const notifier = { publish: async (pipeline: string, notification: Notification) => void published.push({ pipeline, notification }) };
    const specValue = spec({ notifications: { topic: 'arn:aws:sns:us-east-1:123456789012:alerts', on: ['dead_letter'] } });
    const { handler } = handlerWith({ first: new RecordingSink(), second: new RecordingSink() }, { ports: { objects: new MemoryObjectStore(), notifier } }, specValue);

    await handler.invoke(kinesisEvent('orders', [payload({ id: 1 }), Buffer.from('not json'), Buffer.from('{')]));

    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ pipeline: 'orders', notification: { event: 'dead_letter', detail: { dead_lettered: 2, by_component: { orders: 2 } } } });
  });

  it('publishes none when the invocation dead-lettered nothing', async () => {
    const published: Notification[] = [];
    const notifier = { publish: async (_pipeline: string, notification: Notification) => void published.push(notification) };
    const specValue = spec({ notifications: { topic: 'arn:aws:sns:us-east-1:123456789012:alerts', on: ['dead_letter'] } });
    const { handler } = handlerWith({ first: new RecordingSink(), second: new RecordingSink() }, { ports: { objects: new MemoryObjectStore(), notifier } }, specValue);

    await handler.invoke(kinesisEvent('orders', ids(2)));

    expect(published).toEqual([]);
  });
});

function gunzipOrText(body: Uint8Array, encoding: string | undefined): string {
  return (encoding === 'gzip' ? gunzipSync(body) : Buffer.from(body)).toString('utf8');
}
