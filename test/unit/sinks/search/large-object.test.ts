import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, InvocationFailedError } from '../../../../engine/handler.ts';
import { s3ObjectCreatedEvent } from '../../../../engine/local/events.ts';
import type { SinkWriter } from '../../../../engine/plugin/types.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import { createSearchSink } from '../../../../engine/sinks/search/sink.ts';
import type { SearchSinkConfig } from '../../../../engine/sinks/search/sink.ts';
import type { SpillSettings } from '../../../../engine/sinks/search/held-item.ts';
import { resolveSpec } from '../../../../engine/spec/resolve.ts';
import { BulkServer } from '../../../support/bulk-server.ts';
import { reconciling } from '../../../support/reconciliation.ts';

// A large S3 object streamed through the handler into an opensearch sink, which settles its
// tickets as it holds the object's operations and spills them to a temporary file
// (docs/decisions/0056-search-staged-items-in-bounded-memory.md): the documents, their order,
// the counts and the commit point must be what they were when every ticket waited for the commit.

const RECORDS = 30_000;
/** Documents: each is written three times, by records DOCUMENTS apart. */
const DOCUMENTS = 10_000;

function line(index: number): string {
  return `${JSON.stringify({ id: `d${index % DOCUMENTS}`, n: index, status: index % 50 === 0 ? 'test' : 'paid', amount: (index % 1000) / 7 })}\n`;
}

const objectBody = () => gzipSync(Array.from({ length: RECORDS }, (_, index) => line(index)).join(''));

const event = (size: number) => s3ObjectCreatedEvent([{ bucket: 'raw', key: 'orders/day.jsonl.gz', size }]);

/** The dead letters under `bucket`, parsed. */
function lettersIn(store: MemoryObjectStore, bucket: string): Record<string, unknown>[] {
  return [...store.objects]
    .filter(([id]) => id.startsWith(`${bucket}/`))
    .flatMap(([, object]) => (object.contentEncoding === 'gzip' ? gunzipSync(object.body) : Buffer.from(object.body)).toString('utf8').trim().split('\n'))
    .map((text) => JSON.parse(text) as Record<string, unknown>);
}

