import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INGEST_CLI, runIngest } from '../support/ingest-binary.ts';
import type { IngestRun } from '../support/ingest-binary.ts';

// The built binary runs its bundle from the V8 code cache the build leaves beside it
// (docs/decisions/0059-cli-code-cache.md). The cache only saves compiling: without it, or with one
// V8 rejects, every command does the same.

const ROOT = join(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');
const SPEC = join(ROOT, 'examples/kinesis-archive.yaml');
const ORDER = `${readFileSync(join(ROOT, 'examples/data/orders.jsonl'), 'utf8').split('\n')[0]}\n`;
const scratch: string[] = [];

afterAll(() => {
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'ingest-code-cache-'));
  scratch.push(directory);
  return directory;
}

/** The bundle the build made: its file name and that of its cache. */
function builtBundle(): { bundle: string; cache: string } {
  const bundles = readdirSync(DIST).filter((name) => /^ingest-\w+\.cjs$/.test(name));
  expect(bundles).toHaveLength(1);
  return { bundle: bundles[0]!, cache: `${bundles[0]!}.cache` };
}

/**
 * A copy of the binary beside the repository's packages, with `cache` as its code cache (none
 * when undefined): the binary, its bundle, and the package.json that makes dist/cli.js an ES module.
 */
function binaryWithCache(cache: Buffer | undefined): string {
  const root = temporaryDirectory();
  const { bundle, cache: cacheName } = builtBundle();
  mkdirSync(join(root, 'dist'));
  for (const name of ['cli.js', bundle]) copyFileSync(join(DIST, name), join(root, 'dist', name));
  copyFileSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  if (cache) writeFileSync(join(root, 'dist', cacheName), cache);
  return join(root, 'dist', 'cli.js');
}

/** `node <binary> <argv>` in a fresh working directory holding one order as `order.jsonl`. */
function runBinary(binary: string, argv: readonly string[]): Promise<IngestRun> {
  const cwd = temporaryDirectory();
  writeFileSync(join(cwd, 'order.jsonl'), ORDER);
  const env = { ...process.env, INGEST_DEBUG: '', NO_COLOR: '1', INGEST_DEAD_LETTER_BUCKET: '', INGEST_WRITE_CODE_CACHE: '' };
  return runIngest(argv, { cwd, env, binary });
}

const COMMANDS: Record<string, string[]> = {
  validate: ['validate', SPEC],
  run: ['run', SPEC, '--local', '--input', 'orders=order.jsonl'],
};

describe("the ingest binary's code cache", { timeout: 60_000 }, () => {
  it('is left by the build beside the bundle', () => {
    const { cache } = builtBundle();

    expect(readFileSync(join(DIST, cache)).length).toBeGreaterThan(0);
  });

  for (const [command, argv] of Object.entries(COMMANDS)) {
    it(`changes nothing ${command} does when it is missing or V8 rejects it`, async () => {
      const withCache = await runBinary(INGEST_CLI, argv);
      const [missing, rejected] = await Promise.all([runBinary(binaryWithCache(undefined), argv), runBinary(binaryWithCache(Buffer.from('not a code cache')), argv)]);

      expect(withCache).toMatchObject({ code: 0, stderr: '' });
      expect(missing).toEqual(withCache);
      expect(rejected).toEqual(withCache);
    });
  }
});
