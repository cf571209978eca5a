import { describe, expect, it } from 'vitest';
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
