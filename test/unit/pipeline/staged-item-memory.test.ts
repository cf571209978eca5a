import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandler, InvocationFailedError } from '../../../engine/handler.ts';
import type { InvocationSummary } from '../../../engine/handler.ts';
import { s3ObjectCreatedEvent } from '../../../engine/local/events.ts';
import { localSearchSink } from '../../../engine/local/file-search-index.ts';
import { ItemOutcome } from '../../../engine/pipeline/outcome.ts';
import type { ItemScope, Ports, Sink, SinkWriter } from '../../../engine/plugin/types.ts';
import { ledgerScope } from '../../../engine/ports/ledger.ts';
import type { Ledger } from '../../../engine/ports/ledger.ts';
import { MemoryLedger } from '../../../engine/ports/memory-ledger.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { MemoryWarehouse } from '../../../engine/ports/memory-warehouse.ts';
import { s3Sink } from '../../../engine/sinks/s3/sink.ts';
import { postgresSink, redshiftSink } from '../../../engine/sinks/warehouse/sink.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import type { ResolvedSink } from '../../../engine/spec/resolved-spec.ts';
import { FailingBucketStore } from '../../support/failing-bucket-store.ts';
import { reconciling } from '../../support/reconciliation.ts';

// The class test of "per-record state held for a whole staged item" (issue 10, Build 5;
// docs/decisions/0052-bounded-memory-s3-objects.md, 0055-staged-items-hold-no-records.md). One
// row per member that receives the records of a staged item (an S3 object, read while its
// records are delivered): an object goes through the handler at two sizes, and what the
// pipeline still holds of it when it commits (its records whose outcome is not final, each kept
// alive by an unsettled ticket: tracker, meta, raw line, and whatever the member keeps beside
// it) must not grow with the object. The measure is structural, not heap figures: the item's
// records read less those with an outcome, taken when the first sink is asked to commit, which is
// after its last record was routed and before anything of it is published. Each row also checks
// its outputs, and every invocation reconciles.

const SMALL = 4_000;
const LARGE = 20_000;
/** What the held count may grow by from SMALL to LARGE: a twentieth of a record per extra record (bounded work in flight, never per record). */
const SLACK = (LARGE - SMALL) / 20;

const PIPELINE = 'orders';
const SINK = 'out';

/** Line `index` of the input; with `badEvery`, only every `badEvery`-th line is JSON and the others do not decode. */
function line(index: number, badEvery: number | undefined): string {
  if (badEvery !== undefined && index % badEvery !== 0) return `not json ${index} ${'x'.repeat(40)}\n`;
  return `${JSON.stringify({ id: `o${index}`, amount: index % 1000, note: `n-${index % 97}`, debug: { trace: `t-${index}` } })}\n`;
}

interface Run {
  summary: InvocationSummary;
  /** The item's records without an outcome when the first sink was asked to commit it. */
  held: number;
  store: MemoryObjectStore;
  ledger: Ledger;
}

/** A member of the class: the spec's sink, and what the row checks of its outputs. */
interface Row {
  name: string;
  /** The `out` sink of the spec. */
  sink: Record<string, unknown>;
  /** Every `badEvery`-th line is good, the others do not decode: an object made mostly of dead letters. */
  badEvery?: number;
  /** Builds the sink under test (the spec's own, or a local stand-in). */
  build(id: string, config: ResolvedSink, ports: Ports): Sink;
  /** Records of the object that reached the sink's output, read back. */
  written(run: Run): number | Promise<number>;
  /** The bucket the member stores into: a refused upload there must fail the whole object. */
  bucket?: string;
}

/** Records in the objects under `bucket/prefix` (gzip JSON lines). */
function linesUnder(store: MemoryObjectStore, bucket: string, prefix: string): string[] {
  return [...store.objects]
    .filter(([id]) => id.startsWith(`${bucket}/${prefix}`))
    .flatMap(([, object]) => (object.contentEncoding === 'gzip' ? gunzipSync(object.body) : Buffer.from(object.body)).toString('utf8').trimEnd().split('\n'));
}

