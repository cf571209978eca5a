/**
 * Runtime benchmark (`npm run bench`).
 *
 * 1. Throughput: a Kinesis event of 10,000 JSON records (~300 bytes) through filter + rename +
 *    drop + set + cast into the S3 sink (gzip JSON lines, in-memory store), against a hand-written
 *    handler doing the same work, in the same process, alternating. Prints records/s and the ratio.
 * 2. Cold start: a fresh `node` process loading the Lambda bundle with a spec until its first
 *    response, against a bundle of a bare handler importing the same SDK client; both write to a
 *    local HTTP endpoint standing in for S3. Prints the median of several starts and bundle sizes.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { KinesisStreamEvent } from 'aws-lambda';
import { build } from 'esbuild';
import { createHandler } from '../../engine/handler.ts';
import { kinesisEvent } from '../../engine/local/events.ts';
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';
import { GZIP_LEVEL } from '../../engine/sinks/s3/encode.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';

const RECORDS = 10_000;
const ROUNDS = 15;
const STARTS = 7;

const SPEC = {
  version: 1,
  name: 'bench',
  dead_letter: { bucket: 'errors' },
  sources: { orders: { type: 'kinesis', stream: 'orders', format: 'json' } },
  transforms: {
    clean: {
      inputs: ['orders'],
      steps: [
        { filter: "record.status != 'test'" },
        { rename: { uid: 'user_id' } },
        { drop: ['debug'] },
        { set: { amount_cents: 'int(record.amount * 100.0)' } },
        { cast: { ts: 'timestamp' } },
      ],
    },
  },
  sinks: { archive: { type: 's3', inputs: ['clean'], bucket: 'archive', key: 'orders/', format: 'jsonl', compression: 'gzip' } },
};

function record(index: number) {
  return {
    event_id: `evt-${index.toString().padStart(8, '0')}`,
    uid: `user-${index % 997}`,
    status: index % 50 === 0 ? 'test' : 'paid',
    amount: (index % 1000) / 7,
    currency: 'EUR',
    ts: 1764237600000 + index * 1000,
    page: `/products/${index % 311}/details`,
    referrer: 'https://www.example.com/search?q=shoes',
    session_id: `s-${(index * 7919) % 100_003}`,
    debug: { trace: `t-${index}`, host: 'web-03' },
  };
}

function event(): KinesisStreamEvent {
  return kinesisEvent('orders', Array.from({ length: RECORDS }, (_, index) => Buffer.from(JSON.stringify(record(index)))));
}

/** What a team would write by hand for this pipeline: the baseline. */
function handWrittenHandler(store: MemoryObjectStore) {
  return async (input: KinesisStreamEvent) => {
    const lines: string[] = [];
    for (const item of input.Records) {
      const value = JSON.parse(Buffer.from(item.kinesis.data, 'base64').toString('utf8')) as Record<string, unknown>;
      if (value.status === 'test') continue;
      value.user_id = value.uid;
      delete value.uid;
      delete value.debug;
      value.amount_cents = Math.trunc((value.amount as number) * 100);
      value.ts = new Date(value.ts as number).toISOString().replace('.000Z', 'Z');
      lines.push(JSON.stringify(value));
    }
    const first = input.Records[0]!.kinesis.sequenceNumber;
    const body = gzipSync(lines.join('\n') + '\n', { level: GZIP_LEVEL });
    await store.put('archive', `orders/orders-${first}-${lines.length}.jsonl.gz`, body, { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
    return { batchItemFailures: [] };
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function throughput(): Promise<void> {
  const input = event();
  const bytes = input.Records.reduce((total, item) => total + Buffer.from(item.kinesis.data, 'base64').length, 0);
  const engineStore = new MemoryObjectStore();
  const engine = createHandler(resolveSpec(SPEC), { ports: { objects: engineStore }, files: { exists: () => false, read: () => undefined }, write: () => {} });
  const baseline = handWrittenHandler(new MemoryObjectStore());

  const timings = { engine: [] as number[], baseline: [] as number[] };
  for (let round = -3; round < ROUNDS; round++) {
    for (const [name, run] of [['engine', () => engine(input)], ['baseline', () => baseline(input)]] as const) {
      const started = performance.now();
      const response = await run();
      const elapsed = performance.now() - started;
      if (response?.batchItemFailures.length) throw new Error(`${name} reported failures`);
      if (round >= 0) timings[name].push(elapsed);
    }
  }
  const written = [...engineStore.objects.values()].reduce((total, object) => total + object.body.length, 0);
  const engineMs = median(timings.engine);
  const baselineMs = median(timings.baseline);
  console.log(`throughput: ${RECORDS} records, ${(bytes / RECORDS).toFixed(0)} bytes each, median of ${ROUNDS} alternating rounds`);
  console.log(`  ingest runtime:   ${engineMs.toFixed(1)} ms  ${Math.round((RECORDS / engineMs) * 1000).toLocaleString('en')} records/s`);
  console.log(`  hand-written:     ${baselineMs.toFixed(1)} ms  ${Math.round((RECORDS / baselineMs) * 1000).toLocaleString('en')} records/s`);
  console.log(`  ratio (ingest / hand-written time): ${(engineMs / baselineMs).toFixed(2)}x   (gzip output ${(written / 1024).toFixed(0)} KiB per invocation)`);
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
  writeFileSync(join(engineDir, 'spec.json'), JSON.stringify({ spec: resolveSpec(SPEC), files: {} }));
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

await throughput();
await coldStart();
