import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../engine/handler.ts';
import { kinesisEvent } from '../../../engine/local/events.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import { reconciling } from '../../support/reconciliation.ts';

// Every object Ingest names after the records it holds (S3 sink objects, dead-letter objects,
// staged warehouse files) must tell apart the records one input record becomes: they share its
// position, and two objects of them named alike would overwrite each other. Staged warehouse
// files are held to this in test/unit/sinks/warehouse/writer.test.ts; the other two here.

function handlerFor(sinkBatch: Record<string, unknown>, steps: unknown[], where?: string) {
  const spec = resolveSpec({
    version: 1,
    name: 'orders',
    dead_letter: { bucket: 'errors', prefix: 'orders/' },
    sources: { orders: { type: 'kinesis', stream: 'orders', format: 'json' } },
    transforms: { split: { inputs: ['orders'], steps } },
    sinks: { archive: { type: 's3', inputs: ['split'], bucket: 'archive', key: 'items/', compression: 'gzip', batch: sinkBatch, ...(where ? { where } : {}) } },
  });
  const store = new MemoryObjectStore();
  const lines: string[] = [];
  const handler = reconciling(createHandler(spec, { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: (line) => lines.push(line) }), lines);
  return { handler, store };
}

function linesIn(store: MemoryObjectStore, bucket: string): Record<string, unknown>[] {
  return [...store.objects]
    .filter(([id]) => id.startsWith(`${bucket}/`))
    .flatMap(([, object]) => (object.contentEncoding === 'gzip' ? gunzipSync(object.body) : Buffer.from(object.body)).toString('utf8').trim().split('\n'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('objects named after their records never collide for the records of one input', () => {
  it.each([1, 2, 3])('the S3 sink keeps every record of an exploded input cut into objects of %i', async (maxRecords) => {
    const { handler, store } = handlerFor({ max_records: maxRecords }, [{ explode: 'items' }]);
    const items = Array.from({ length: 6 }, (_, index) => ({ n: index }));

    await handler.invoke(kinesisEvent('orders', [Buffer.from(JSON.stringify({ items }))]));

    // Objects are listed by name, not in write order: compare the records in any order.
    const written = linesIn(store, 'archive').map((record) => record.items as { n: number });
    expect(written.sort((a, b) => a.n - b.n)).toEqual(items);
    expect([...store.objects.keys()].filter((id) => id.startsWith('archive/'))).toHaveLength(Math.ceil(items.length / maxRecords));
  });

  it('keeps every dead letter of an input whose 2,500 exploded records all fail at the sink, across objects of 1,000 letters', async () => {
    // A `where` that cannot be evaluated dead-letters each record that reaches the sink.
    const { handler, store } = handlerFor({}, [{ explode: 'items' }], 'int(record.items) > 0');
    const items = Array.from({ length: 2500 }, (_, index) => `not a number ${index}`);

    await handler.invoke(kinesisEvent('orders', [Buffer.from(JSON.stringify({ items }))]));

    const letters = linesIn(store, 'errors');
    expect(letters).toHaveLength(2500);
    expect(new Set(letters.map((letter) => (letter.record as { items: string }).items)).size).toBe(2500);
  });

  it('names the objects of records that were not fanned out as before', async () => {
    const { handler, store } = handlerFor({ max_records: 1 }, [{ set: { seen: 'true' } }]);

    await handler.invoke(kinesisEvent('orders', [Buffer.from('{"n":1}'), Buffer.from('{"n":2}')]));

    const names = [...store.objects.keys()].filter((id) => id.startsWith('archive/'));
    expect(names).toHaveLength(2);
    expect(names.every((name) => /^archive\/items\/orders-[\w-]+-[0-9a-f]{16}-1\.jsonl\.gz$/.test(name))).toBe(true);
  });
});
