import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHandler, InvocationFailedError } from '../../../../engine/handler.ts';
import { s3ObjectCreatedEvent } from '../../../../engine/local/events.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import { resolveSpec } from '../../../../engine/spec/resolve.ts';
import { reconciling } from '../../../support/reconciliation.ts';

// A large S3 object streamed through the handler into the S3 sink, whose staged items settle
// their tickets as records arrive (docs/decisions/0052-bounded-memory-s3-objects.md): outputs,
// counts and the commit point must be what they were when every ticket waited for the commit.

const RECORDS = 60_000;
const MAX_RECORDS = 20_000;

function line(index: number): string {
  return `${JSON.stringify({ id: index, uid: `user-${index % 997}`, status: index % 50 === 0 ? 'test' : 'paid', amount: (index % 1000) / 7, debug: { trace: `t-${index}` } })}\n`;
}

const objectBody = () => gzipSync(Array.from({ length: RECORDS }, (_, index) => line(index)).join(''));

const spec = resolveSpec({
  version: 1,
  name: 'orders',
  dead_letter: { bucket: 'errors' },
  sources: { orders: { type: 's3', bucket: 'raw', format: 'jsonl' } },
  transforms: {
    clean: {
      inputs: ['orders'],
      steps: [{ filter: "record.status != 'test'" }, { rename: { uid: 'user_id' } }, { drop: ['debug'] }, { set: { amount_cents: 'int(record.amount * 100.0)' } }],
    },
  },
  sinks: { archive: { type: 's3', inputs: ['clean'], bucket: 'archive', key: 'orders/', batch: { max_records: MAX_RECORDS } } },
});

function handlerFor(store: MemoryObjectStore) {
  const lines: string[] = [];
  const handler = createHandler(spec, { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: (entry) => lines.push(entry) });
  return reconciling(handler, lines);
}

/** The records of every object under `bucket`, in the order of their first line. */
function recordsIn(store: MemoryObjectStore, bucket: string): Record<string, unknown>[][] {
  return [...store.objects]
    .filter(([id]) => id.startsWith(`${bucket}/`))
    .map(([, object]) => (object.contentEncoding === 'gzip' ? gunzipSync(object.body) : Buffer.from(object.body)).toString('utf8').trim().split('\n').map((text) => JSON.parse(text) as Record<string, unknown>))
    .sort((a, b) => (a[0]!.id as number) - (b[0]!.id as number));
}

const event = (size: number) => s3ObjectCreatedEvent([{ bucket: 'raw', key: 'orders/day.jsonl.gz', size }]);

describe('a large S3 object through the handler into the S3 sink', () => {
  it('writes every record that passes, in order, in objects of max_records, and reconciles', async () => {
    const store = new MemoryObjectStore();
    const body = objectBody();
    store.set('raw', 'orders/day.jsonl.gz', body);

    const summary = await handlerFor(store).invoke(event(body.length));

    const filtered = RECORDS / 50;
    expect(summary.counts).toEqual({ records_in: RECORDS, written: RECORDS - filtered, filtered, dead_lettered: 0, failed: 0 });
    const objects = recordsIn(store, 'archive');
    expect(objects.map((records) => records.length)).toEqual([MAX_RECORDS, MAX_RECORDS, RECORDS - filtered - 2 * MAX_RECORDS]);
    const ids = objects.flat().map((record) => record.id);
    expect(ids).toEqual(Array.from({ length: RECORDS }, (_, index) => index).filter((index) => index % 50 !== 0));
    expect(objects[0]![0]).toEqual({ id: 1, user_id: 'user-1', status: 'paid', amount: 1 / 7, amount_cents: 14 });
    expect(store.staged.size).toBe(0);
    expect(recordsIn(store, 'errors')).toEqual([]);
  });

  it('leaves nothing of an object whose gzip data turns out corrupt after full objects were staged', async () => {
    const store = new MemoryObjectStore();
    const body = objectBody();
    // A byte late in the data: the records of the first objects inflate fine before the error.
    const at = Math.floor(body.length * 0.9);
    body[at] = body[at]! ^ 0xff;
    store.set('raw', 'orders/day.jsonl.gz', body);

    const summary = await handlerFor(store).invoke(event(body.length));

    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(recordsIn(store, 'archive')).toEqual([]);
    expect(store.staged.size).toBe(0);
    expect(recordsIn(store, 'errors').flat()).toEqual([expect.objectContaining({ stage: 'decode', code: 'invalid-gzip' })]);
  });

  it('retries the whole object, publishing nothing of it, when an object of its output cannot be stored', async () => {
    let stages = 0;
    const store = new (class extends MemoryObjectStore {
      override async stage(...args: Parameters<MemoryObjectStore['stage']>) {
        // The second full object fails, after the first was staged.
        if (args[0] === 'archive' && ++stages === 2) throw Object.assign(new Error('SlowDown: reduce your request rate'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
        return super.stage(...args);
      }
    })();
    const body = objectBody();
    store.set('raw', 'orders/day.jsonl.gz', body);

    const failed = await handlerFor(store).invoke(event(body.length)).catch((error: unknown) => error);

    // A direct invocation fails as a whole when an item fails; the summary says why.
    expect(failed).toBeInstanceOf(InvocationFailedError);
    const { summary } = failed as InvocationFailedError;
    expect(summary.failures).toEqual([{ item: summary.items[0]!.id, retried: true, reason: expect.stringMatching(/sink archive: .*could not be written: SlowDown/) }]);
    expect(summary.response).toEqual({ batchItemFailures: [{ itemIdentifier: summary.items[0]!.id }] });
    // The staged upload that succeeded was published (the retry rewrites it under the same name); the failed one left nothing.
    expect(store.staged.size).toBe(0);
  });
});
