import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BatchRecord, BatchState, FinishOutcome, LeaseRefusal, Registration, SlotFile, StagedFile } from './ledger.ts';
import { MemoryLedger } from './memory-ledger.ts';
import type { MemoryScope } from './memory-ledger.ts';

/** The file's layout: Maps as lists of entries, so untrusted keys never become object properties. */
interface LedgerFile {
  version: 1;
  scopes: [scope: string, state: StoredScope][];
}

interface StoredScope {
  open: MemoryScope['open'];
  batches: BatchRecord[];
  files: [batch: number, slots: [slot: number, file: SlotFile | null][]][];
}

/** A ledger file that cannot be read back. */
export class LedgerFileError extends Error {
  override name = 'LedgerFileError';
}

/**
 * The `Ledger` of local runs (`ingest run --local`): `MemoryLedger`'s semantics, persisted in a
 * JSON file (`.ingest/ledger.json`) so that batch numbers go on across runs. They must: the load
 * ledger table in the local database remembers every batch it loaded, and would take a batch 1
 * of a forgotten ledger for a load already done. The state is read once, by {@link FileLedger.open},
 * and the whole file is written again after every change (to a temporary file, then renamed, so
 * a crash leaves the old state or the new one). Meant for one process at a time: two local runs
 * at once would each write their own state over the other's.
 */
export class FileLedger extends MemoryLedger {
  /** The last write, which the next one waits for, so that writes land in the order of the changes. */
  private saved: Promise<void> = Promise.resolve();

  private constructor(readonly path: string) {
    super();
  }

  /**
   * The ledger stored at `path`, or an empty one when the file does not exist yet. Rejects with
   * `LedgerFileError` when the file exists but does not hold a ledger.
   */
  static async open(path: string): Promise<FileLedger> {
    const ledger = new FileLedger(path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ledger;
      throw error;
    }
    ledger.load(text);
    return ledger;
  }

  override async register(scope: string, file: StagedFile, now: number): Promise<Registration> {
    return this.saving(await super.register(scope, file, now));
  }

  override async seal(scope: string, expected: number, now: number): Promise<BatchRecord | undefined> {
    return this.saving(await super.seal(scope, expected, now));
  }

  override async abandonSlots(scope: string, batch: number, slots: readonly number[], now: number): Promise<SlotFile[]> {
    return this.saving(await super.abandonSlots(scope, batch, slots, now));
  }

  override async claim(scope: string, batch: number, owner: string, now: number, leaseMs: number): Promise<BatchRecord | LeaseRefusal> {
    return this.saving(await super.claim(scope, batch, owner, now, leaseMs));
  }

  override async renew(scope: string, batch: number, owner: string, expiresAt: number): Promise<boolean> {
    return this.saving(await super.renew(scope, batch, owner, expiresAt));
  }

  override async recordStatement(scope: string, batch: number, owner: string, statementId: string): Promise<boolean> {
    return this.saving(await super.recordStatement(scope, batch, owner, statementId));
  }

  override async finish(scope: string, batch: number, owner: string, outcome: FinishOutcome, now: number): Promise<boolean> {
    return this.saving(await super.finish(scope, batch, owner, outcome, now));
  }

  override async retry(scope: string, batch: number): Promise<boolean> {
    return this.saving(await super.retry(scope, batch));
  }

  override async skip(scope: string, batch: number, reason: string, now: number): Promise<boolean> {
    return this.saving(await super.skip(scope, batch, reason, now));
  }

  /** Writes the state after a change; resolves to `answer` once it is on disk. */
  private async saving<T>(answer: T): Promise<T> {
    // Each write takes the state when its turn comes, so the last write holds the latest state.
    this.saved = this.saved.catch(() => {}).then(() => this.write());
    await this.saved;
    return answer;
  }

  private async write(): Promise<void> {
    const stored: LedgerFile = {
      version: 1,
      scopes: [...this.scopes].map(([scope, state]) => [scope, {
        open: state.open,
        batches: [...state.batches.values()],
        files: [...state.files].map(([batch, slots]) => [batch, [...slots]]),
      }]),
    };
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(stored, null, 1) + '\n');
    await rename(temporary, this.path);
  }

  private load(text: string): void {
    const fail = (problem: string) => new LedgerFileError(`${this.path} is not a ledger of local runs (${problem}); it goes with the local database: remove both to start over`);
    let stored: LedgerFile;
    try {
      stored = JSON.parse(text) as LedgerFile;
    } catch (error) {
      throw fail((error as Error).message);
    }
    if (stored === null || typeof stored !== 'object' || stored.version !== 1 || !Array.isArray(stored.scopes)) throw fail('no version 1 list of scopes');
    for (const entry of stored.scopes) {
      const [scope, state] = Array.isArray(entry) ? entry : [];
      if (typeof scope !== 'string' || !isStoredScope(state)) throw fail(`scope ${JSON.stringify(scope)} is malformed`);
      this.scopes.set(scope, {
        open: state.open,
        batches: new Map(state.batches.map((record) => [record.batch, record])),
        files: new Map(state.files.map(([batch, slots]) => [batch, new Map(slots)])),
      });
    }
  }
}

const STATES: ReadonlySet<BatchState> = new Set(['sealed', 'loading', 'loaded', 'failed', 'skipped']);

/** Enough of a check that a hand-edited or truncated file fails at start-up, not in the middle of a load. */
function isStoredScope(value: unknown): value is StoredScope {
  if (value === null || typeof value !== 'object') return false;
  const { open, batches, files } = value as Partial<StoredScope>;
  return typeof open?.batch === 'number' && typeof open.totals?.files === 'number'
    && Array.isArray(batches) && batches.every((record) => typeof record?.batch === 'number' && STATES.has(record.state))
    && Array.isArray(files) && files.every((entry) => Array.isArray(entry) && typeof entry[0] === 'number' && Array.isArray(entry[1]));
}