/** Rows registered in the ledger for the warehouse sink, in every batch (the open one is sealed to list it). */
async function registeredRecords(ledger: Ledger): Promise<number> {
  const scope = ledgerScope(PIPELINE, SINK);
  const open = await ledger.openBatch(scope);
  if (open.totals.files > 0) await ledger.seal(scope, open.batch, Date.now());
  const listed = await Promise.all((await ledger.batches(scope)).map((batch) => ledger.files(scope, batch.batch)));
  return listed.flatMap(({ files }) => files).reduce((sum, file) => sum + file.records, 0);
}

const searchDirectories: string[] = [];
afterAll(() => {
  for (const directory of searchDirectories) rmSync(directory, { recursive: true, force: true });
});

/** A search sink against the local stand-in index of `ingest run --local` (a directory of `_bulk` bodies), and the documents it received. */
function searchRow(type: 'elasticsearch' | 'opensearch'): Row {
  let directory = '';
  return {
    name: `${type} sink`,
    sink: { type, endpoint: 'https://search.example.com', auth: { type: 'none' }, index: 'orders', id: '{{record.id}}' },
    build(id, config) {
      directory = mkdtempSync(join(tmpdir(), 'ingest-staged-memory-'));
      searchDirectories.push(directory);
      return localSearchSink(id, config, directory)!;
    },
    written: () => readdirSync(directory).flatMap((name) => readFileSync(join(directory, name), 'utf8').trimEnd().split('\n').filter((text) => 'index' in JSON.parse(text))).length,
  };
}

const warehouseColumns = { table: 'public.orders', columns: ['id', 'amount', 'note'], staging: { bucket: 'staging' } };

