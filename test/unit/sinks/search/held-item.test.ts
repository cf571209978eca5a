import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HeldItem } from '../../../../engine/sinks/search/held-item.ts';
import type { HeldOperation } from '../../../../engine/sinks/search/held-item.ts';
import { OperationBuilder } from '../../../../engine/sinks/search/request.ts';
import { kinesisMeta } from './factories.ts';

// A staged item's operations past the memory threshold go to a spill file, read back in order at
// commit; spill files that no live item owns (an invocation that died mid-commit) are removed
// when an item spills (docs/decisions/0056-search-staged-items-in-bounded-memory.md, 0063).

const builder = new OperationBuilder({ index: 'orders', id: '{{record.id}}', action: 'index', maxBytes: 1024 * 1024 });

function held(index: number): HeldOperation {
  const record = { id: `d${index % 7}`, n: index };
  return { operation: builder.build(record, kinesisMeta(index), new Date()), ordinal: index, meta: kinesisMeta(index), raw: Buffer.from(JSON.stringify(record)) };
}

async function hold(item: HeldItem, count: number): Promise<void> {
  for (let index = 0; index < count; index++) await item.add(held(index));
}

async function replayed(item: HeldItem): Promise<number[]> {
  const numbers: number[] = [];
  await item.replay(({ operation, ordinal }) => {
    const { n } = JSON.parse(operation.recordJson) as { n: number };
    numbers.push(ordinal === n ? n : NaN);
  });
  return numbers;
}

/** The pid of a process that ran and exited. */
function exitedPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', '']);
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid!));
  });
}

const leftover = (pid: number) => `ingest-search-${pid}-0c8a1f4e-5d1b-4f55-9a1e-3f5e2b7c9d10.jsonl.gz`;

describe('a held staged item', () => {
  let directory: string;
  const settings = (memoryBytes = 1) => ({ directory: () => directory, memoryBytes, open: (path: string) => createWriteStream(path, { flags: 'wx' }) });

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'ingest-held-item-test-'));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('gives back every operation in order, from memory and from its spill file, and removes the file', async () => {
    const small = new HeldItem({ index: 0, staged: true }, settings(1024 * 1024));
    const large = new HeldItem({ index: 1, staged: true }, settings(20_000));

    await hold(small, 50);
    await hold(large, 3000);
    const spilled = readdirSync(directory);

    expect(await replayed(small)).toEqual(Array.from({ length: 50 }, (_, index) => index));
    expect(await replayed(large)).toEqual(Array.from({ length: 3000 }, (_, index) => index));
    expect(spilled).toEqual([expect.stringMatching(new RegExp(`^ingest-search-${process.pid}-[0-9a-f-]{36}\\.jsonl\\.gz$`))]);
    expect(readdirSync(directory)).toEqual([]);
  });

  it('keeps the order of operations added while the operations it held in memory are still being written', async () => {
    // About 4,000 operations in memory: more than the gzip stream takes before it must be waited for.
    const item = new HeldItem({ index: 0, staged: true }, settings(400_000));

    // Not awaited, as a fan-out may add before the last add's wait is over.
    const adds = Array.from({ length: 8000 }, (_, index) => item.add(held(index)));
    await Promise.all(adds);

    expect(await replayed(item)).toEqual(Array.from({ length: 8000 }, (_, index) => index));
  });

  it("removes, when it spills, the spill files no live item owns: this pid's it did not open, and those of processes that ended", async () => {
    const ended = await exitedPid();
    const names = { ended: leftover(ended), samePid: leftover(process.pid), running: leftover(process.ppid), other: 'ingest-search-notes.txt' };
    for (const name of Object.values(names)) writeFileSync(join(directory, name), 'left over');
    const opened: string[] = [];
    const open = (path: string) => (opened.push(path), createWriteStream(path, { flags: 'wx' }));
    const live = new HeldItem({ index: 0, staged: true }, { ...settings(), open });
    const spilling = new HeldItem({ index: 1, staged: true }, { ...settings(), open });

    await hold(live, 10);
    await hold(spilling, 10);
    const spilled = await replayed(spilling);

    expect(opened).toHaveLength(2);
    expect(spilled).toEqual(Array.from({ length: 10 }, (_, index) => index));
    expect(readdirSync(directory).sort()).toEqual([basename(opened[0]!), names.running, names.other].sort());
    // The live item's file was left alone and reads back whole.
    expect(await replayed(live)).toEqual(Array.from({ length: 10 }, (_, index) => index));
    expect(readdirSync(directory).sort()).toEqual([names.running, names.other].sort());
  });

  it('discards its file on abort', async () => {
    const item = new HeldItem({ index: 0, staged: true }, settings());
    await hold(item, 100);

    await item.discard();

    expect(readdirSync(directory)).toEqual([]);
  });
});
