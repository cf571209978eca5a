import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The runtime benchmark is not run by the suite for its figures (timings on a shared CI machine
// prove nothing); this keeps it runnable: one round, bundled as `npm run bench` bundles it, and
// every case reaching its ratio line (which also means both sides wrote the same records).
const run = promisify(execFile);

describe('runtime benchmark', () => {
  it('runs one round of every case and prints a ratio line for each', async () => {
    const { stdout } = await run(process.execPath, ['scripts/bench.mjs', 'test/bench/runtime.bench.ts', '--rounds', '1', '--no-cold-start'], {
      timeout: 28_000,
      maxBuffer: 1024 * 1024,
    });

    const cases = [...stdout.matchAll(/^(\w+): /gm)].map((match) => match[1]).filter((name) => name !== 'throughput');
    expect(cases).toEqual(['light', 'main', 'heavy']);
    for (const name of cases) {
      const section = stdout.slice(stdout.indexOf(`${name}: `)).split(/\n(?=\w)/)[0]!;
      expect(section, name).toMatch(/^ {2}ratio wall \d+\.\d\dx {2}cpu \d+\.\d\dx$/m);
    }
    expect(stdout).not.toContain('cold start');
  }, 30_000);
});
