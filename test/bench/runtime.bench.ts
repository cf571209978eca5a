/**
 * Runtime throughput (`npm run bench:runtime`, and part of `npm run bench`; `scripts/bench.mjs`
 * runs it bundled, with `--expose-gc`).
 *
 * A Kinesis event of 10,000 JSON records (~300 bytes) into the S3 sink (gzip JSON lines, in-memory
 * store), through `createHandler` on a resolved spec (what the Lambda bundle builds), against a
 * hand-written handler doing the same work. Three cases: light (filter only), main (filter,
 * rename, drop, set, cast) and heavy (ten steps including flatten, hash, template and a templated
 * key prefix). Both sides run in the same process in interleaved rounds that alternate which side
 * goes first, with `gc()` before each sample so one side's garbage is not collected on the
 * other's clock. Prints wall and CPU time (median, min–max) and one `ratio wall X.XXx  cpu X.XXx`
 * line per case (the median of the per-round ratios).
 *
 * `scripts/bench.mjs` bundles this file with its packages and minifies it, as the Lambda bundle is
 * built, so both sides run the way Lambda loads them. The engine side is `createHandler` on an
 * in-memory object store rather than the packaged function, whose ports reach S3 over HTTP: the
 * per-record work is the same code, and a local HTTP server would add noise to both sides.
 * Cold start (the packaged function itself) is `cold-start.bench.ts`.
 *
 * Options: `--rounds N` (measured rounds per case, default 25; `--rounds 1` is the CI smoke run),
 * `--only light,heavy` (the cases to run).
 */
import { createHmac } from 'node:crypto';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KinesisStreamEvent } from 'aws-lambda';
import { createHandler } from '../../engine/handler.ts';
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';
import { GZIP_LEVEL } from '../../engine/staging/encode.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';
import { median, orderEvent, pairedRatio, positiveInteger, spread, summaryRow } from './measure.ts';

const RECORDS = 10_000;

const { values: options } = parseArgs({
  options: { rounds: { type: 'string', default: '25' }, only: { type: 'string' } },
});
const ROUNDS = positiveInteger('--rounds', options.rounds);
// Warm-up rounds let the JIT settle before anything is measured; a one-round smoke run skips them.
const WARMUP = Math.min(3, ROUNDS - 1);

const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with node --expose-gc (scripts/bench.mjs passes it)');

const SALT = 'bench-salt';
const SOURCE = { orders: { type: 'kinesis', stream: 'orders', format: 'json' } };
const ARCHIVE = { type: 's3', inputs: ['clean'], bucket: 'archive', format: 'jsonl', compression: 'gzip' };

function spec(steps: unknown[], key: string) {
  return {
    version: 1,
    name: 'bench',
    dead_letter: { bucket: 'errors' },
    sources: SOURCE,
    transforms: { clean: { inputs: ['orders'], steps } },
    sinks: { archive: { ...ARCHIVE, key } },
  };
}

type Value = Record<string, unknown>;
type Handler = (input: KinesisStreamEvent) => Promise<{ batchItemFailures: unknown[] } | undefined | void>;

const decode = (item: KinesisStreamEvent['Records'][number]) => JSON.parse(Buffer.from(item.kinesis.data, 'base64').toString('utf8')) as Value;
const timestamp = (value: unknown) => new Date(value as number).toISOString().replace('.000Z', 'Z');

