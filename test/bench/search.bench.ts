/**
 * Search sink benchmark (`npm run bench:search`).
 *
 * 1. Throughput: 20,000 JSON records (~300 bytes) indexed through the search sink into the local
 *    `_bulk` test server (test/support/bulk-server.ts, in this process), with bulk requests of 500
 *    and of 5,000 documents, against a hand-written baseline that builds the same NDJSON bodies and
 *    posts them with plain `fetch` (same request sizes, same concurrency, response checked for
 *    `errors`). Rounds alternate; prints the median documents per second of each.
 * 2. Bundle size: the Lambda bundle (engine/lambda.ts, minified as scripts/build.mjs builds it) with
 *    the search sinks, against the same bundle with their module replaced by a stub, so the
 *    difference is what the sinks add.
 *
 * `--staged [--mb 16,64] [--memory-kib 1024,16384] [--rounds 3]` runs a third part instead: staged
 * S3 objects through the handler into an opensearch sink, which holds each object's operations
 * until its commit and spills them to a file in the temp directory past `--memory-kib` of
 * operations (docs/decisions/0056-search-staged-items-in-bounded-memory.md). One gzip JSON-lines
 * object per `--mb` (MiB uncompressed, `orderRecord` lines, main steps minus the filter's dead
 * weight: every 50th record is filtered), read from a local `FsObjectStore`; the index is a stub in
 * the same process that answers 201 to every document and keeps nothing, so what is measured is
 * the handler, the sink and its spill. Each sample is a fresh `node` process (peak RSS is its
 * alone); rounds rotate which threshold runs first. Per size and threshold: wall, CPU, peak RSS
 * and the bytes written to spill files (what `/tmp` must hold), medians (min–max).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { build } from 'esbuild';
import type { BuildOptions, BuildResult, Plugin } from 'esbuild';
import { createHandler } from '../../engine/handler.ts';
import { s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import type { KinesisMeta, RecordValue } from '../../engine/pipeline/record.ts';
import type { SinkEntry } from '../../engine/plugin/types.ts';
import { FsObjectStore } from '../../engine/ports/fs-object-store.ts';
import type { SearchIndex } from '../../engine/ports/search-index.ts';
import { createSearchSink } from '../../engine/sinks/search/sink.ts';
import type { SearchSinkConfig } from '../../engine/sinks/search/sink.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';
import { BulkServer } from '../support/bulk-server.ts';
import { median, orderRecord, positiveInteger } from './measure.ts';

const { values: options } = parseArgs({
  options: {
    staged: { type: 'boolean', default: false },
    mb: { type: 'string', default: '16,64' },
    'memory-kib': { type: 'string', default: '1024,16384' },
    rounds: { type: 'string', default: '3' },
    // Internal: a child process running one sample.
    side: { type: 'string' },
  },
});

const RECORDS = 20_000;
const ROUNDS = 7;
const CONCURRENCY = 2;

function record(index: number): RecordValue {
  return {
    event_id: `evt-${index.toString().padStart(8, '0')}`,
    user_id: `user-${index % 997}`,
    status: 'paid',
    amount_cents: (index % 1000) * 7,
    currency: 'EUR',
    ts: new Date(1764237600000 + index * 1000).toISOString(),
    page: `/products/${index % 311}/details`,
    referrer: 'https://www.example.com/search?q=shoes',
    session_id: `s-${(index * 7919) % 100_003}`,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0',
  };
}

function meta(index: number): KinesisMeta {
  return { event: 'kinesis', source: 'orders', arrival_time: '2026-11-27T10:00:00.000Z', position: `shard/${index}`, stream: 'orders', shard: 'shard', sequence: String(index), partition_key: 'pk' };
}

function config(url: string, bulkSize: number): SearchSinkConfig {
  return {
    type: 'opensearch',
    inputs: ['orders'],
    on_error: 'retry',
    endpoint: url,
    auth: { type: 'none', service: 'es' },
    index: 'orders',
    id: '{{record.event_id}}',
    action: 'index',
    create_conflict: 'written',
    batch: { max_records: bulkSize, max_bytes: 100 * 1024 * 1024 },
    retry: { max_attempts: 5, initial_backoff_ms: 200, max_backoff_ms: 10_000 },
    timeout_seconds: 60,
    concurrency: CONCURRENCY,
  };
}

/** The sink: one invocation over all records, awaiting `add` as the pipeline does. */
async function throughSink(url: string, bulkSize: number, records: RecordValue[]): Promise<number> {
  const writer = createSearchSink('search', config(url, bulkSize)).open({ state: new Map(), now: new Date(), requestId: 'bench', deadline: Date.now() + 600_000 });
  let written = 0;
  const ticket = { written: () => void written++, failed: () => {} };
  const started = performance.now();
  for (let index = 0; index < records.length; index++) {
    const pending = writer.add({ record: records[index]!, meta: meta(index), ticket, item: { index, staged: false } } as SinkEntry);
    if (pending) await pending;
  }
  await writer.close();
  const elapsed = performance.now() - started;
  if (written !== records.length) throw new Error(`sink wrote ${written} of ${records.length}`);
  return elapsed;
}

