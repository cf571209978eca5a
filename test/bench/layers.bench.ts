/**
 * Where the light case's extra time goes (`npm run bench:layers`; `scripts/bench.mjs` runs it
 * bundled and minified, with `--expose-gc`).
 *
 * The runtime benchmark's light case (10,000 Kinesis JSON records, `filter` only, into the S3
 * sink) measured as a ladder: each rung replaces one part of the hand-written handler with the
 * engine's own code, so the step from one rung to the next is what that part costs. The last
 * rung is the engine itself (`createHandler`), as `runtime.bench.ts` runs it.
 *
 * 1. hand-written: `runtime.bench.ts`'s baseline (base64, UTF-8, `JSON.parse`, a JS comparison,
 *    `JSON.stringify`, one `gzipSync`, one put);
 * 2. strict JSON: the engine's payload decoding (`decodePayload`: UTF-8 that refuses invalid
 *    bytes, the depth and exact-number walk);
 * 3. CEL filter: the compiled `filter` step instead of the JS comparison;
 * 4. Kinesis decoding: the engine's record decoder (`decodeKinesisRecord`: envelope checks,
 *    base64 validation, the record's meta, decoded items);
 * 5. S3 sink writer: the sink's writer (encoding into slabs, gzip in the thread pool, the object's
 *    name from the identity of its records, a ticket per record) instead of join and `gzipSync`;
 * 6. engine: the pipeline around them (batch items, a tracker per record, routing, per-component
 *    counts, outcomes reconciled).
 *
 * Each rung runs in a process of its own, against the hand-written handler in interleaved rounds
 * with `gc()` before each sample, as `runtime.bench.ts` runs its cases: rungs that share one
 * process share the engine's functions, and a rung that hands the S3 writer plain objects where
 * the pipeline hands it trackers makes the writer's call sites polymorphic and the engine rung
 * slower than it is alone. Prints each rung's median wall and CPU time, its ratio to the
 * hand-written handler (the median of per-round ratios) and its step from the rung before (the
 * quotient of the two ratios). Every rung must write the same records as the hand-written one, or
 * the benchmark fails.
 *
 * Options: `--rounds N` (measured rounds per rung, default 30); `--rung N` runs rung N (2–6)
 * alone against the hand-written handler and prints its figures as JSON (what each child runs).
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KinesisStreamEvent } from 'aws-lambda';
import { createHandler } from '../../engine/handler.ts';
import type { Decoded, RecordMeta, RecordValue } from '../../engine/pipeline/record.ts';
import type { Invocation, Ticket } from '../../engine/plugin/types.ts';
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';
import { s3Sink } from '../../engine/sinks/s3/sink.ts';
import { decodeKinesisRecord } from '../../engine/sources/kinesis/decode.ts';
import { decodePayload } from '../../engine/sources/kinesis/decode-payload.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';
import { GZIP_LEVEL } from '../../engine/staging/encode.ts';
import { filterStep } from '../../engine/transforms/filter/step.ts';
import { median, orderEvent, pairedRatio, positiveInteger } from './measure.ts';

const RECORDS = 10_000;
const FILTER = "record.status != 'test'";

const { values: options } = parseArgs({ options: { rounds: { type: 'string', default: '30' }, rung: { type: 'string' } } });
const ROUNDS = positiveInteger('--rounds', options.rounds);
const WARMUP = Math.min(3, ROUNDS - 1);

const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with node --expose-gc (scripts/bench.mjs passes it)');

const spec = resolveSpec({
  version: 1,
  name: 'bench',
  dead_letter: { bucket: 'errors' },
  sources: { orders: { type: 'kinesis', stream: 'orders', format: 'json' } },
  transforms: { clean: { inputs: ['orders'], steps: [{ filter: FILTER }] } },
  sinks: { archive: { type: 's3', inputs: ['clean'], bucket: 'archive', format: 'jsonl', compression: 'gzip', key: 'orders/' } },
});
const source = spec.sources.orders as Parameters<typeof decodeKinesisRecord>[2];
const sinkConfig = spec.sinks.archive as Parameters<typeof s3Sink.create>[1];

type KinesisRecord = KinesisStreamEvent['Records'][number];
type Rung = (input: KinesisStreamEvent, store: MemoryObjectStore) => Promise<unknown>;

const filter = filterStep.compile(FILTER, {} as Parameters<typeof filterStep.compile>[1]);
const invocation: Invocation = { state: new Map(), now: new Date(), requestId: 'bench', deadline: Number.MAX_SAFE_INTEGER };
const NO_META = {} as RecordMeta;
const bytesOf = (item: KinesisRecord) => Buffer.from(item.kinesis.data, 'base64');

/** The end of the first four rungs: the hand-written handler's one object. */
async function putLines(store: MemoryObjectStore, input: KinesisStreamEvent, lines: string[]): Promise<void> {
  const first = input.Records[0]!.kinesis.sequenceNumber;
  const body = gzipSync(lines.join('\n') + '\n', { level: GZIP_LEVEL });
  await store.put('archive', `orders/orders-${first}-${lines.length}.jsonl.gz`, body, { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
}

function strictValue(item: KinesisRecord): RecordValue {
  const decoded = decodePayload(bytesOf(item), 'json', undefined);
  if (!decoded.ok) throw new Error(decoded.message);
  return decoded.value;
}

function decodedRecord(item: KinesisRecord): Extract<Decoded, { outcome: 'record' }> {
  const [decoded] = decodeKinesisRecord(item, 'orders', source);
  if (decoded?.outcome !== 'record') throw new Error(`record ${item.kinesis.sequenceNumber} did not decode`);
  return decoded;
}

/** Settles nothing: what the pipeline's trackers do for the writer's tickets is the last rung's part. */
const TICKET: Ticket = { written() {}, failed(failure) { throw new Error(failure.message); } };

// Each rung is written out like the hand-written handler rather than built by a shared helper:
// the helper's calls to its decoder and filter would serve both sides of a process, turn
// polymorphic, and cost the rungs more than some of the parts they measure.
const RUNGS: [string, (store: MemoryObjectStore) => Rung][] = [
  ['hand-written', () => async (input, store) => {
    const lines: string[] = [];
    for (const item of input.Records) {
      const value = JSON.parse(bytesOf(item).toString('utf8')) as RecordValue;
      if (value.status === 'test') continue;
      lines.push(JSON.stringify(value));
    }
    await putLines(store, input, lines);
  }],
  ['strict JSON', () => async (input, store) => {
    const lines: string[] = [];
    for (const item of input.Records) {
      const value = strictValue(item);
      if (value.status === 'test') continue;
      lines.push(JSON.stringify(value));
    }
    await putLines(store, input, lines);
  }],
  ['CEL filter', () => async (input, store) => {
    const lines: string[] = [];
    for (const item of input.Records) {
      const value = strictValue(item);
      if (filter(value, NO_META, invocation) === undefined) continue;
      lines.push(JSON.stringify(value));
    }
    await putLines(store, input, lines);
  }],
  ['Kinesis decoding', () => async (input, store) => {
    const lines: string[] = [];
    for (const item of input.Records) {
      const { value, meta } = decodedRecord(item);
      if (filter(value, meta, invocation) === undefined) continue;
      lines.push(JSON.stringify(value));
    }
    await putLines(store, input, lines);
  }],
  ['S3 sink writer', (store) => {
    const sink = s3Sink.create('archive', sinkConfig, { objects: store }, { pipeline: 'bench' });
    return async (input) => {
      const writer = sink.open(invocation);
      const records = input.Records;
      for (let index = 0; index < records.length; index++) {
        const { value, meta, raw } = decodedRecord(records[index]!);
        if (filter(value, meta, invocation) === undefined) continue;
        const pending = writer.add({ record: value, meta, ticket: TICKET, item: { index, staged: false }, raw, ordinal: 0 });
        if (pending) await pending;
      }
      await writer.close();
    };
  }],
  ['engine', (store) => {
    const handler = createHandler(spec, { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: () => {} });
    return (input) => handler(input);
  }],
];

/** The sorted lines a rung wrote: every rung must write what the hand-written one did. */
function written(store: MemoryObjectStore): string {
  const lines = [...store.objects.values()].flatMap((object) => gunzipSync(object.body).toString('utf8').split('\n').filter(Boolean));
  return lines.sort().join('\n');
}

interface Sample {
  wall: number;
  cpu: number;
}

/** What one rung's process prints: its medians and its ratio to the hand-written handler. */
interface RungFigures {
  wall: number;
  cpu: number;
  ratio: number;
}

async function sample(rung: Rung, input: KinesisStreamEvent, store: MemoryObjectStore): Promise<Sample> {
  store.objects.clear();
  collect!();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await rung(input, store);
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

/** Rung `index` against the hand-written handler, in interleaved rounds that alternate which goes first. */
async function measureRung(index: number): Promise<RungFigures> {
  const input = orderEvent(RECORDS);
  const sides = [0, index].map((rung) => {
    const store = new MemoryObjectStore();
    return { run: RUNGS[rung]![1](store), store, samples: [] as Sample[] };
  });
  const [hand, rung] = sides as [(typeof sides)[number], (typeof sides)[number]];
  for (let round = -WARMUP; round < ROUNDS; round++) {
    for (const side of round % 2 === 0 ? [hand, rung] : [rung, hand]) {
      const measured = await sample(side.run, input, side.store);
      if (round >= 0) side.samples.push(measured);
    }
    if (round === -WARMUP && written(rung.store) !== written(hand.store)) throw new Error(`rung "${RUNGS[index]![0]}" wrote other records than the hand-written handler`);
  }
  const walls = (side: typeof hand) => side.samples.map((value) => value.wall);
  return {
    wall: median(walls(rung)),
    cpu: median(rung.samples.map((value) => value.cpu)),
    ratio: pairedRatio(walls(rung), walls(hand)),
  };
}

/** Runs this benchmark again for rung `index` alone, in a fresh process. */
function runChild(index: number): Promise<RungFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', process.argv[1]!, '--rung', String(index + 1), '--rounds', String(ROUNDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(JSON.parse(stdout) as RungFigures) : reject(new Error(`rung ${index} exited with ${status}`))));
  });
}

if (options.rung !== undefined) {
  const index = positiveInteger('--rung', options.rung) - 1;
  if (index < 1 || index >= RUNGS.length) throw new Error(`--rung must be 2 to ${RUNGS.length}`);
  console.log(JSON.stringify(await measureRung(index)));
} else {
  console.log(`light case, ${RECORDS} Kinesis records: each rung in its own process against the hand-written handler, ${ROUNDS} interleaved rounds, gc() before each sample`);
  console.log(`${'rung'.padEnd(18)} ${'wall ms'.padStart(8)} ${'cpu ms'.padStart(8)}   ${'vs hand-written'.padStart(15)}   step`);
  let previous = 1;
  for (let index = 1; index < RUNGS.length; index++) {
    const figures = await runChild(index);
    const step = figures.ratio / previous;
    previous = figures.ratio;
    console.log(`${RUNGS[index]![0].padEnd(18)} ${figures.wall.toFixed(1).padStart(8)} ${figures.cpu.toFixed(1).padStart(8)}   ${`${figures.ratio.toFixed(2)}x`.padStart(15)}   ${step >= 1 ? '+' : '-'}${Math.abs((step - 1) * 100).toFixed(1)} %`);
  }
}
