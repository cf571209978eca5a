import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The redshift benchmark is not run by the suite for its figures (timings on a shared CI machine
// prove nothing); this keeps it runnable on a fresh machine: bundled as `npm run bench:redshift`
// bundles it, starting its own moto and PostgreSQL, with sizes small enough for CI, and checking
// that it gets to print every figure (it also checks the table holds every record it staged).
const run = promisify(execFile);

describe('redshift benchmark', () => {
  it('stages and loads one small round and prints requests per file and batch and records per second', async () => {
    const { stdout } = await run(process.execPath, ['scripts/bench.mjs', 'test/bench/redshift.bench.ts', '--rounds', '1', '--invocations', '2', '--records', '20'], {
      timeout: 110_000,
      maxBuffer: 1024 * 1024,
    });

    expect(stdout).toMatch(/^ {2}dynamodb requests: \d+\.\d\d per staged file, \d+\.\d per batch loaded/m);
    expect(stdout).toMatch(/^ {2}s3 requests: \d+\.\d\d per staged file, \d+\.\d per batch loaded$/m);
    expect(stdout).toMatch(/^ {2}staging: engine +[\d,]+ records\/s .* baseline \(gzip \+ PutObject\) +[\d,]+ records\/s/m);
    expect(stdout).toMatch(/^ {2}loading: engine +[\d,]+ records\/s .* baseline \(plain COPY\) +[\d,]+ records\/s/m);
  }, 120_000);
});
