import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../engine/handler.ts';
import { kinesisEvent, s3ObjectCreatedEvent } from '../../../engine/local/events.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import { reconciling } from '../../support/reconciliation.ts';

// The regression reports of docs/decisions/0022-json-record-values.md, through the whole
// handler: a 10 KB line nested 5,000 levels between two good lines, via Kinesis and via S3
// jsonl and json, is one `too-deep` dead letter; its neighbours are written, no batch item
// fails, and the counts reconcile (asserted by `reconciling` on every invocation). Long integers
// reach the sink with every digit; `1e400` is a `non-finite-number` dead letter.

const NOW = new Date('2026-11-27T10:00:00Z');
const DEEP = `{"x":${'['.repeat(4999)}${']'.repeat(4999)}}`;
const FIRST = '{"id":12345678901234567890,"n":1}';
const LAST = '{"id":2,"n":0.1}';

function specWith(source: Record<string, unknown>) {
  return resolveSpec({
    version: 1,
    name: 'orders',
    dead_letter: { bucket: 'errors', prefix: 'orders/{{stage}}/' },
    sources: { orders: source },
    sinks: { out: { type: 's3', inputs: ['orders'], bucket: 'out', key: 'o/', compression: 'none' } },
  });
}

function handlerFor(source: Record<string, unknown>, store: MemoryObjectStore) {
  const lines: string[] = [];
  const handler = createHandler(specWith(source), { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: (line) => lines.push(line), clock: () => NOW });
  return reconciling(handler, lines);
}

/** The JSON lines stored under `bucket`, as text (so exact digits stay visible). */
function linesIn(store: MemoryObjectStore, bucket: string): string[] {
  return [...store.objects]
    .filter(([id]) => id.startsWith(`${bucket}/`))
    .flatMap(([, object]) => (object.contentEncoding === 'gzip' ? gunzipSync(object.body) : Buffer.from(object.body)).toString('utf8').trim().split('\n'));
}

const PATHS: Array<{ name: string; invoke(middle: string): Promise<{ summary: Awaited<ReturnType<ReturnType<typeof handlerFor>['invoke']>>; store: MemoryObjectStore }> }> = [
  {
    name: 'Kinesis',
    async invoke(middle) {
      const store = new MemoryObjectStore();
      const handler = handlerFor({ type: 'kinesis', stream: 'orders', format: 'json' }, store);
      const summary = await handler.invoke(kinesisEvent('orders', [FIRST, middle, LAST].map((text) => Buffer.from(text)), { arrival: NOW }));
      return { summary, store };
    },
  },
  ...(['jsonl', 'json'] as const).map((format) => ({
    name: `S3 ${format}`,
    async invoke(middle: string) {
      const store = new MemoryObjectStore();
      const body = format === 'jsonl' ? `${FIRST}\n${middle}\n${LAST}\n` : `[${FIRST},${middle},${LAST}]`;
      store.set('raw', `in/orders.${format}`, body);
      const handler = handlerFor({ type: 's3', bucket: 'raw', prefix: 'in/', format }, store);
      const summary = await handler.invoke(s3ObjectCreatedEvent([{ bucket: 'raw', key: `in/orders.${format}`, size: body.length }], { time: NOW }));
      return { summary, store };
    },
  })),
];

describe('JSON records through the handler', () => {
  for (const path of PATHS) {
    describe(path.name, () => {
      it('dead-letters the 5,000-level line as too-deep and writes its neighbours', async () => {
        const { summary, store } = await path.invoke(DEEP);

        expect(summary.counts).toEqual({ records_in: 3, written: 2, filtered: 0, dead_lettered: 1, failed: 0 });
        expect(summary.response).toEqual({ batchItemFailures: [] });
        expect(linesIn(store, 'errors').map((line) => (JSON.parse(line) as { code: string }).code)).toEqual(['too-deep']);
      });

      it('writes an integer beyond 2^53 with all its digits', async () => {
        const { store } = await path.invoke('{"id":3,"n":2}');

        expect(linesIn(store, 'out')).toEqual(['{"id":"12345678901234567890","n":1}', '{"id":3,"n":2}', '{"id":2,"n":0.1}']);
      });

      it('dead-letters a number beyond the double range instead of writing null', async () => {
        const { summary, store } = await path.invoke('{"id":3,"f":1e400}');

        expect(summary.counts).toMatchObject({ written: 2, dead_lettered: 1, failed: 0 });
        expect(linesIn(store, 'errors').map((line) => (JSON.parse(line) as { code: string }).code)).toEqual(['non-finite-number']);
      });
    });
  }
});