describe('a large S3 object through the handler into an opensearch sink', () => {
  let server: BulkServer;
  let directory: string;
  /** What the sink's writer did before the cluster got its first request. */
  let seen: { adds: number; committed: boolean; firstRequest?: { adds: number; committed: boolean } };

  beforeAll(async () => {
    server = await BulkServer.start();
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => {
    server.reset();
    directory = mkdtempSync(join(tmpdir(), 'ingest-spill-test-'));
    seen = { adds: 0, committed: false };
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  function handlerFor(store: MemoryObjectStore, spill: Partial<SpillSettings> = {}) {
    const spec = resolveSpec({
      version: 1,
      name: 'orders',
      dead_letter: { bucket: 'errors' },
      sources: { orders: { type: 's3', bucket: 'raw', format: 'jsonl' } },
      transforms: { clean: { inputs: ['orders'], steps: [{ filter: "record.status != 'test'" }] } },
      sinks: { search: { type: 'opensearch', inputs: ['clean'], endpoint: server.url, auth: { type: 'none' }, index: 'orders', id: '{{record.id}}', concurrency: 2, batch: { max_records: 1000 } } },
    });
    const lines: string[] = [];
    const handler = createHandler(spec, {
      ports: { objects: store },
      files: { exists: () => false, read: () => undefined },
      write: (entry) => lines.push(entry),
      sinkOverride: (id, config) => {
        const sink = createSearchSink(id, config as SearchSinkConfig, { spill: { directory: () => directory, memoryBytes: 1024 * 1024, ...spill } });
        return {
          open: (invocation): SinkWriter => {
            const writer = sink.open(invocation);
            return {
              add: (entry) => (seen.adds++, writer.add(entry)),
              commit: (item, committed) => ((seen.committed = true), writer.commit(item, committed)),
              abort: (item) => writer.abort(item),
              close: () => writer.close(),
              settle: (items) => writer.settle!(items),
            };
          },
        };
      },
    });
    server.itemFault = () => {
      seen.firstRequest ??= { adds: seen.adds, committed: seen.committed };
      return undefined;
    };
    return reconciling(handler, lines);
  }

  const passing = RECORDS - RECORDS / 50;

  it('indexes every document once the object is read whole, each as last written, and removes its spill file', async () => {
    const store = new MemoryObjectStore();
    const body = objectBody();
    store.set('raw', 'orders/day.jsonl.gz', body);
    const spilled: string[] = [];

    const summary = await handlerFor(store, { open: (path) => (spilled.push(path), createWriteStream(path, { flags: 'wx' })) }).invoke(event(body.length));

    expect(summary.counts).toEqual({ records_in: RECORDS, written: passing, filtered: RECORDS / 50, dead_lettered: 0, failed: 0 });
    expect(spilled).toHaveLength(1);
    expect(seen.firstRequest).toEqual({ adds: passing, committed: true });
    expect(server.operations()).toHaveLength(passing);
    // Writes to one document keep their order: each holds its last record that passed.
    const last: Record<string, unknown> = {};
    for (let index = 0; index < RECORDS; index++) if (index % 50 !== 0) last[`d${index % DOCUMENTS}`] = JSON.parse(line(index));
    expect(server.documents('orders')).toEqual(last);
    expect(readdirSync(directory)).toEqual([]);
  });

  it('sends nothing of an object whose gzip data turns out corrupt after it spilled, and removes its file', async () => {
    const store = new MemoryObjectStore();
    const body = objectBody();
    const at = Math.floor(body.length * 0.9);
    body[at] = body[at]! ^ 0xff;
    store.set('raw', 'orders/day.jsonl.gz', body);
    const spilled: string[] = [];

    const summary = await handlerFor(store, { open: (path) => (spilled.push(path), createWriteStream(path, { flags: 'wx' })) }).invoke(event(body.length));

    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(spilled).toHaveLength(1);
    expect(seen.committed).toBe(false);
    expect(server.requests).toHaveLength(0);
    expect(lettersIn(store, 'errors')).toEqual([expect.objectContaining({ stage: 'decode', code: 'invalid-gzip' })]);
    expect(readdirSync(directory)).toEqual([]);
  });

  it('dead-letters a document the cluster refuses at commit with its reason and the document, and counts its record dead-lettered', async () => {
    const store = new MemoryObjectStore();
    const body = objectBody();
    store.set('raw', 'orders/day.jsonl.gz', body);
    const handler = handlerFor(store);
    const first = server.itemFault!;
    server.itemFault = (operation) => first(operation) ?? (operation.source?.n === 25_001 ? { status: 400, type: 'mapper_parsing_exception', reason: 'failed to parse field [amount] of type [long]' } : undefined);

    const summary = await handler.invoke(event(body.length));

    expect(summary.counts).toEqual({ records_in: RECORDS, written: passing - 1, filtered: RECORDS / 50, dead_lettered: 1, failed: 0 });
    expect(summary.metrics.get('search', 'records_out')).toBe(passing - 1);
    expect(summary.metrics.get('search', 'dead_lettered')).toBe(1);
    const letters = lettersIn(store, 'errors');
    expect(letters).toEqual([
      expect.objectContaining({
        stage: 'sink',
        code: 'sink-rejected',
        component: 'search',
        message: expect.stringMatching(/refused the document \(400 mapper_parsing_exception: failed to parse field \[amount\]/),
        position: expect.stringMatching(/:25002$/),
        record: { id: 'd5001', n: 25_001, status: 'paid', amount: 1 / 7 },
        raw: line(25_001).trimEnd(),
      }),
    ]);
    // The refused write left the document as the record before it wrote it.
    expect(server.documents('orders').d5001).toMatchObject({ n: 15_001 });
    expect(readdirSync(directory)).toEqual([]);
  });

  it('retries the object, sending nothing, when its operations cannot be spilled (the disk is full)', async () => {
    const store = new MemoryObjectStore();
    const body = objectBody();
    store.set('raw', 'orders/day.jsonl.gz', body);

    const failed = await handlerFor(store, { open: () => createWriteStream('/dev/full') })
      .invoke(event(body.length))
      .catch((error: unknown) => error);

    expect(failed).toBeInstanceOf(InvocationFailedError);
    const { summary } = failed as InvocationFailedError;
    expect(summary.failures).toEqual([{ item: summary.items[0]!.id, retried: true, reason: expect.stringMatching(/sink search could not commit the item: the documents of the item could not be spilled to .*: ENOSPC.*raise runtime\.ephemeral_storage_mb/) }]);
    expect(summary.response).toEqual({ batchItemFailures: [{ itemIdentifier: summary.items[0]!.id }] });
    expect(server.requests).toHaveLength(0);
    expect(readdirSync(directory)).toEqual([]);
  });
});
