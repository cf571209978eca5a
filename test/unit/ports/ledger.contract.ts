// The behaviour every Ledger adapter must have, run against MemoryLedger (unit) and
// DynamoDbLedger (integration, moto). `fresh` gives a ledger and a scope no other test uses.
import { describe, expect, it } from 'vitest';
import type { Ledger, StagedFile } from '../../../engine/ports/ledger.ts';
import { isLeaseRefusal } from '../../../engine/ports/ledger.ts';

export interface LedgerUnderTest {
  ledger: Ledger;
  scope: string;
}

const T0 = Date.UTC(2026, 11, 3, 8, 0, 0);
const LEASE_MS = 60_000;

export function stagedFile(name: string, records = 10, bytes = 1000): StagedFile {
  return { bucket: 'staging', key: `pipeline/sink/${name}.jsonl.gz`, records, bytes };
}

/** Registers `files` one after another. */
async function registerAll(ledger: Ledger, scope: string, files: StagedFile[], now = T0): Promise<void> {
  for (const file of files) await ledger.register(scope, file, now);
}

export function ledgerContract(name: string, fresh: () => Promise<LedgerUnderTest>): void {
  describe(`${name}: registration and sealing`, () => {
    it('hands registered files consecutive slots of batch 1 and sums their totals', async () => {
      const { ledger, scope } = await fresh();

      const first = await ledger.register(scope, stagedFile('a', 10, 100), T0);
      const second = await ledger.register(scope, stagedFile('b', 5, 50), T0 + 1_000);

      expect(first).toEqual({ batch: 1, slot: 1, totals: { files: 1, records: 10, bytes: 100, openedAt: T0 } });
      expect(second).toEqual({ batch: 1, slot: 2, totals: { files: 2, records: 15, bytes: 150, openedAt: T0 } });
      expect(await ledger.openBatch(scope)).toEqual({ batch: 1, totals: { files: 2, records: 15, bytes: 150, openedAt: T0 } });
    });

    it('reports an empty batch 1 for a sink that registered nothing', async () => {
      const { ledger, scope } = await fresh();

      expect(await ledger.openBatch(scope)).toEqual({ batch: 1, totals: { files: 0, records: 0, bytes: 0, openedAt: 0 } });
    });

    it('seals the open batch with its files, and later files join the next batch', async () => {
      const { ledger, scope } = await fresh();
      await registerAll(ledger, scope, [stagedFile('a'), stagedFile('b')]);

      const sealed = await ledger.seal(scope, 1, T0 + 5_000);
      const after = await ledger.register(scope, stagedFile('c'), T0 + 6_000);

      expect(sealed).toMatchObject({ batch: 1, state: 'sealed', sealedAt: T0 + 5_000, totals: { files: 2, records: 20, bytes: 2000, openedAt: T0 } });
      expect(after).toEqual({ batch: 2, slot: 1, totals: { files: 1, records: 10, bytes: 1000, openedAt: T0 + 6_000 } });
      const files = await ledger.files(scope, 1);
      expect(files.missing).toEqual([]);
      expect(files.files.map((file) => [file.slot, file.key])).toEqual([[1, 'pipeline/sink/a.jsonl.gz'], [2, 'pipeline/sink/b.jsonl.gz']]);
    });

    it('does not seal a batch that another invocation sealed first, nor an empty one', async () => {
      const { ledger, scope } = await fresh();
      await registerAll(ledger, scope, [stagedFile('a')]);
      await ledger.seal(scope, 1, T0);

      expect(await ledger.seal(scope, 1, T0)).toBeUndefined();
      expect(await ledger.seal(scope, 2, T0)).toBeUndefined();
      expect((await ledger.batches(scope)).map((batch) => batch.batch)).toEqual([1]);
    });

    it('registers the same staged object twice as two slots: loads deduplicate records, not files', async () => {
      const { ledger, scope } = await fresh();

      await registerAll(ledger, scope, [stagedFile('a'), stagedFile('a')]);
      await ledger.seal(scope, 1, T0);

      expect((await ledger.files(scope, 1)).files.map((file) => file.slot)).toEqual([1, 2]);
    });

    it('keeps abandoned slots out of the batch and hands back a file written before the abandonment', async () => {
      const { ledger, scope } = await fresh();
      await registerAll(ledger, scope, [stagedFile('a'), stagedFile('b')]);
      await ledger.seal(scope, 1, T0);

      const written = await ledger.abandonSlots(scope, 1, [2], T0);
      const again = await ledger.abandonSlots(scope, 1, [2], T0);

      expect(written.map((file) => file.key)).toEqual(['pipeline/sink/b.jsonl.gz']);
      expect(again.map((file) => file.key)).toEqual(['pipeline/sink/b.jsonl.gz']);
      expect((await ledger.files(scope, 1)).files).toHaveLength(2);
    });

    it('lists batches in seal order, filtered by state', async () => {
      const { ledger, scope } = await fresh();
      for (let batch = 1; batch <= 3; batch++) {
        await ledger.register(scope, stagedFile(`f${batch}`), T0);
        await ledger.seal(scope, batch, T0);
      }
      await ledger.skip(scope, 2, 'operator skipped it', T0);

      expect((await ledger.batches(scope)).map((batch) => [batch.batch, batch.state])).toEqual([[1, 'sealed'], [2, 'skipped'], [3, 'sealed']]);
      expect((await ledger.batches(scope, ['sealed'])).map((batch) => batch.batch)).toEqual([1, 3]);
    });

    it('lists only the batches from a floor on, when given one', async () => {
      const { ledger, scope } = await fresh();
      for (let batch = 1; batch <= 12; batch++) {
        await ledger.register(scope, stagedFile(`f${batch}`), T0);
        await ledger.seal(scope, batch, T0);
      }

      expect((await ledger.batches(scope, ['sealed'], 10)).map((batch) => batch.batch)).toEqual([10, 11, 12]);
      expect((await ledger.batches(scope, undefined, 13))).toEqual([]);
    });
  });

  describe(`${name}: leases`, () => {
    async function sealedBatch(): Promise<LedgerUnderTest> {
      const under = await fresh();
      await under.ledger.register(under.scope, stagedFile('a'), T0);
      await under.ledger.seal(under.scope, 1, T0);
      return under;
    }

    it('lets one loader claim a sealed batch and refuses a second while the lease holds', async () => {
      const { ledger, scope } = await sealedBatch();

      const claimed = await ledger.claim(scope, 1, 'loader-a', T0, LEASE_MS);
      const refused = await ledger.claim(scope, 1, 'loader-b', T0 + 1_000, LEASE_MS);

      expect(claimed).toMatchObject({ state: 'loading', leaseOwner: 'loader-a', leaseExpiresAt: T0 + LEASE_MS, attempts: 1 });
      expect(refused).toBe('lease-held');
    });

    it('hands a lapsed lease to the next loader with the statement the first one submitted', async () => {
      const { ledger, scope } = await sealedBatch();
      await ledger.claim(scope, 1, 'loader-a', T0, LEASE_MS);
      await ledger.recordStatement(scope, 1, 'loader-a', 'statement-1');

      const taken = await ledger.claim(scope, 1, 'loader-b', T0 + LEASE_MS + 1, LEASE_MS);

      expect(taken).toMatchObject({ state: 'loading', leaseOwner: 'loader-b', statementId: 'statement-1', attempts: 2 });
      expect(await ledger.finish(scope, 1, 'loader-a', { state: 'loaded', rows: 10 }, T0)).toBe(false);
      expect(await ledger.recordStatement(scope, 1, 'loader-a', 'statement-2')).toBe(false);
      expect(await ledger.finish(scope, 1, 'loader-b', { state: 'loaded', rows: 10 }, T0 + LEASE_MS + 2)).toBe(true);
      expect(await ledger.batch(scope, 1)).toMatchObject({ state: 'loaded', rows: 10, statementId: 'statement-1' });
    });

    it('keeps a renewed lease from being taken over', async () => {
      const { ledger, scope } = await sealedBatch();
      await ledger.claim(scope, 1, 'loader-a', T0, LEASE_MS);

      expect(await ledger.renew(scope, 1, 'loader-a', T0 + 3 * LEASE_MS)).toBe(true);

      expect(await ledger.claim(scope, 1, 'loader-b', T0 + 2 * LEASE_MS, LEASE_MS)).toBe('lease-held');
      expect(await ledger.renew(scope, 1, 'loader-b', T0 + 4 * LEASE_MS)).toBe(false);
    });

    it('refuses to claim a loaded batch and a batch that does not exist', async () => {
      const { ledger, scope } = await sealedBatch();
      await ledger.claim(scope, 1, 'loader-a', T0, LEASE_MS);
      await ledger.finish(scope, 1, 'loader-a', { state: 'loaded', rows: 1 }, T0);

      expect(await ledger.claim(scope, 1, 'loader-b', T0 + 10 * LEASE_MS, LEASE_MS)).toBe('not-claimable');
      expect(await ledger.claim(scope, 9, 'loader-b', T0, LEASE_MS)).toBe('not-found');
    });

    it('retries a failed batch from sealed without its old statement, and only a failed one', async () => {
      const { ledger, scope } = await sealedBatch();
      await ledger.claim(scope, 1, 'loader-a', T0, LEASE_MS);
      await ledger.recordStatement(scope, 1, 'loader-a', 'statement-1');
      await ledger.finish(scope, 1, 'loader-a', { state: 'failed', error: 'column "ts": invalid timestamp' }, T0);
      expect(await ledger.batch(scope, 1)).toMatchObject({ state: 'failed', error: 'column "ts": invalid timestamp' });

      expect(await ledger.retry(scope, 1)).toBe(true);
      expect(await ledger.retry(scope, 1)).toBe(false);

      const again = await ledger.claim(scope, 1, 'loader-b', T0 + 1, LEASE_MS);
      expect(isLeaseRefusal(again)).toBe(false);
      expect(again).not.toHaveProperty('statementId');
    });

    it('skips only sealed or failed batches', async () => {
      const { ledger, scope } = await sealedBatch();
      await ledger.claim(scope, 1, 'loader-a', T0, LEASE_MS);

      expect(await ledger.skip(scope, 1, 'bad data', T0)).toBe(false);
      await ledger.finish(scope, 1, 'loader-a', { state: 'failed', error: 'boom' }, T0);
      expect(await ledger.skip(scope, 1, 'bad data', T0)).toBe(true);
      expect(await ledger.batch(scope, 1)).toMatchObject({ state: 'skipped', error: 'bad data' });
    });
  });
}
