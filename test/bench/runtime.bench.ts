/**
 * Runtime benchmark (`npm run bench`; `scripts/bench.mjs` runs it bundled, with `--expose-gc`).
 *
 * 1. Throughput: a Kinesis event of 10,000 JSON records (~300 bytes) into the S3 sink (gzip JSON
 *    lines, in-memory store), through `createHandler` on a resolved spec (what the Lambda bundle
 *    builds), against a hand-written handler doing the same work. Three cases: light (filter
 *    only), main (filter, rename, drop, set, cast) and heavy (ten steps including flatten, hash,
 *    template and a templated key prefix). Both sides run in the same process in interleaved
 *    rounds that alternate which side goes first, with `gc()` before each sample so one side's
 *    garbage is not collected on the other's clock. Prints wall and CPU time (median, min–max)
 *    and one `ratio wall X.XXx  cpu X.XXx` line per case (the median of the per-round ratios).
 * 2. Cold start: a fresh `node` process loading the Lambda bundle with a spec until its first
 *    response, against a bundle of a bare handler importing the same SDK client; both write to a
 *    local HTTP endpoint standing in for S3. Prints the median of several starts and bundle sizes.
 *
 * Options: `--rounds N` (measured rounds per case, default 25; `--rounds 1` is the CI smoke run),
 * `--no-cold-start`.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KinesisStreamEvent } from 'aws-lambda';
import { build } from 'esbuild';
import { createHandler } from '../../engine/handler.ts';
import { kinesisEvent } from '../../engine/local/events.ts';
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';
import { GZIP_LEVEL } from '../../engine/staging/encode.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';

const RECORDS = 10_000;
const STARTS = 7;

const { values: options } = parseArgs({
  options: { rounds: { type: 'string', default: '25' }, 'no-cold-start': { type: 'boolean', default: false } },
});
const ROUNDS = Number(options.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got ${JSON.stringify(options.rounds)}`);
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

function record(index: number) {
  return {
    event_id: `evt-${index.toString().padStart(8, '0')}`,
    uid: `user-${index % 997}`,
    status: index % 50 === 0 ? 'test' : 'paid',
    amount: (index % 1000) / 7,
    currency: 'EUR',
    // 30 s apart: 10,000 records span four UTC days, so the heavy case's dated key makes four objects.
    ts: 1764237600000 + index * 30_000,
    page: `/products/${index % 311}/details`,
    referrer: 'https://www.example.com/search?q=shoes',
    session_id: `s-${(index * 7919) % 100_003}`,
    email: `customer-${index % 4099}@example.com`,
    client: { ip: `10.0.${index % 256}.${(index * 13) % 256}`, agent: { name: 'Firefox', version: `${100 + (index % 30)}` } },
    debug: { trace: `t-${index}`, host: 'web-03' },
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
  spec: ReturnType<typeof spec>;
  /** What a team would write by hand for this pipeline: the baseline. */
  handWritten(store: MemoryObjectStore): Handler;
}

