import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileLedger, LedgerFileError } from '../../../engine/ports/file-ledger.ts';
import { ledgerContract, stagedFile } from './ledger.contract.ts';

const directories: string[] = [];

async function ledgerPath(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'ingest-file-ledger-'));
  directories.push(directory);
  return join(directory, '.ingest', 'ledger.json');
}

afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});

ledgerContract('FileLedger', async () => ({ ledger: await FileLedger.open(await ledgerPath()), scope: 'pipeline/sink' }));

// The same contract against a ledger read back from its file before every call: nothing it keeps lives only in memory.
ledgerContract('FileLedger reopened before every call', async () => {
  const path = await ledgerPath();
  const reopening = new Proxy({} as FileLedger, {
    get: (_, method: keyof FileLedger) => async (...args: unknown[]) => {
      const ledger = await FileLedger.open(path);
      return (ledger[method] as (...parameters: unknown[]) => unknown)(...args);
    },
  });
  return { ledger: reopening, scope: 'pipeline/sink' };
});

describe('FileLedger across processes', () => {
  it('carries batch numbers, slots, abandoned slots and batch states over to a ledger opened later', async () => {
    const path = await ledgerPath();
    const first = await FileLedger.open(path);
    await first.register('p/s', stagedFile('a'), 1_000);
    const reserved = first.reserve('p/s', stagedFile('lost'), 1_000);
    await first.seal('p/s', 1, 2_000);
    await first.abandonSlots('p/s', 1, [reserved.slot], 3_000);
    await first.claim('p/s', 1, 'loader', 3_000, 60_000);
    await first.recordStatement('p/s', 1, 'loader', 'statement-1');
    await first.finish('p/s', 1, 'loader', { state: 'loaded', rows: 10 }, 4_000);
    await first.register('p/s', stagedFile('b', 7, 70), 5_000);

    const later = await FileLedger.open(path);

    expect(await later.openBatch('p/s')).toEqual({ batch: 2, totals: { files: 1, records: 7, bytes: 70, openedAt: 5_000 } });
    expect(await later.files('p/s', 1)).toEqual({ files: [{ ...stagedFile('a'), slot: 1 }], missing: [] });
    expect(await later.batch('p/s', 1)).toMatchObject({ state: 'loaded', rows: 10, statementId: 'statement-1', attempts: 1, finishedAt: 4_000 });
    expect(await later.seal('p/s', 1, 6_000)).toBeUndefined();
    expect(await later.seal('p/s', 2, 6_000)).toMatchObject({ batch: 2, state: 'sealed' });
  });

  it('keeps every change made at the same time', async () => {
    const path = await ledgerPath();
    const ledger = await FileLedger.open(path);

    await Promise.all(Array.from({ length: 20 }, (_, index) => ledger.register(`p/s${index % 3}`, stagedFile(`f${index}`), index)));
    const later = await FileLedger.open(path);

    const totals = await Promise.all([0, 1, 2].map(async (sink) => (await later.openBatch(`p/s${sink}`)).totals.files));
    expect(totals).toEqual([7, 7, 6]);
  });

  it('keeps scopes with any name as data, never as object properties', async () => {
    const path = await ledgerPath();
    await (await FileLedger.open(path)).register('__proto__', stagedFile('a'), 1);

    const later = await FileLedger.open(path);

    expect((await later.openBatch('__proto__')).totals.files).toBe(1);
    expect(({} as Record<string, unknown>).batch).toBeUndefined();
  });

  it('starts empty where no file exists yet, and writes none until something changes', async () => {
    const path = await ledgerPath();
    const ledger = await FileLedger.open(path);

    expect(await ledger.openBatch('p/s')).toEqual({ batch: 1, totals: { files: 0, records: 0, bytes: 0, openedAt: 0 } });
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['not JSON', '{"version": 1, "scopes": ['],
    ['another version', '{"version": 2, "scopes": []}'],
    ['a malformed scope', '{"version": 1, "scopes": [["p/s", {"open": {"batch": "one"}}]]}'],
    ['a batch in an unknown state', '{"version": 1, "scopes": [["p/s", {"open": {"batch": 2, "totals": {"files": 0}}, "batches": [{"batch": 1, "state": "done"}], "files": []}]]}'],
  ])('refuses a file holding %s, naming it and what goes with it', async (_, text) => {
    const path = await ledgerPath();
    await (await FileLedger.open(path)).register('p/s', stagedFile('a'), 1);
    await writeFile(path, text);

    const opened = FileLedger.open(path);

    await expect(opened).rejects.toThrow(LedgerFileError);
    await expect(opened).rejects.toThrow(/ledger\.json is not a ledger of local runs .* remove both to start over/);
  });
});