async function putLines(store: MemoryObjectStore, prefix: string, input: KinesisStreamEvent, lines: string[]): Promise<void> {
  const first = input.Records[0]!.kinesis.sequenceNumber;
  const body = gzipSync(lines.join('\n') + '\n', { level: GZIP_LEVEL });
  await store.put('archive', `${prefix}orders-${first}-${lines.length}.jsonl.gz`, body, { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
}

interface Case {
  name: string;
  description: string;
  /** Issue 10's goal for Ingest's wall time over the hand-written handler's. */
  goal: number;
  spec: ReturnType<typeof spec>;
  /** What a team would write by hand for this pipeline: the baseline. */
  handWritten(store: MemoryObjectStore): Handler;
}

const CASES: Case[] = [
  {
    name: 'light',
    description: 'filter only',
    goal: 1.15,
    spec: spec([{ filter: "record.status != 'test'" }], 'orders/'),
    handWritten: (store) => async (input) => {
      const lines: string[] = [];
      for (const item of input.Records) {
        const value = decode(item);
        if (value.status === 'test') continue;
        lines.push(JSON.stringify(value));
      }
      await putLines(store, 'orders/', input, lines);
      return { batchItemFailures: [] };
    },
  },
  {
    name: 'main',
    description: 'filter, rename, drop, set, cast',
    goal: 1.15,
    spec: spec(
      [
        { filter: "record.status != 'test'" },
        { rename: { uid: 'user_id' } },
        { drop: ['debug'] },
        { set: { amount_cents: 'int(record.amount * 100.0)' } },
        { cast: { ts: 'timestamp' } },
      ],
      'orders/',
    ),
    handWritten: (store) => async (input) => {
      const lines: string[] = [];
      for (const item of input.Records) {
        const value = decode(item);
        if (value.status === 'test') continue;
        value.user_id = value.uid;
        delete value.uid;
        delete value.debug;
        value.amount_cents = Math.trunc((value.amount as number) * 100);
        value.ts = timestamp(value.ts);
        lines.push(JSON.stringify(value));
      }
      await putLines(store, 'orders/', input, lines);
      return { batchItemFailures: [] };
    },
  },
  {
    name: 'heavy',
    description: '10 steps incl. flatten, hash, template, templated key',
    goal: 1.25,
    spec: spec(
      [
        { filter: "record.status != 'test'" },
        { rename: { uid: 'user_id' } },
        { drop: ['debug'] },
        { default: { channel: 'web' } },
        { set: { amount_cents: 'int(record.amount * 100.0)' } },
        { cast: { ts: 'timestamp' } },
        { flatten: { field: 'client', separator: '_' } },
        { hash: { fields: ['email', 'client_ip'], salt: SALT } },
        { template: { doc_id: '{{record.event_id}}-{{record.user_id}}', summary: '{{upper record.status}} {{record.page}}' } },
        { drop: ['session_id'] },
      ],
      "orders/dt={{date record.ts 'yyyy-MM-dd'}}/",
    ),
    handWritten: (store) => {
      const hmac = (text: string) => createHmac('sha256', SALT).update(text).digest('hex');
      return async (input) => {
        const groups = new Map<string, string[]>();
        for (const item of input.Records) {
          const value = decode(item);
          if (value.status === 'test') continue;
          value.user_id = value.uid;
          delete value.uid;
          delete value.debug;
          value.channel ??= 'web';
          value.amount_cents = Math.trunc((value.amount as number) * 100);
          const ts = timestamp(value.ts);
          value.ts = ts;
          const client = value.client as { ip: string; agent: { name: string; version: string } };
          delete value.client;
          value.client_ip = hmac(client.ip);
          value.client_agent_name = client.agent.name;
          value.client_agent_version = client.agent.version;
          value.email = hmac(value.email as string);
          value.doc_id = `${value.event_id}-${value.user_id}`;
          value.summary = `${(value.status as string).toUpperCase()} ${value.page}`;
          delete value.session_id;
          const prefix = `orders/dt=${ts.slice(0, 10)}/`;
          let lines = groups.get(prefix);
          if (!lines) groups.set(prefix, (lines = []));
          lines.push(JSON.stringify(value));
        }
        for (const [prefix, lines] of groups) await putLines(store, prefix, input, lines);
        return { batchItemFailures: [] };
      };
    },
  },
];

/** Every record line both sides wrote, and the object count, so a baseline that skips work is caught. */
function written(store: MemoryObjectStore): { objects: number; lines: string[] } {
  const lines = [...store.objects.values()].flatMap((object) => gunzipSync(object.body).toString('utf8').split('\n').filter(Boolean));
  return { objects: store.objects.size, lines };
}

function sameWork(name: string, engine: MemoryObjectStore, baseline: MemoryObjectStore): void {
  const a = written(engine);
  const b = written(baseline);
  const fields = (lines: string[]) => (lines[0] ? Object.keys(JSON.parse(lines[0]) as Value).sort().join(',') : '');
  const sorted = (lines: string[]) => lines.map((line) => JSON.stringify(JSON.parse(line), Object.keys(JSON.parse(line) as Value).sort())).sort();
  if (a.objects !== b.objects || a.lines.length !== b.lines.length || fields(a.lines) !== fields(b.lines)) {
    throw new Error(`${name}: the sides did different work: ingest ${a.objects} objects/${a.lines.length} lines [${fields(a.lines)}], hand-written ${b.objects} objects/${b.lines.length} lines [${fields(b.lines)}]`);
  }
  const [x, y] = [sorted(a.lines), sorted(b.lines)];
  const differing = x.findIndex((line, index) => line !== y[index]);
  if (differing >= 0) throw new Error(`${name}: the sides wrote different records:\n  ingest:       ${x[differing]}\n  hand-written: ${y[differing]}`);
}

interface Sample {
  wall: number;
  cpu: number;
}

async function sample(name: string, run: Handler, input: KinesisStreamEvent): Promise<Sample> {
  collect!();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const response = await run(input);
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (response?.batchItemFailures.length) throw new Error(`${name} reported failures`);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

async function throughput(input: KinesisStreamEvent, benchCase: Case): Promise<void> {
  const engineStore = new MemoryObjectStore();
  const baselineStore = new MemoryObjectStore();
  const engine = createHandler(resolveSpec(benchCase.spec), { ports: { objects: engineStore }, files: { exists: () => false, read: () => undefined }, write: () => {} }) as Handler;
  const baseline = benchCase.handWritten(baselineStore);
  const sides = [
    ['engine', engine],
    ['baseline', baseline],
  ] as const;

  const samples = { engine: [] as Sample[], baseline: [] as Sample[] };
  for (let round = -WARMUP; round < ROUNDS; round++) {
    // Alternate which side goes first, so neither always inherits the other's heap and caches.
    const order = round % 2 === 0 ? sides : ([sides[1], sides[0]] as const);
    for (const [name, run] of order) {
      const measured = await sample(name, run, input);
      if (round >= 0) samples[name].push(measured);
    }
    if (round === -WARMUP) sameWork(benchCase.name, engineStore, baselineStore);
  }
  const line = (label: string, values: Sample[]) =>
    `  ${label.padEnd(13)} wall ${spread(values.map((value) => value.wall))}   cpu ${spread(values.map((value) => value.cpu))}`;
  // The ratio is the median of each round's ratio, not a ratio of medians (see pairedRatio).
  const ratio = (metric: keyof Sample) => pairedRatio(samples.engine.map((value) => value[metric]), samples.baseline.map((value) => value[metric]));
  const wall = ratio('wall');
  const cpu = ratio('cpu');
  console.log(`${benchCase.name}: ${benchCase.description}`);
  console.log(line('ingest', samples.engine));
  console.log(line('hand-written', samples.baseline));
  console.log(`  ratio wall ${wall.toFixed(2)}x  cpu ${cpu.toFixed(2)}x`);
  const ms = (values: Sample[]) => `${median(values.map((value) => value.wall)).toFixed(1)} ms`;
  summaryRow({
    case: `${benchCase.name}: ${benchCase.description}, ${RECORDS / 1000}k Kinesis records`,
    ingest: ms(samples.engine),
    baseline: ms(samples.baseline),
    ratio: wall,
    detail: `wall, cpu ${cpu.toFixed(2)}x`,
    goal: `≤ ${benchCase.goal.toFixed(2)}x`,
    met: wall <= benchCase.goal,
  });
}

function selected(only: string | undefined): Case[] {
  if (only === undefined) return CASES;
  const names = only.split(',');
  const unknown = names.filter((name) => !CASES.some((benchCase) => benchCase.name === name));
  if (unknown.length > 0) throw new Error(`--only: no case ${unknown.join(', ')} (the cases are ${CASES.map((benchCase) => benchCase.name).join(', ')})`);
  return CASES.filter((benchCase) => names.includes(benchCase.name));
}

const input = orderEvent(RECORDS);
const bytes = input.Records.reduce((total, item) => total + Buffer.from(item.kinesis.data, 'base64').length, 0);
console.log(`throughput: ${RECORDS} records, ${(bytes / RECORDS).toFixed(0)} bytes each; medians (min–max) of ${ROUNDS} interleaved rounds after ${WARMUP} warm-up, gc() before each sample`);
for (const benchCase of selected(options.only)) await throughput(input, benchCase);