/** The baseline: the same bodies built by hand, posted with fetch, CONCURRENCY at a time. */
async function throughFetch(url: string, bulkSize: number, records: RecordValue[]): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const from = next;
      next = Math.min(records.length, next + bulkSize);
      let body = '';
      for (let index = from; index < next; index++) {
        const value = records[index]!;
        body += `{"index":{"_index":"orders","_id":${JSON.stringify(value.event_id)}}}\n${JSON.stringify(value)}\n`;
      }
      const response = await fetch(`${url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      const answer = (await response.json()) as { errors: boolean };
      if (answer.errors) throw new Error('baseline: the server reported errors');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return performance.now() - started;
}

async function throughput(): Promise<void> {
  const server = await BulkServer.start();
  const records = Array.from({ length: RECORDS }, (_, index) => record(index));
  const bytes = records.reduce((sum, value) => sum + JSON.stringify(value).length, 0);
  const timings: Record<string, number[]> = {};
  const runs: [string, (url: string, size: number, values: RecordValue[]) => Promise<number>, number][] = [
    ['sink, bulk 500', throughSink, 500],
    ['fetch baseline, bulk 500', throughFetch, 500],
    ['sink, bulk 5000', throughSink, 5000],
    ['fetch baseline, bulk 5000', throughFetch, 5000],
  ];
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [name, run, size] of runs) {
      server.reset();
      // structuredClone: the sink may not rely on records it saw in an earlier round.
      const elapsed = await run(server.url, size, round === 0 ? records : structuredClone(records));
      if (round > 0) (timings[name] ??= []).push(elapsed); // round 0 warms up
    }
  }
  await server.stop();
  console.log(`throughput: ${RECORDS} documents, ${(bytes / RECORDS).toFixed(0)} bytes each, concurrency ${CONCURRENCY}, median of ${ROUNDS} alternating rounds, server in the same process`);
  for (const size of [500, 5000]) {
    const sink = median(timings[`sink, bulk ${size}`]!);
    const baseline = median(timings[`fetch baseline, bulk ${size}`]!);
    const perSecond = (ms: number) => Math.round((RECORDS / ms) * 1000).toLocaleString('en-US');
    console.log(`  bulk ${String(size).padStart(4)}: sink ${perSecond(sink).padStart(8)} docs/s (${sink.toFixed(0)} ms)   fetch baseline ${perSecond(baseline).padStart(8)} docs/s (${baseline.toFixed(0)} ms)   sink/baseline time ${(sink / baseline).toFixed(2)}`);
  }
}

async function bundleSize(): Promise<void> {
  const common: BuildOptions = { entryPoints: ['engine/lambda.ts'], bundle: true, platform: 'node', target: 'node20', format: 'esm', minify: true, write: false, logLevel: 'silent' };
  const stub: Plugin = {
    name: 'stub-search-sink',
    setup(builder) {
      builder.onResolve({ filter: /sinks\/search\/sink\.ts$/ }, () => ({ path: 'search-sink-stub', namespace: 'stub' }));
      builder.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
        contents: "export const elasticsearchSink = { type: 'elasticsearch', create() { throw new Error('stub'); } }; export const opensearchSink = { type: 'opensearch', create() { throw new Error('stub'); } };",
        loader: 'js',
      }));
    },
  };
  const withSink = await build({ ...common });
  const withoutSink = await build({ ...common, plugins: [stub] });
  const size = (result: BuildResult) => result.outputFiles![0]!.contents.length;
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log(`bundle: Lambda bundle ${kib(size(withSink))} with the search sinks, ${kib(size(withoutSink))} without: the sinks add ${kib(size(withSink) - size(withoutSink))} (minified; SigV4 signer, hashing, credential chain and Secrets Manager client included)`);
}

// ---------------------------------------------------------------------------------------------
// Staged objects (`--staged`).

const MIB = 1024 * 1024;
const STAGED_ROOT = join(tmpdir(), 'ingest-bench-search-staged');
const stagedKey = (mb: number) => `orders/${mb}mb.jsonl.gz`;

const STAGED_SPEC = {
  version: 1,
  name: 'bench',
  dead_letter: { bucket: 'errors' },
  sources: { orders: { type: 's3', bucket: 'raw', format: 'jsonl' } },
  transforms: {
    clean: {
      inputs: ['orders'],
      steps: [{ filter: "record.status != 'test'" }, { rename: { uid: 'user_id' } }, { drop: ['debug'] }, { set: { amount_cents: 'int(record.amount * 100.0)' } }, { cast: { ts: 'timestamp' } }],
    },
  },
  sinks: { search: { type: 'opensearch', inputs: ['clean'], endpoint: 'http://127.0.0.1:9', auth: { type: 'none' }, index: 'orders', id: '{{record.event_id}}', batch: { max_records: 1000 } } },
};

interface StagedResult {
  wall: number;
  cpu: number;
  rss: number;
  /** Bytes written to spill files. */
  spilled: number;
  documents: number;
}

/** `orderRecord(i)` lines until `mb` MiB, gzip-compressed, written once per size under STAGED_ROOT. */
async function stagedObject(mb: number): Promise<{ records: number }> {
  const file = new FsObjectStore(STAGED_ROOT).pathOf('raw', stagedKey(mb));
  let records = 0;
  let bytes = 0;
  const lines = function* () {
    while (bytes < mb * MIB) {
      const line = JSON.stringify(orderRecord(records++)) + '\n';
      bytes += line.length;
      yield line;
    }
  };
  if (existsSync(file)) {
    for (const _ of lines());
    return { records };
  }
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await pipeline(Readable.from(lines()), createGzip({ level: 6 }), createWriteStream(partial));
  renameSync(partial, file);
  return { records };
}

/** One sample, in a child process: the object through the handler, spilling past `memoryKib`. */
async function stagedSide(mb: number, memoryKib: number): Promise<void> {
  const result: StagedResult = { wall: 0, cpu: 0, rss: 0, spilled: 0, documents: 0 };
  const items = '{"index":{"status":201}},';
  const index: SearchIndex = {
    bulk: async (body) => {
      let lines = 0;
      for (let at = body.indexOf(0x0a); at !== -1; at = body.indexOf(0x0a, at + 1)) lines++;
      const count = lines / 2; // index operations: an action line and a source line each
      result.documents += count;
      return { status: 200, body: `{"errors":false,"items":[${items.repeat(count).slice(0, -1)}]}` };
    },
  };
  const spec = resolveSpec(STAGED_SPEC);
  const handler = createHandler(spec, {
    ports: { objects: new FsObjectStore(STAGED_ROOT) },
    files: { exists: () => false, read: () => undefined },
    write: () => {},
    sinkOverride: (id, config) =>
      createSearchSink(id, config as SearchSinkConfig, {
        index,
        spill: {
          memoryBytes: memoryKib * 1024,
          open: (path) => {
            const file = createWriteStream(path, { flags: 'wx' });
            file.on('close', () => (result.spilled += file.bytesWritten));
            return file;
          },
        },
      }),
  });
  const size = statSync(new FsObjectStore(STAGED_ROOT).pathOf('raw', stagedKey(mb))).size;
  const event = s3ObjectCreatedEvent([{ bucket: 'raw', key: stagedKey(mb), size, etag: 'bench' }]);
  (globalThis as { gc?: () => void }).gc?.();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const response = await handler(event, { awsRequestId: 'bench', getRemainingTimeInMillis: () => 900_000 });
  result.wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  result.cpu = (cpu.user + cpu.system) / 1000;
  result.rss = process.resourceUsage().maxRSS / 1024;
  if (response?.batchItemFailures.length) throw new Error(`ingest reported failures: ${JSON.stringify(response.batchItemFailures)}`);
  process.stdout.write(JSON.stringify(result) + '\n');
}

function stagedChild(mb: number, memoryKib: number): Promise<StagedResult> {
  const args = ['--expose-gc', '--no-warnings', process.argv[1]!, '--side', String(memoryKib), '--mb', String(mb)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as StagedResult) : reject(new Error(`the sample at ${memoryKib} KiB exited with ${code}`))));
  });
}

async function staged(): Promise<void> {
  const list = (option: string, text: string) => text.split(',').map((each) => positiveInteger(option, each));
  const sizes = list('--mb', options.mb!);
  const thresholds = list('--memory-kib', options['memory-kib']!);
  const rounds = positiveInteger('--rounds', options.rounds!);
  const spread = (values: number[], digits: number) => `${median(values).toFixed(digits).padStart(6)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
  for (const mb of sizes) {
    const { records } = await stagedObject(mb);
    const expected = records - Math.ceil(records / 50);
    const samples = new Map<number, StagedResult[]>(thresholds.map((kib) => [kib, []]));
    for (let round = 0; round < rounds; round++) {
      const order = thresholds.map((_, at) => thresholds[(at + round) % thresholds.length]!);
      for (const kib of order) {
        const result = await stagedChild(mb, kib);
        if (result.documents !== expected) throw new Error(`the sample at ${kib} KiB indexed ${result.documents} documents, expected ${expected}`);
        samples.get(kib)!.push(result);
      }
    }
    console.log(`staged: ${mb} MiB gzip JSON-lines object (${records} records) into an opensearch sink; medians (min–max) of ${rounds} fresh processes`);
    for (const [kib, results] of samples) {
      const of = (metric: keyof StagedResult) => results.map((result) => result[metric]);
      console.log(
        `  spill past ${String(kib).padStart(7)} KiB: wall ${spread(of('wall'), 0)} ms   cpu ${spread(of('cpu'), 0)} ms   rss ${spread(of('rss'), 0)} MiB   spilled ${(median(of('spilled')) / MIB).toFixed(1)} MiB`,
      );
    }
  }
}

if (options.side !== undefined) await stagedSide(positiveInteger('--mb', options.mb!), positiveInteger('--side', options.side));
else if (options.staged) await staged();
else {
  await throughput();
  await bundleSize();
}
