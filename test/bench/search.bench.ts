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
 */
import { build } from 'esbuild';
import type { BuildOptions, BuildResult, Plugin } from 'esbuild';
import type { KinesisMeta, RecordValue } from '../../engine/pipeline/record.ts';
import type { SinkEntry } from '../../engine/plugin/types.ts';
import { createSearchSink } from '../../engine/sinks/search/sink.ts';
import type { SearchSinkConfig } from '../../engine/sinks/search/sink.ts';
import { BulkServer } from '../support/bulk-server.ts';

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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
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

await throughput();
await bundleSize();
