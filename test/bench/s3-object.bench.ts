/**
 * Large S3 object benchmark (`node scripts/bench.mjs test/bench/s3-object.bench.ts [--mb 1024]
 * [--rounds 3]`): one gzip JSON-lines object of `--mb` MiB uncompressed through the main steps of
 * runtime.bench.ts (filter, rename, drop, set, cast) into the S3 sink (gzip JSON lines) at its
 * default settings, against a hand-written streaming handler doing the same work (GetObject stream
 * → gunzip → split lines → transform → gzip → `@aws-sdk/lib-storage` Upload).
 *
 * Each sample is a fresh `node` process, so peak RSS (`process.resourceUsage().maxRSS`) is that
 * side's alone; rounds alternate which side runs first. Ingest runs as Lambda runs it: the handler
 * on a resolved spec with the ports `buildPorts` makes (S3ObjectStore over an S3Client), given the
 * SQS event an EventBridge notification of the object makes. Both sides talk to a local HTTP
 * server standing in for S3: it serves the object for GetObject and takes PutObject and multipart
 * uploads, decompressing what it is sent to count the records in every object it publishes
 * (bodies are then dropped), so a side that skips work is caught.
 *
 * The object is generated once per size into the temp directory and reused.
 *
 * To see what holds memory or time: `BENCH_MEMORY=1` makes each side print `process.memoryUsage()`
 * every second (to stderr); `BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=<dir>'` passes flags
 * to the sides' processes.
 *
 * Output (stable; the overall benchmark runner reads it):
 *   s3 object: <mb> MiB gzip JSON lines (<records> records, <gz> MiB compressed), main steps; medians (min–max) of <n> paired fresh processes
 *     ingest        wall <ms> ms (…)   cpu <ms> ms (…)   rss <MiB> MiB (…)
 *     hand-written  wall <ms> ms (…)   cpu <ms> ms (…)   rss <MiB> MiB (…)
 *     ratio wall X.XXx  cpu X.XXx  rss X.XXx (ingest <MiB> MiB, hand-written <MiB> MiB)
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, renameSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import type { Gunzip } from 'node:zlib';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHandler } from '../../engine/handler.ts';
import { s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import { buildPorts } from '../../engine/ports/aws-ports.ts';
import { GZIP_LEVEL } from '../../engine/staging/encode.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';
import { median, orderRecord } from './measure.ts';

const { values: options } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    // Internal: a child process running one side.
    side: { type: 'string' },
    endpoint: { type: 'string' },
    size: { type: 'string' },
  },
});

const MIB = 1024 * 1024;
const SOURCE_BUCKET = 'raw';
const OUTPUT_BUCKET = 'archive';

/** The main case of runtime.bench.ts, reading the object from an `s3` source. */
const SPEC = {
  version: 1,
  name: 'bench',
  dead_letter: { bucket: 'errors' },
  sources: { orders: { type: 's3', bucket: SOURCE_BUCKET, format: 'jsonl' } },
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
  sinks: { archive: { type: 's3', inputs: ['clean'], bucket: OUTPUT_BUCKET, key: 'orders/', format: 'jsonl', compression: 'gzip' } },
};

const objectKey = (mb: number) => `orders/${mb}mb.jsonl.gz`;

// ---------------------------------------------------------------------------------------------
// A child process: one side, one run.

interface SideResult {
  wall: number;
  cpu: number;
  rss: number;
}

async function runSide(side: string, endpoint: string, mb: number, size: number): Promise<void> {
  process.env.AWS_ENDPOINT_URL = endpoint;
  const key = objectKey(mb);
  let run: () => Promise<void>;
  if (side === 'ingest') {
    const spec = resolveSpec(SPEC);
    const handler = createHandler(spec, { ports: buildPorts(spec, process.env), files: { exists: () => false, read: () => undefined }, write: () => {} });
    const event = s3ObjectCreatedEvent([{ bucket: SOURCE_BUCKET, key, size, etag: 'bench' }]);
    run = async () => {
      const response = await handler(event, { awsRequestId: 'bench', getRemainingTimeInMillis: () => 900_000 });
      if (response?.batchItemFailures.length) throw new Error(`ingest reported failures: ${JSON.stringify(response.batchItemFailures)}`);
    };
  } else {
    const client = new S3Client({ forcePathStyle: true });
    run = () => handWritten(client, key);
  }
  (globalThis as { gc?: () => void }).gc?.();
  if (process.env.BENCH_MEMORY) {
    const sample = () => Object.entries(process.memoryUsage()).map(([name, bytes]) => `${name} ${(bytes / MIB).toFixed(0)}`).join(' ');
    setInterval(() => console.error(`${side}: ${sample()} MiB`), 1000).unref();
  }
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await run();
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const result: SideResult = { wall, cpu: (cpu.user + cpu.system) / 1000, rss: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(result) + '\n');
}

