import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The benchmark is not run by the suite for its figures (timings on a shared CI machine prove
// nothing); this keeps it runnable: every part for one round, bundled as `npm run bench` bundles
// it, with a small S3 object, and every row of issue 10's table reaching the summary with a ratio
// (which also means each part's sides did the same work: the parts check that before printing).
const run = promisify(execFile);

const ROWS = [
  /^light: /,
  /^main: /,
  /^heavy: /,
  /^4 MiB gzip JSON-lines S3 object, main steps$/,
  /^4 MiB gzip JSON-lines S3 object, main steps: peak RSS$/,
  /^cold start: /,
  /^bundle size: /,
  /^`ingest run` /,
  /^`ingest validate` /,
  /^validate: 500 distinct 100-line specs/,
];

describe('benchmark', () => {
  it('runs one round of every part and prints every row of the summary with a positive ratio', async () => {
    const { stdout } = await run(process.execPath, ['scripts/bench.mjs', 'test/bench/all.bench.ts', '--rounds', '1', '--s3-mb', '4'], {
      timeout: 280_000,
      maxBuffer: 16 * 1024 * 1024,
    });

    const summary = stdout.slice(stdout.indexOf('\nsummary: '));
    const rows = summary
      .split('\n')
      .filter((line) => line.startsWith('| '))
      .slice(2)
      .map((line) => line.slice(2, -2).split(' | ').map((cell) => cell.trim()));
    expect(rows.map(([name]) => ROWS.findIndex((pattern) => pattern.test(name!)))).toEqual(ROWS.map((_, index) => index));
    for (const [name, ingest, baseline, ratio, goal] of rows) {
      expect(ingest, name).toMatch(/^\d+(\.\d+)? \S+$/);
      expect(baseline, name).toMatch(/^\d+(\.\d+)? \S+$/);
      const value = Number(/^(\d+\.\d\d)x/.exec(ratio!)?.[1]);
      expect(Number.isFinite(value) && value > 0, `${name}: ratio ${ratio}`).toBe(true);
      expect(goal, name).toMatch(/ (met|NOT MET)$/);
    }
  }, 300_000);

  it('runs one round of every rung of the light case ladder, each writing what the hand-written handler writes', async () => {
    const { stdout } = await run(process.execPath, ['scripts/bench.mjs', 'test/bench/layers.bench.ts', '--rounds', '1'], { timeout: 110_000 });

    const rungs = stdout
      .split('\n')
      .map((line) => /^(\S.*?)\s+(\d+\.\d) +(\d+\.\d) +(\d+\.\d\d)x +[+-]\d+\.\d %$/.exec(line))
      .filter((match) => match !== null);
    expect(rungs.map((match) => match[1])).toEqual(['strict JSON', 'CEL filter', 'Kinesis decoding', 'S3 sink writer', 'engine']);
    for (const match of rungs) expect(Number(match[4]), match[1]).toBeGreaterThan(0);
  }, 120_000);
});
