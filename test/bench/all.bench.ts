/**
 * The benchmark of issue 10's table (`npm run bench`): runs each part in its own process, in
 * sequence, and ends with one summary table, `case | ingest | baseline | ratio | goal`, a row per
 * figure of the table. Every ratio is Ingest over its baseline (for throughputs, the baseline's
 * over Ingest's), so above 1 is always slower. The parts, each runnable alone:
 *
 * - light, main, heavy: `runtime.bench.ts` (Kinesis throughput, in one process, interleaved);
 * - s3: `s3-object.bench.ts` (a large gzip JSON-lines S3 object, paired processes, peak RSS);
 * - cold-start: `cold-start.bench.ts` (the packaged kinesis-archive against a bare handler);
 * - cli: `cli.bench.ts` (`ingest run` and `ingest validate` as whole processes);
 * - validate: `validate.bench.ts` (specs validated per second).
 *
 * Options: `--rounds N` (given to every part: its rounds, pairs or starts; each part has its own
 * default, see its header), `--only light,s3,...` (the parts to run), `--s3-mb N` (the S3 object's
 * uncompressed size, default 1024). `--rounds 1 --s3-mb 4` is the CI smoke run.
 *
 * Parts use the built CLI (`dist/cli.js`): `npm run bench` builds first.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROWS_VARIABLE, positiveInteger } from './measure.ts';
import type { SummaryRow } from './measure.ts';

const RUNTIME_CASES = ['light', 'main', 'heavy'];
const PARTS = [...RUNTIME_CASES, 's3', 'cold-start', 'cli', 'validate'];
const S3_RSS_GOAL_MIB = 256;
const S3_WALL_GOAL = 1.2;

const { values: options } = parseArgs({ options: { rounds: { type: 'string' }, only: { type: 'string' }, 's3-mb': { type: 'string', default: '1024' } } });
const rounds = options.rounds === undefined ? [] : ['--rounds', String(positiveInteger('--rounds', options.rounds))];
const s3Mb = positiveInteger('--s3-mb', options['s3-mb']);
const only = options.only?.split(',') ?? PARTS;
const unknown = only.filter((name) => !PARTS.includes(name));
if (unknown.length > 0) throw new Error(`--only: no part ${unknown.join(', ')} (the parts are ${PARTS.join(', ')})`);

interface Part {
  name: string;
  file: string;
  args: string[];
  /** Summary rows read from the part's output, for a part that does not write them itself. */
  rows?: (stdout: string) => SummaryRow[];
}

const runtimeCases = RUNTIME_CASES.filter((name) => only.includes(name));
const parts: Part[] = [
  ...(runtimeCases.length > 0 ? [{ name: runtimeCases.join(', '), file: 'runtime.bench.ts', args: ['--only', runtimeCases.join(',')] }] : []),
  ...[
    { name: 's3', file: 's3-object.bench.ts', args: ['--mb', String(s3Mb)], rows: s3Rows },
    { name: 'cold-start', file: 'cold-start.bench.ts', args: [] },
    { name: 'cli', file: 'cli.bench.ts', args: [] },
    { name: 'validate', file: 'validate.bench.ts', args: [] },
  ].filter((part) => only.includes(part.name)),
];

const directory = mkdtempSync(join(tmpdir(), 'ingest-bench-'));
const rowsFile = join(directory, 'rows.jsonl');
const failed: string[] = [];
const rows: SummaryRow[] = [];
try {
  for (const part of parts) {
    const result = await runPart(part);
    // A part that fails does not stop the others: the summary shows what could be measured.
    if (result.status !== 0) failed.push(`${part.name} (exit ${result.status})`);
    const partRows = part.rows ? part.rows(result.stdout) : takeRows();
    if (result.status === 0 && partRows.length === 0) failed.push(`${part.name} (printed no figure the runner can read)`);
    rows.push(...partRows);
    console.log();
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}

printSummary(rows);
if (failed.length > 0) {
  console.error(`failed: ${failed.join('; ')}`);
  process.exitCode = 1;
}

/** Runs one part through scripts/bench.mjs, its output shown as it comes and kept for parsing. */
function runPart(part: Part): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/bench.mjs', `test/bench/${part.file}`, ...part.args, ...rounds], {
      env: { ...process.env, [ROWS_VARIABLE]: rowsFile },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout }));
  });
}

/** The rows the last part wrote, removing them from the file. */
function takeRows(): SummaryRow[] {
  if (!existsSync(rowsFile)) return [];
  const text = readFileSync(rowsFile, 'utf8');
  rmSync(rowsFile);
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as SummaryRow);
}

/** The rows of `s3-object.bench.ts`, from its output: its header, its two sides' lines and its ratio line. */
function s3Rows(stdout: string): SummaryRow[] {
  const header = /^s3 object: (\d+) MiB/m.exec(stdout);
  const wall = (side: string) => new RegExp(`^ {2}${side} +wall +([\\d.]+)`, 'm').exec(stdout)?.[1];
  const ratio = /^ {2}ratio wall ([\d.]+)x {2}cpu ([\d.]+)x {2}rss ([\d.]+)x \(ingest ([\d.]+) MiB, hand-written ([\d.]+) MiB\)/m.exec(stdout);
  const [ingestMs, baselineMs] = [wall('ingest'), wall('hand-written')];
  if (!header || !ratio || ingestMs === undefined || baselineMs === undefined) return [];
  const [, wallRatio, cpuRatio, rssRatio, ingestRss, baselineRss] = ratio as unknown as [string, string, string, string, string, string];
  const size = `${header[1]} MiB gzip JSON-lines S3 object, main steps`;
  return [
    { case: `${size}`, ingest: `${(Number(ingestMs) / 1000).toFixed(2)} s`, baseline: `${(Number(baselineMs) / 1000).toFixed(2)} s`, ratio: Number(wallRatio), detail: `wall, cpu ${cpuRatio}x`, goal: `≤ ${S3_WALL_GOAL.toFixed(2)}x`, met: Number(wallRatio) <= S3_WALL_GOAL },
    { case: `${size}: peak RSS`, ingest: `${ingestRss} MiB`, baseline: `${baselineRss} MiB`, ratio: Number(rssRatio), goal: `≤ ${S3_RSS_GOAL_MIB} MiB`, met: Number(ingestRss) <= S3_RSS_GOAL_MIB },
  ];
}

/** The table as Markdown, columns padded so it also reads in a terminal. */
function printSummary(summary: SummaryRow[]): void {
  const table = [
    ['case', 'ingest', 'baseline', 'ratio', 'goal'],
    ...summary.map((row) => [row.case, row.ingest, row.baseline, `${row.ratio.toFixed(2)}x${row.detail ? ` (${row.detail})` : ''}`, `${row.goal} ${row.met ? 'met' : 'NOT MET'}`]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  console.log('summary: ratio is Ingest over the baseline (baseline over Ingest for throughputs): above 1 is slower');
  console.log(line(table[0]!));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const cells of table.slice(1)) console.log(line(cells));
}