/** What a team would write by hand: one stream from GetObject to a multipart upload, with back-pressure throughout. */
async function handWritten(client: S3Client, key: string): Promise<void> {
  const response = await client.send(new GetObjectCommand({ Bucket: SOURCE_BUCKET, Key: key }));
  let rest = '';
  const transform = (line: string, out: string[]) => {
    if (line === '') return;
    const value = JSON.parse(line) as Record<string, unknown>;
    if (value.status === 'test') return;
    value.user_id = value.uid;
    delete value.uid;
    delete value.debug;
    value.amount_cents = Math.trunc((value.amount as number) * 100);
    value.ts = new Date(value.ts as number).toISOString().replace('.000Z', 'Z');
    out.push(JSON.stringify(value));
  };
  const lines = new Transform({
    decodeStrings: false,
    transform(chunk: Buffer, _encoding, callback) {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      const out: string[] = [];
      for (const line of parts) transform(line, out);
      callback(null, out.length > 0 ? out.join('\n') + '\n' : undefined);
    },
    flush(callback) {
      const out: string[] = [];
      transform(rest, out);
      callback(null, out.length > 0 ? out.join('\n') + '\n' : undefined);
    },
  });
  const gzip = createGzip({ level: GZIP_LEVEL });
  const upload = new Upload({
    client,
    params: { Bucket: OUTPUT_BUCKET, Key: 'hand-written/orders.jsonl.gz', Body: gzip, ContentType: 'application/x-ndjson', ContentEncoding: 'gzip' },
  });
  await Promise.all([pipeline(response.Body as Readable, createGunzip(), lines, gzip), upload.done()]);
}

// ---------------------------------------------------------------------------------------------
// The parent: the object, the stand-in for S3, and the paired runs.

/** Writes the object once per size: `orderRecord(i)` lines until `mb` MiB, gzip-compressed. */
async function objectFile(mb: number): Promise<{ file: string; records: number }> {
  const file = join(tmpdir(), `ingest-bench-s3-object-${mb}mb.jsonl.gz`);
  const target = mb * MIB;
  let records = 0;
  let bytes = 0;
  // Counting again when the file exists is cheaper than trusting a side file to match it.
  const lines = function* () {
    while (bytes < target) {
      const line = JSON.stringify(orderRecord(records++)) + '\n';
      bytes += line.length;
      yield line;
    }
  };
  if (existsSync(file)) {
    for (const _ of lines());
    return { file, records };
  }
  const partial = `${file}.${process.pid}.partial`;
  await pipeline(Readable.from(lines()), createGzip({ level: 6 }), createWriteStream(partial));
  renameSync(partial, file);
  return { file, records };
}

/**
 * Counts the records of every object published to it; bodies are decompressed as they arrive and
 * dropped. Requests are answered without waiting for the counting, so that it adds no latency to
 * either side; `counted` waits for it.
 */
class StandInS3 {
  records = 0;
  bytes = 0;
  private counting: Promise<void>[] = [];
  private readonly uploads = new Map<string, { gunzip: Gunzip; lines: Promise<number>; next: number; waiting: Map<number, Buffer> }>();
  private nextUpload = 1;

  constructor(
    private readonly file: string,
    private readonly size: number,
  ) {}

  handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url!, 'http://localhost');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const query = url.searchParams;
    const fail = (error: unknown) => {
      response.writeHead(500, { 'Content-Type': 'application/xml' });
      response.end(`<Error><Code>InternalError</Code><Message>${String(error)}</Message></Error>`);
    };
    const done = (status: number, headers: Record<string, string> = {}, body = '') => {
      response.writeHead(status, { 'Content-Type': 'application/xml', ...headers });
      response.end(body);
    };
    if (request.method === 'GET' && bucket === SOURCE_BUCKET) {
      request.resume();
      response.writeHead(200, { 'Content-Length': String(this.size), ETag: '"bench"', 'Content-Type': 'application/gzip' });
      createReadStream(this.file).pipe(response);
      return;
    }
    if (request.method === 'POST' && query.has('uploads')) {
      request.resume();
      const id = `upload-${this.nextUpload++}`;
      const gunzip = createGunzip();
      this.uploads.set(id, { gunzip, lines: countLines(gunzip), next: 1, waiting: new Map() });
      done(200, {}, `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
      return;
    }
    collect(request).then(async (body) => {
      this.bytes += body.byteLength;
      const uploadId = query.get('uploadId');
      if (request.method === 'PUT' && uploadId === null) {
        const gunzip = createGunzip();
        this.count(countLines(gunzip));
        gunzip.end(body);
        done(200, { ETag: '"put"' });
        return;
      }
      const upload = uploadId === null ? undefined : this.uploads.get(uploadId);
      if (upload === undefined) throw new Error(`no upload ${uploadId}`);
      if (request.method === 'PUT') {
        // Parts may arrive out of order (lib-storage uploads several at once): fed to gunzip in order.
        upload.waiting.set(Number(query.get('partNumber')), body);
        for (let part = upload.waiting.get(upload.next); part !== undefined; part = upload.waiting.get(upload.next)) {
          upload.waiting.delete(upload.next++);
          upload.gunzip.write(part);
        }
        done(200, { ETag: `"part-${query.get('partNumber')}"` });
      } else if (request.method === 'POST') {
        this.uploads.delete(uploadId!);
        upload.gunzip.end();
        this.count(upload.lines);
        done(200, {}, `<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"complete"</ETag></CompleteMultipartUploadResult>`);
      } else if (request.method === 'DELETE') {
        this.uploads.delete(uploadId!);
        upload.gunzip.destroy();
        done(204);
      } else {
        throw new Error(`unexpected ${request.method} ${request.url}`);
      }
    }).catch(fail);
  }

  /** The records of every object published so far, once they are counted. */
  async counted(): Promise<number> {
    while (this.counting.length > 0) await Promise.all(this.counting.splice(0));
    return this.records;
  }

  private count(lines: Promise<number>): void {
    this.counting.push(lines.then((count) => void (this.records += count)));
  }
}

function collect(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

async function countLines(stream: Gunzip): Promise<number> {
  let lines = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let index = chunk.indexOf(0x0a); index !== -1; index = chunk.indexOf(0x0a, index + 1)) lines++;
  }
  return lines;
}

function runChild(side: string, endpoint: string, mb: number, size: number): Promise<SideResult> {
  const environment = { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' };
  const flags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  const args = ['--expose-gc', '--no-warnings', ...flags, process.argv[1]!, '--side', side, '--endpoint', endpoint, '--mb', String(mb), '--size', String(size)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: environment, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${side} exited with ${code}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as SideResult);
    });
  });
}

async function main(): Promise<void> {
  const mb = Number(options.mb);
  const rounds = Number(options.rounds);
  if (!Number.isInteger(mb) || mb < 1) throw new Error(`--mb must be a positive integer, got ${JSON.stringify(options.mb)}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${JSON.stringify(options.rounds)}`);
  const { file, records } = await objectFile(mb);
  const size = statSync(file).size;
  const expected = records - Math.ceil(records / 50); // every 50th record has status test
  const s3 = new StandInS3(file, size);
  const server = createServer((request, response) => s3.handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const samples = { ingest: [] as SideResult[], 'hand-written': [] as SideResult[] };
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['ingest', 'hand-written'] as const) : (['hand-written', 'ingest'] as const);
      for (const side of order) {
        s3.records = 0;
        const result = await runChild(side, endpoint, mb, size);
        const written = await s3.counted();
        if (written !== expected) throw new Error(`${side} wrote ${written} records, expected ${expected}`);
        samples[side].push(result);
      }
    }
  } finally {
    server.close();
  }

  const spread = (values: number[], digits: number) => `${median(values).toFixed(digits).padStart(7)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
  const line = (label: string, values: SideResult[]) =>
    `  ${label.padEnd(13)} wall ${spread(values.map((value) => value.wall), 0)} ms   cpu ${spread(values.map((value) => value.cpu), 0)} ms   rss ${spread(values.map((value) => value.rss), 0)} MiB`;
  // Per-round ratios, then their median: the two processes of a round run back to back.
  const ratio = (metric: keyof SideResult) => median(samples.ingest.map((value, index) => value[metric] / samples['hand-written'][index]![metric]));
  const rss = (side: keyof typeof samples) => median(samples[side].map((value) => value.rss)).toFixed(0);
  console.log(`s3 object: ${mb} MiB gzip JSON lines (${records} records, ${(size / MIB).toFixed(1)} MiB compressed), main steps; medians (min–max) of ${rounds} paired fresh processes`);
  console.log(line('ingest', samples.ingest));
  console.log(line('hand-written', samples['hand-written']));
  console.log(`  ratio wall ${ratio('wall').toFixed(2)}x  cpu ${ratio('cpu').toFixed(2)}x  rss ${ratio('rss').toFixed(2)}x (ingest ${rss('ingest')} MiB, hand-written ${rss('hand-written')} MiB)`);
}

if (options.side !== undefined) await runSide(options.side, options.endpoint!, Number(options.mb), Number(options.size));
else await main();
