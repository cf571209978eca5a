import { describe, expect, it } from 'vitest';
import { batchDue } from '../../../engine/ports/ledger.ts';
import { MemoryLedger } from '../../../engine/ports/memory-ledger.ts';
import { ledgerContract, stagedFile } from './ledger.contract.ts';

ledgerContract('MemoryLedger', async () => ({ ledger: new MemoryLedger(), scope: 'pipeline/sink' }));

describe('MemoryLedger interleavings', () => {
  it('gives a file whose slot was abandoned before it was written a slot in the next batch', async () => {
    const ledger = new MemoryLedger();
    const reserved = ledger.reserve('p/s', stagedFile('slow'), 0);
    await ledger.seal('p/s', 1, 0);
    const { missing } = await ledger.files('p/s', 1);
    await ledger.abandonSlots('p/s', 1, missing, 0);

    const placed = ledger.place('p/s', reserved, stagedFile('slow'));
    const registered = await ledger.register('p/s', stagedFile('slow'), 0);

    expect(missing).toEqual([1]);
    expect(placed).toBe(false);
    expect(registered).toMatchObject({ batch: 2, slot: 1 });
    expect((await ledger.files('p/s', 1)).files).toEqual([]);
  });

  it('counts two requests per registered file, as the DynamoDB adapter sends', async () => {
    const ledger = new MemoryLedger();

    for (let index = 0; index < 5; index++) await ledger.register('p/s', stagedFile(`f${index}`), 0);

    expect(ledger.requests).toBe(10);
  });
});

describe('batchDue', () => {
  const limits = { max_records: 100, max_bytes: 1000, max_files: 3, max_seconds: 60 };
  const totals = { files: 1, records: 10, bytes: 100, openedAt: 0 };

  it.each([
    ['nothing reached', totals, 59_999, undefined],
    ['the record count reached', { ...totals, records: 100 }, 0, 'max_records'],
    ['the size reached', { ...totals, bytes: 1000 }, 0, 'max_bytes'],
    ['the file count reached', { ...totals, files: 3 }, 0, 'max_files'],
    ['the first file max_seconds old', totals, 60_000, 'max_seconds'],
    ['an empty batch, however old', { files: 0, records: 0, bytes: 0, openedAt: 0 }, 10_000_000, undefined],
  ])('with %s answers %s', (_, batch, now, reason) => {
    expect(batchDue(batch, limits, now)).toBe(reason);
  });

  it('never fires a limit the sink does not set', () => {
    expect(batchDue({ files: 500, records: 1e9, bytes: 1e12, openedAt: 0 }, {}, 1e12)).toBeUndefined();
  });
});