const CASES: Case[] = [
  {
    name: 'light',
    description: 'filter only',
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

function event(): KinesisStreamEvent {
  return kinesisEvent('orders', Array.from({ length: RECORDS }, (_, index) => Buffer.from(JSON.stringify(record(index)))));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

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

const spread = (values: number[]) => `${median(values).toFixed(1).padStart(6)} ms (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`;

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
  // The ratio is the median of each round's ratio, not a ratio of medians: the two samples of a
  // round run back to back, so load from other processes that drifts over seconds mostly cancels.
  const ratio = (metric: keyof Sample) => median(samples.engine.map((value, index) => value[metric] / samples.baseline[index]![metric]));
  const wall = ratio('wall');
  const cpu = ratio('cpu');
  console.log(`${benchCase.name}: ${benchCase.description}`);
  console.log(line('ingest', samples.engine));
  console.log(line('hand-written', samples.baseline));
  console.log(`  ratio wall ${wall.toFixed(2)}x  cpu ${cpu.toFixed(2)}x`);
}

async function coldStart(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'ingest-bench-'));
  const lambdaBundle = join(process.cwd(), 'dist/lambda/index.mjs');
  try {
    statSync(lambdaBundle);
  } catch {
    execFileSync('node', ['scripts/build.mjs'], { stdio: 'inherit' });
  }
  const engineDir = join(directory, 'engine');
  const bareDir = join(directory, 'bare');
  execFileSync('mkdir', ['-p', engineDir, bareDir]);
  copyFileSync(lambdaBundle, join(engineDir, 'index.mjs'));
  writeFileSync(join(engineDir, 'spec.json'), JSON.stringify({ spec: resolveSpec(CASES.find((benchCase) => benchCase.name === 'main')!.spec), files: {} }));
  writeFileSync(
    join(directory, 'bare.ts'),
    `import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
const client = new S3Client({ forcePathStyle: true });
export const handler = async (event: { Records: { kinesis: { data: string } }[] }) => {
  const body = event.Records.map((record) => Buffer.from(record.kinesis.data, 'base64').toString('utf8')).join('\\n');
  await client.send(new PutObjectCommand({ Bucket: 'archive', Key: 'bare.jsonl', Body: body }));
  return { batchItemFailures: [] };
};
`,
  );
  await build({
    entryPoints: [join(directory, 'bare.ts')],
    outfile: join(bareDir, 'index.mjs'),
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    nodePaths: [join(process.cwd(), 'node_modules')],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });

  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { ETag: '"bench"' });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const small = JSON.stringify(kinesisEvent('orders', Array.from({ length: 10 }, (_, index) => Buffer.from(JSON.stringify(record(index + 1))))));
  writeFileSync(join(directory, 'event.json'), small);
  const probe = (bundle: string) =>
    `const { handler } = await import(${JSON.stringify(bundle)});
const event = JSON.parse((await import('node:fs')).readFileSync(${JSON.stringify(join(directory, 'event.json'))}, 'utf8'));
const response = await handler(event, { awsRequestId: 'cold' });
if (response.batchItemFailures.length) throw new Error('failures');
process.stdout.write(String(performance.now()));`;
  const environment = { ...process.env, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' };
  const run = (bundle: string) =>
    new Promise<number>((resolve, reject) => {
      import('node:child_process').then(({ execFile }) =>
        execFile('node', ['--no-deprecation', '--input-type=module', '-e', probe(bundle)], { env: environment }, (error, stdout, stderr) => {
          if (error) reject(new Error(`${bundle}: ${stderr || error.message}`));
          else resolve(Number(stdout.trim().split('\n').at(-1)));
        }),
      );
    });

  const starts = { engine: [] as number[], bare: [] as number[] };
  try {
    for (let index = 0; index < STARTS; index++) {
      starts.engine.push(await run(join(engineDir, 'index.mjs')));
      starts.bare.push(await run(join(bareDir, 'index.mjs')));
    }
  } finally {
    server.close();
  }
  const size = (file: string) => {
    const bytes = readFileSync(file);
    return `${(bytes.length / 1024).toFixed(0)} KiB (${(gzipSync(bytes).length / 1024).toFixed(0)} KiB gzip)`;
  };
  const engineMs = median(starts.engine);
  const bareMs = median(starts.bare);
  console.log(`cold start: fresh node process until the first response, median of ${STARTS}`);
  console.log(`  ingest bundle + spec: ${engineMs.toFixed(0)} ms   bundle ${size(join(engineDir, 'index.mjs'))}`);
  console.log(`  bare handler bundle:  ${bareMs.toFixed(0)} ms   bundle ${size(join(bareDir, 'index.mjs'))}`);
  console.log(`  ratio: ${(engineMs / bareMs).toFixed(2)}x, ${(engineMs - bareMs).toFixed(0)} ms more`);
}

const input = event();
const bytes = input.Records.reduce((total, item) => total + Buffer.from(item.kinesis.data, 'base64').length, 0);
console.log(`throughput: ${RECORDS} records, ${(bytes / RECORDS).toFixed(0)} bytes each; medians (min–max) of ${ROUNDS} interleaved rounds after ${WARMUP} warm-up, gc() before each sample`);
for (const benchCase of CASES) await throughput(input, benchCase);
if (!options['no-cold-start']) await coldStart();
