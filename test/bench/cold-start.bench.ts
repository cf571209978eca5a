/**
 * Cold start (`npm run bench:cold-start`, and part of `npm run bench`): `examples/kinesis-archive.yaml`
 * packaged by `ingest package` (the built CLI, so the package is what a deploy uploads), against a
 * bare handler that imports `@aws-sdk/client-s3` and puts one object, bundled and minified the way
 * the Lambda bundle is. Each start is a fresh `node` process that imports the handler and calls it
 * with a Kinesis event of ten lines of `examples/data/orders.jsonl`; both write to a local HTTP
 * server standing in for S3. The figure is the time from the process's start to the handler's
 * first response (`performance.now()` in the process), median of the starts, which alternate
 * which side goes first. Prints the bundle sizes too: every `.mjs` file of the package against
 * the bare bundle.
 *
 * Options: `--rounds N` (starts of each side, default 15).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { kinesisEvent } from '../../engine/local/events.ts';
import { median, pairedRatio, positiveInteger, summaryRow } from './measure.ts';

const SPEC = 'examples/kinesis-archive.yaml';
const INPUT = 'examples/data/orders.jsonl';
const CLI = 'dist/cli.js';
const TIME_GOAL = 1.2;
const SIZE_GOAL_KIB = 700;

const { values: options } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const STARTS = positiveInteger('--rounds', options.rounds);

const directory = mkdtempSync(join(tmpdir(), 'ingest-bench-cold-'));
const packageDir = join(directory, 'package');
const bareDir = join(directory, 'bare');
mkdirSync(bareDir);

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { ETag: '"bench"' });
    response.end();
  });
});

try {
  if (!existsSync(CLI)) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  execFileSync(process.execPath, [CLI, 'package', SPEC, '--out', packageDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  await bundleBareHandler();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const lines = readFileSync(INPUT, 'utf8').split('\n').filter(Boolean).slice(0, 10);
  writeFileSync(join(directory, 'event.json'), JSON.stringify(kinesisEvent('orders', lines.map((line) => Buffer.from(line)))));

  const sides = [
    ['ingest', join(packageDir, 'index.mjs')],
    ['bare', join(bareDir, 'index.mjs')],
  ] as const;
  const starts = { ingest: [] as number[], bare: [] as number[] };
  for (let round = 0; round < STARTS; round++) {
    for (const [name, bundle] of round % 2 === 0 ? sides : [sides[1], sides[0]]) starts[name].push(await start(bundle, endpoint));
  }

  const kibibytes = (files: string[]) => files.reduce((total, file) => total + readFileSync(file).length, 0) / 1024;
  const gzipKibibytes = (files: string[]) => files.reduce((total, file) => total + gzipSync(readFileSync(file)).length, 0) / 1024;
  const packageCode = readdirSync(packageDir).filter((name) => name.endsWith('.mjs')).sort().map((name) => join(packageDir, name));
  const bareCode = [join(bareDir, 'index.mjs')];
  const [ingestKiB, bareKiB] = [kibibytes(packageCode), kibibytes(bareCode)];
  const [ingestMs, bareMs] = [median(starts.ingest), median(starts.bare)];
  const ratio = pairedRatio(starts.ingest, starts.bare);

  console.log(`cold start: ${SPEC} packaged vs a bare client-s3 handler; a fresh node process until the first response, median (min–max) of ${STARTS} starts each, alternating`);
  const range = (values: number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
  console.log(`  ingest package  ${ingestMs.toFixed(0).padStart(5)} ms (${range(starts.ingest)})   code ${ingestKiB.toFixed(0)} KiB (${gzipKibibytes(packageCode).toFixed(0)} KiB gzip): ${packageCode.map((file) => file.slice(packageDir.length + 1)).join(', ')}`);
  console.log(`  bare handler    ${bareMs.toFixed(0).padStart(5)} ms (${range(starts.bare)})   code ${bareKiB.toFixed(0)} KiB (${gzipKibibytes(bareCode).toFixed(0)} KiB gzip)`);
  console.log(`  ratio start ${ratio.toFixed(2)}x (${(ingestMs - bareMs).toFixed(0)} ms more)  size ${(ingestKiB / bareKiB).toFixed(2)}x`);

  summaryRow({ case: 'cold start: packaged kinesis-archive vs bare client-s3 handler, to first response', ingest: `${ingestMs.toFixed(0)} ms`, baseline: `${bareMs.toFixed(0)} ms`, ratio, goal: `≤ ${TIME_GOAL.toFixed(2)}x`, met: ratio <= TIME_GOAL });
  summaryRow({ case: 'bundle size: packaged kinesis-archive vs bare client-s3 handler', ingest: `${ingestKiB.toFixed(0)} KiB`, baseline: `${bareKiB.toFixed(0)} KiB`, ratio: ingestKiB / bareKiB, goal: `≤ ${SIZE_GOAL_KIB} KiB`, met: ingestKiB <= SIZE_GOAL_KIB });
} finally {
  server.close();
  rmSync(directory, { recursive: true, force: true });
}

/** The baseline: what a team would deploy to put a Kinesis batch into S3 by hand, built like the Lambda bundle. */
async function bundleBareHandler(): Promise<void> {
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
}

/** One cold start of `bundle`: ms from the process's start to the handler's first response. */
function start(bundle: string, endpoint: string): Promise<number> {
  const probe = `const { handler } = await import(${JSON.stringify(bundle)});
const event = JSON.parse((await import('node:fs')).readFileSync(${JSON.stringify(join(directory, 'event.json'))}, 'utf8'));
const response = await handler(event, { awsRequestId: 'cold' });
const elapsed = performance.now();
if (response.batchItemFailures.length) throw new Error('the handler reported failures: ' + JSON.stringify(response));
process.stdout.write(String(elapsed));`;
  const environment = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1' };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--no-deprecation', '--input-type=module', '-e', probe], { env: environment }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bundle}: ${stderr || error.message}`));
      else resolve(Number(stdout.trim().split('\n').at(-1)));
    });
  });
}
