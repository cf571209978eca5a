/**
 * The CLI as a whole process (`npm run bench:cli`, and part of `npm run bench`), timed from spawn to
 * exit by this process, in pairs that alternate which side goes first:
 *
 * - `ingest run examples/kinesis-archive.yaml --local --input orders=<one line>` (the built CLI,
 *   in a temporary directory so its `.ingest/` output stays out of the repository), against a plain
 *   node script that reads the same line, parses it and writes it gzipped to a file;
 * - `ingest validate examples/kinesis-archive.yaml` against the same plain script, the floor of a
 *   node process that reads a file and writes one.
 *
 * Options: `--rounds N` (pairs of each, default 15).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median, pairedRatio, positiveInteger, spread, summaryRow, timeProcess } from './measure.ts';

const CLI = resolve('dist/cli.js');
const SPEC = resolve('examples/kinesis-archive.yaml');
const RUN_GOAL = 3;
const VALIDATE_GOAL_MS = 500;

const { values: options } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const ROUNDS = positiveInteger('--rounds', options.rounds);

const directory = mkdtempSync(join(tmpdir(), 'ingest-bench-cli-'));
try {
  if (!existsSync(CLI)) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  writeFileSync(join(directory, 'order.jsonl'), `${readFileSync('examples/data/orders.jsonl', 'utf8').split('\n')[0]}\n`);
  writeFileSync(
    join(directory, 'plain.mjs'),
    `import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
const records = readFileSync('order.jsonl', 'utf8').split('\\n').filter(Boolean).map((line) => JSON.parse(line));
writeFileSync('order.out.jsonl.gz', gzipSync(records.map((record) => JSON.stringify(record)).join('\\n') + '\\n'));
`,
  );
  const inDirectory = { cwd: directory, env: { ...process.env, NO_COLOR: '1' } };
  const plain = () => timeProcess(process.execPath, ['plain.mjs'], inDirectory);
  const run = () => timeProcess(process.execPath, [CLI, 'run', SPEC, '--local', '--input', 'orders=order.jsonl'], inDirectory);
  const validate = () => timeProcess(process.execPath, [CLI, 'validate', SPEC], inDirectory);

  // One unmeasured pair first: the first process to read a file from disk pays for it.
  await run();
  await validate();
  await plain();
  const samples = { run: [] as number[], validate: [] as number[], plainForRun: [] as number[], plainForValidate: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0;
    if (first) samples.run.push(await run());
    samples.plainForRun.push(await plain());
    if (!first) samples.run.push(await run());
    if (first) samples.validate.push(await validate());
    samples.plainForValidate.push(await plain());
    if (!first) samples.validate.push(await validate());
  }

  const runRatio = pairedRatio(samples.run, samples.plainForRun);
  const validateRatio = pairedRatio(samples.validate, samples.plainForValidate);
  const ms = (values: number[]) => `${median(values).toFixed(0)} ms`;
  console.log(`cli: whole processes, spawn to exit, median (min–max) of ${ROUNDS} pairs alternating which side goes first`);
  console.log(`  ingest run       ${spread(samples.run, 0)}   (kinesis-archive, one record, --local)`);
  console.log(`  plain script     ${spread(samples.plainForRun, 0)}`);
  console.log(`  ratio run ${runRatio.toFixed(2)}x`);
  console.log(`  ingest validate  ${spread(samples.validate, 0)}   (kinesis-archive)`);
  console.log(`  plain script     ${spread(samples.plainForValidate, 0)}`);
  console.log(`  ratio validate ${validateRatio.toFixed(2)}x`);

  summaryRow({ case: '`ingest run` of a 1-record event, whole process vs a plain node script', ingest: ms(samples.run), baseline: ms(samples.plainForRun), ratio: runRatio, goal: `≤ ${RUN_GOAL.toFixed(2)}x`, met: runRatio <= RUN_GOAL });
  summaryRow({
    case: '`ingest validate` of one spec, whole process vs a plain node script',
    ingest: ms(samples.validate),
    baseline: ms(samples.plainForValidate),
    ratio: validateRatio,
    goal: `well under ${VALIDATE_GOAL_MS} ms`,
    met: median(samples.validate) < VALIDATE_GOAL_MS,
  });
} finally {
  rmSync(directory, { recursive: true, force: true });
}
