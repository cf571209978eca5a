/**
 * Redshift sink benchmark (`npm run bench:redshift`), against real parts it starts itself: moto
 * (S3 for the source-less staging and manifests, DynamoDB for the ledger, through the serializing
 * proxy) and a throwaway PostgreSQL behind the Data API emulator (test/support).
 *
 * Each round (the first warms up and is not counted) stages `--invocations` Kinesis batches of `--records` records through the handler
 * (thresholds out of reach, so nothing seals), then flushes: one batch of those files is sealed
 * and loaded through the production loader (manifest, one transaction: COPY, deduplication,
 * insert, ranges, load ledger). It prints:
 * - DynamoDB requests per staged file while staging, and per batch while loading (an SDK
 *   middleware on the ledger's client; awslabs' loader spends 5 per file);
 * - the engine's S3 requests per staged file and per batch (staged objects, manifest, jsonpaths);
 * - records per second through staging and through loading;
 * - a hand-written baseline of each where one makes sense: staging = the same rows as gzip JSON
 *   lines in one PutObject per invocation, nothing else; loading = one plain COPY of the same
 *   staged files from a manifest straight into a table, no deduplication nor load ledger.
 *
 * Options: --rounds N [3] --invocations N [20] --records N [500].
 */
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { RedshiftDataWarehouse } from '../../engine/ports/redshift-data-warehouse.ts';
import { waitForStatement } from '../../engine/ports/warehouse.ts';
import { CleanupRegistry } from '../support/cleanup-registry.ts';
import { startMoto } from '../support/moto.ts';
import { startPostgres } from '../support/postgres.ts';
import { totalRequests } from '../support/request-counter.ts';
import { kinesisBatch, WarehouseHarness } from '../support/warehouse-harness.ts';
import type { TestRow, WarehousePipeline } from '../support/warehouse-harness.ts';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} takes a positive integer`);
  return value;
}

const ROUNDS = option('rounds', 3);
const INVOCATIONS = option('invocations', 20);
const RECORDS = option('records', 500);

function row(index: number): TestRow {
  return { id: `evt-${String(index).padStart(9, '0')}`, version: index % 1000, body: `page /products/${index % 311}/details from session s-${(index * 7919) % 100_003}` };
}

interface Figures {
  stagingMs: number;
  loadingMs: number;
  files: number;
  batches: number;
  ledgerStaging: number;
  ledgerLoading: number;
  s3Staging: number;
  s3Loading: number;
}

/** One round through the engine: stage, then flush one batch. */
async function throughEngine(harness: WarehouseHarness, pipeline: WarehousePipeline, round: number): Promise<Figures> {
  const first = BigInt(round) * 1_000_000n + 1_000_000_000n;
  const events = Array.from({ length: INVOCATIONS }, (_, invocation) => {
    const base = (round * INVOCATIONS + invocation) * RECORDS;
    return kinesisBatch(pipeline.kinesisRecords(Array.from({ length: RECORDS }, (_, index) => row(base + index)), first + BigInt(invocation * RECORDS)));
  });
  const before = { ledger: totalRequests(harness.ledgerRequests), s3: totalRequests(harness.s3Requests) };
  const stagingStarted = performance.now();
  for (const event of events) {
    const summary = await pipeline.invoke(event);
    if (summary.counts.written !== RECORDS) throw new Error(`round ${round}: an invocation wrote ${summary.counts.written} of ${RECORDS} records`);
  }
  const stagingMs = performance.now() - stagingStarted;
  const staged = { ledger: totalRequests(harness.ledgerRequests), s3: totalRequests(harness.s3Requests) };
  const open = await harness.ledger.openBatch(pipeline.scope);
  const afterRead = { ledger: totalRequests(harness.ledgerRequests) };

  const loadingStarted = performance.now();
  const reports = await pipeline.handler.maintain('flush');
  const loadingMs = performance.now() - loadingStarted;
  const report = reports.warehouse;
  const loaded = report?.loaded.reduce((sum, load) => sum + load.rows, 0) ?? 0;
  if (loaded !== INVOCATIONS * RECORDS) throw new Error(`round ${round}: the flush loaded ${loaded} of ${INVOCATIONS * RECORDS} rows: ${JSON.stringify(report)}`);
  return {
    stagingMs,
    loadingMs,
    files: open.totals.files,
    batches: report!.loaded.length,
    ledgerStaging: staged.ledger - before.ledger,
    ledgerLoading: totalRequests(harness.ledgerRequests) - afterRead.ledger,
    s3Staging: staged.s3 - before.s3,
    s3Loading: totalRequests(harness.s3Requests) - staged.s3,
  };
}

/** The staging baseline: the same rows as gzip JSON lines, one PutObject per invocation. */
async function stageByHand(harness: WarehouseHarness, bucket: string, round: number): Promise<{ ms: number; keys: string[] }> {
  const keys: string[] = [];
  const started = performance.now();
  for (let invocation = 0; invocation < INVOCATIONS; invocation++) {
    const base = (round * INVOCATIONS + invocation) * RECORDS;
    const body = gzipSync(Array.from({ length: RECORDS }, (_, index) => JSON.stringify(row(base + index))).join('\n') + '\n');
    const key = `baseline/${round}/${invocation}.jsonl.gz`;
    await harness.handlerS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentEncoding: 'gzip' }));
    keys.push(key);
  }
  return { ms: performance.now() - started, keys };
}

/** The loading baseline: a manifest of the files and one plain COPY of them into a table. */
async function loadByHand(harness: WarehouseHarness, bucket: string, keys: readonly string[], table: string, round: number): Promise<number> {
  const started = performance.now();
  const manifestKey = `baseline/${round}/manifest.json`;
  const manifest = { entries: keys.map((key) => ({ url: `s3://${bucket}/${key}`, mandatory: true })) };
  await harness.handlerS3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: JSON.stringify(manifest) }));
  const warehouse = new RedshiftDataWarehouse(harness.redshiftData, { workgroup: 'analytics', database: harness.database });
  const id = await warehouse.execute(`COPY ${table} (id, version, body) FROM 's3://${bucket}/${manifestKey}' IAM_ROLE default MANIFEST FORMAT AS JSON 'auto' GZIP`);
  const description = await waitForStatement(warehouse, id, { deadline: Date.now() + 600_000, initialDelayMs: 20, maxDelayMs: 200 });
  if (description?.status !== 'FINISHED') throw new Error(`baseline COPY ${description?.status}: ${description?.error}`);
  return performance.now() - started;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const cleanup = new CleanupRegistry();
  try {
    const [moto, postgres] = await Promise.all([startMoto(cleanup), startPostgres(cleanup)]);
    const harness = await WarehouseHarness.start({ motoUrl: moto.url, pgUrl: postgres.connectionString });
    try {
      const pipeline = await harness.pipeline({
        sink: 'redshift',
        mode: 'append',
        source: 'kinesis',
        batch: { max_files: 10_000, max_records: 100_000_000, max_bytes: '64GiB', max_seconds: 86_400 },
      });
      const baselineTable = `${pipeline.name}.baseline`;
      await harness.pool.query(`CREATE TABLE ${baselineTable} (id VARCHAR(40) NOT NULL, version INTEGER NOT NULL, body VARCHAR(200))`);
      // Nothing seals while staging: the flush is the only load, so staging and loading are timed apart.
      const engine: Figures[] = [];
      const baseline: { stagingMs: number; loadingMs: number }[] = [];
      // Round 0 warms up (cold start, the loads tables, connections) and is not counted.
      for (let round = 0; round <= ROUNDS; round++) {
        const figures = await throughEngine(harness, pipeline, round);
        const staged = await stageByHand(harness, pipeline.buckets.staging, round);
        const loadingMs = await loadByHand(harness, pipeline.buckets.staging, staged.keys, baselineTable, round);
        if (round === 0) continue;
        engine.push(figures);
        baseline.push({ stagingMs: staged.ms, loadingMs });
      }
      const total = INVOCATIONS * RECORDS;
      const rows = await pipeline.rowsIn();
      if (rows !== (ROUNDS + 1) * total) throw new Error(`the table holds ${rows} rows, not ${(ROUNDS + 1) * total}`);
      const sum = (pick: (figures: Figures) => number) => engine.reduce((acc, figures) => acc + pick(figures), 0);
      const files = sum((figures) => figures.files);
      const batches = sum((figures) => figures.batches);
      const perSecond = (ms: number) => Math.round((total / ms) * 1000).toLocaleString('en-US');
      const stagingMs = median(engine.map((figures) => figures.stagingMs));
      const loadingMs = median(engine.map((figures) => figures.loadingMs));
      const baseStagingMs = median(baseline.map((figures) => figures.stagingMs));
      const baseLoadingMs = median(baseline.map((figures) => figures.loadingMs));
      console.log(`redshift sink: ${ROUNDS} rounds (after one warm-up round) of ${INVOCATIONS} invocations x ${RECORDS} records (~${JSON.stringify(row(0)).length} bytes each), one batch per round; moto, and PostgreSQL 15 behind the Data API emulator; medians`);
      console.log(`  dynamodb requests: ${(sum((figures) => figures.ledgerStaging) / files).toFixed(2)} per staged file, ${(sum((figures) => figures.ledgerLoading) / batches).toFixed(1)} per batch loaded (awslabs loader: 5 per file)`);
      console.log(`  s3 requests: ${(sum((figures) => figures.s3Staging) / files).toFixed(2)} per staged file, ${(sum((figures) => figures.s3Loading) / batches).toFixed(1)} per batch loaded`);
      console.log(`  staging: engine ${perSecond(stagingMs).padStart(9)} records/s (${stagingMs.toFixed(0)} ms)   baseline (gzip + PutObject) ${perSecond(baseStagingMs).padStart(9)} records/s (${baseStagingMs.toFixed(0)} ms)   engine/baseline time ${(stagingMs / baseStagingMs).toFixed(2)}`);
      console.log(`  loading: engine ${perSecond(loadingMs).padStart(9)} records/s (${loadingMs.toFixed(0)} ms)   baseline (plain COPY) ${perSecond(baseLoadingMs).padStart(9)} records/s (${baseLoadingMs.toFixed(0)} ms)   engine/baseline time ${(loadingMs / baseLoadingMs).toFixed(2)}`);
    } finally {
      await harness.stop();
    }
  } finally {
    await cleanup.stopAll();
  }
}

await main();