const ROWS: Row[] = [
  {
    name: 's3 sink',
    sink: { type: 's3', bucket: 'archive', key: 'orders/' },
    build: (id, config, ports) => s3Sink.create(id, config as never, ports, { pipeline: PIPELINE }),
    written: ({ store }) => linesUnder(store, 'archive', 'orders/').length,
    bucket: 'archive',
  },
  {
    name: 'redshift sink',
    sink: { type: 'redshift', connection: { workgroup: 'analytics', database: 'dev' }, ...warehouseColumns },
    build: (id, config, ports) => redshiftSink.create(id, config as never, ports, { pipeline: PIPELINE }),
    written: ({ ledger }) => registeredRecords(ledger),
    bucket: 'staging',
  },
  {
    name: 'postgres sink',
    sink: { type: 'postgres', connection: { secret_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pg' }, ...warehouseColumns },
    build: (id, config, ports) => postgresSink.create(id, config as never, ports, { pipeline: PIPELINE }),
    written: ({ ledger }) => registeredRecords(ledger),
    bucket: 'staging',
  },
  {
    name: 'dead-letter writer (an object of mostly bad lines)',
    sink: { type: 's3', bucket: 'archive', key: 'orders/' },
    badEvery: 10,
    build: (id, config, ports) => s3Sink.create(id, config as never, ports, { pipeline: PIPELINE }),
    written: ({ store }) => linesUnder(store, 'archive', 'orders/').length,
    bucket: 'errors',
  },
  searchRow('elasticsearch'),
  searchRow('opensearch'),
];

/** Wraps `sink` so that the first `commit` of each item records how many of its records have no outcome yet. */
function probed(sink: Sink, held: number[]): Sink {
  return {
    ...sink,
    open(invocation) {
      const writer = sink.open(invocation);
      const probe: SinkWriter = {
        add: (entry) => writer.add(entry),
        commit(item: ItemScope) {
          if (!(item instanceof ItemOutcome)) throw new TypeError('the pipeline hands sinks its item outcomes as their scope');
          const { records_in, written, filtered, dead_lettered, failed } = item.counts;
          held.push(records_in - written - filtered - dead_lettered - failed);
          return writer.commit(item);
        },
        abort: (item) => writer.abort(item),
        close: () => writer.close(),
        ...(writer.settle ? { settle: writer.settle.bind(writer) } : {}),
      };
      return probe;
    },
  };
}

async function run(row: Row, records: number, store = new MemoryObjectStore()): Promise<Run> {
  const spec = resolveSpec({
    version: 1,
    name: PIPELINE,
    dead_letter: { bucket: 'errors' },
    sources: { orders: { type: 's3', bucket: 'raw', format: 'jsonl' } },
    transforms: { clean: { inputs: ['orders'], steps: [{ drop: ['debug'] }] } },
    sinks: { [SINK]: { inputs: ['clean'], ...row.sink } },
  });
  const ledger = new MemoryLedger();
  const ports: Ports = { objects: store, ledger, warehouse: () => new MemoryWarehouse() };
  const body = gzipSync(Array.from({ length: records }, (_, index) => line(index, row.badEvery)).join(''));
  store.set('raw', 'orders/day.jsonl.gz', body);
  const held: number[] = [];
  const lines: string[] = [];
  const handler = reconciling(
    createHandler(spec, { ports, files: { exists: () => false, read: () => undefined }, write: (entry) => lines.push(entry), sinkOverride: (id, config) => probed(row.build(id, config, ports), held) }),
    lines,
  );
  // A direct invocation fails as a whole when an item fails; the summary says why.
  const summary = await handler.invoke(s3ObjectCreatedEvent([{ bucket: 'raw', key: 'orders/day.jsonl.gz', size: body.length }])).catch((error: unknown) => {
    if (error instanceof InvocationFailedError) return error.summary;
    throw error;
  });
  expect(held).toHaveLength(1);
  return { summary, held: held[0]!, store, ledger };
}

describe('a staged item holds no per-record state until it commits', () => {
  for (const row of ROWS) {
    it(`${row.name}: what is held at commit does not grow with the object`, async () => {
      const held: number[] = [];
      for (const records of [SMALL, LARGE]) {
        const result = await run(row, records);
        const good = row.badEvery === undefined ? records : Math.ceil(records / row.badEvery);
        expect(result.summary.counts).toEqual({ records_in: records, written: good, filtered: 0, dead_lettered: records - good, failed: 0 });
        expect(result.summary.failures).toEqual([]);
        expect(await row.written(result)).toBe(good);
        expect(linesUnder(result.store, 'errors', '')).toHaveLength(records - good);
        expect(result.store.staged.size).toBe(0);
        held.push(result.held);
      }
      expect(held[1]! - held[0]!).toBeLessThanOrEqual(SLACK);
    });
  }
});

describe('what fails after a staged item\'s records settled fails the whole item', () => {
  for (const row of ROWS) {
    const { bucket } = row;
    if (bucket === undefined) continue;
    it(`${row.name}: an upload refused to s3://${bucket} retries the object, with the store's reason`, async () => {
      const result = await run(row, SMALL, new FailingBucketStore(bucket));

      const { summary } = result;
      // Each record keeps the one outcome it settled with; the item is retried as a whole.
      const good = row.badEvery === undefined ? SMALL : Math.ceil(SMALL / row.badEvery);
      expect(summary.counts).toEqual({ records_in: SMALL, written: good, filtered: 0, dead_lettered: SMALL - good, failed: 0 });
      expect(summary.failures).toEqual([{ item: summary.items[0]!.id, retried: true, reason: expect.stringMatching(new RegExp(`s3://${bucket}/.*SlowDown`)) }]);
      expect(summary.response).toEqual({ batchItemFailures: [{ itemIdentifier: summary.items[0]!.id }] });
      expect(linesUnder(result.store, bucket, '')).toEqual([]);
      expect(await registeredRecords(result.ledger)).toBe(0);
      expect(result.store.staged.size).toBe(0);
    });
  }
});
