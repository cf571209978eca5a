/**
 * The ledger of a batching sink (redshift, postgres): which staged files exist, which batch each
 * belongs to, and where each batch is in its life. See docs/decisions/0031-exactly-once-warehouse-loads.md.
 *
 * Model, per sink (a `scope`, `<pipeline>/<sink id>`):
 * - one *open batch* whose counters every registration bumps, and which hands each registered
 *   file the next *slot* of that batch;
 * - one *file* per slot, written by the registrar after it got the slot;
 * - one *batch* record per sealed batch, moving `sealed → loading → loaded | failed`
 *   (`failed → sealed` on retry, `sealed | failed → skipped` on skip).
 *
 * Sealing closes the open batch atomically: a registration either got a slot before the seal
 * (and belongs to the sealed batch) or after it (and belongs to the next one). A slot whose file
 * was never written (the registrar died between its two requests) is abandoned by the loader
 * before the manifest is built; a registrar that finds its slot abandoned registers again.
 */

/** Where a batch is in its life. `open` is the batch still taking files. */
export type BatchState = 'open' | 'sealed' | 'loading' | 'loaded' | 'failed' | 'skipped';

/** The states a sealed batch can be listed by. */
export const BATCH_STATES: readonly BatchState[] = ['open', 'sealed', 'loading', 'loaded', 'failed', 'skipped'];

/** A staged object, as registered. */
export interface StagedFile {
  bucket: string;
  key: string;
  /** Records in the file. */
  records: number;
  /** Size of the stored object in bytes (compressed when it is), as the manifest's `meta.content_length` needs. */
  bytes: number;
  /** Size of its rows before compression, which the batch's `max_bytes` counts; `bytes` when absent. */
  dataBytes?: number;
}

/**
 * What a batch holds so far; thresholds are checked against it. Counts every slot handed out,
 * so a file whose slot was abandoned (and which registered again elsewhere) is counted twice.
 */
export interface BatchTotals {
  files: number;
  records: number;
  bytes: number;
  /** Epoch milliseconds at which the batch's first file was registered. */
  openedAt: number;
}

/** The answer to a registration: the batch the file joined, its slot there, and the batch's totals including it. */
export interface Registration {
  batch: number;
  slot: number;
  totals: BatchTotals;
}

/** The open batch of a sink: its number and totals (zero files when nothing is registered yet). */
export interface OpenBatch {
  batch: number;
  totals: BatchTotals;
}

/** A batch that is no longer open. */
export interface BatchRecord {
  batch: number;
  state: Exclude<BatchState, 'open'>;
  totals: BatchTotals;
  sealedAt: number;
  /** The loader holding the lease, while `loading`. */
  leaseOwner?: string;
  /** Epoch milliseconds at which the lease lapses and another loader may take the batch over. */
  leaseExpiresAt?: number;
  /** The warehouse statement submitted for this batch, kept so a later loader resumes polling it instead of loading again. */
  statementId?: string;
  /** Claims so far, including the current one. */
  attempts: number;
  /** Why the last load failed (`failed`), or why it was skipped. */
  error?: string;
  /** Rows the load wrote (`loaded`). */
  rows?: number;
  finishedAt?: number;
}

/** A slot of a sealed batch and the file registered there. */
export interface SlotFile extends StagedFile {
  slot: number;
}

/** The files of a sealed batch, and the slots that have none (yet). */
export interface BatchFiles {
  files: SlotFile[];
  /** Slots handed out whose file was not written (yet): see {@link Ledger.abandonSlots}. */
  missing: number[];
}

/** Why a lease could not be taken or kept. */
export type LeaseRefusal = 'not-found' | 'not-claimable' | 'lease-held';

export interface FinishOutcome {
  state: 'loaded' | 'failed';
  rows?: number;
  error?: string;
}

/**
 * The ledger port. Adapters: DynamoDB (`DynamoDbLedger`, one table for every sink of a
 * pipeline) and memory (`MemoryLedger`, unit tests). Every method is safe to call concurrently
 * from any number of invocations; each state change is one conditional write, so a caller that
 * lost a race learns it from the answer (`undefined`, `false`) and never overwrites the winner.
 * Times are epoch milliseconds supplied by the caller.
 */
export interface Ledger {
  /**
   * Registers a staged file into the sink's open batch. On the happy path this is two writes: the
   * open batch's counters (which returns the slot) and the file at that slot. Registering the same
   * object twice gives it two slots; loads deduplicate on record identity, not on files. Rejects
   * only when the ledger cannot be reached.
   */
  register(scope: string, file: StagedFile, now: number): Promise<Registration>;

  /** The open batch's number and totals, read consistently (for the sweep's threshold check). */
  openBatch(scope: string): Promise<OpenBatch>;

  /**
   * Seals the open batch if it still is `expected.batch` and holds files: no registration can join
   * it afterwards. Resolves to the sealed batch, or `undefined` when it was empty or another
   * invocation sealed it first. Registrations racing with the seal are retried internally.
   */
  seal(scope: string, expected: number, now: number): Promise<BatchRecord | undefined>;

  /** The files of a batch in slot order, and its slots without a file. */
  files(scope: string, batch: number): Promise<BatchFiles>;

  /**
   * Gives up on slots whose file was never written, so the batch's file list is final. A registrar
   * that writes its file later finds the slot taken and registers again into the open batch.
   * Resolves to the files that were written in the meantime (the race was lost to them).
   */
  abandonSlots(scope: string, batch: number, slots: readonly number[], now: number): Promise<SlotFile[]>;

  /**
   * Takes the lease of a `sealed` batch, or of a `loading` one whose lease has lapsed. Resolves to
   * the batch as it is now held (its `statementId`, if any, is the previous holder's statement:
   * resume it), or to the reason it could not be taken.
   */
  claim(scope: string, batch: number, owner: string, now: number, leaseMs: number): Promise<BatchRecord | LeaseRefusal>;

  /** Extends a lease this owner holds. Resolves to false when it no longer holds it. */
  renew(scope: string, batch: number, owner: string, expiresAt: number): Promise<boolean>;

  /** Records the statement submitted under this owner's lease. Resolves to false when it no longer holds the lease. */
  recordStatement(scope: string, batch: number, owner: string, statementId: string): Promise<boolean>;

  /** Ends a load this owner holds the lease of. Resolves to false when it no longer holds it. */
  finish(scope: string, batch: number, owner: string, outcome: FinishOutcome, now: number): Promise<boolean>;

  /** Puts a `failed` batch back to `sealed`, forgetting its statement, so that it loads again. Resolves to false when it is not failed. */
  retry(scope: string, batch: number): Promise<boolean>;

  /** Marks a `sealed` or `failed` batch `skipped`: it is never loaded. Resolves to false when it is in another state. */
  skip(scope: string, batch: number, reason: string, now: number): Promise<boolean>;

  /** One batch, or `undefined`. */
  batch(scope: string, batch: number): Promise<BatchRecord | undefined>;

  /**
   * Sealed batches in seal order, optionally only those in `states`, and only those numbered
   * `from` or above: a loader's floor, below which it knows every batch finished, so that a sweep
   * does not read the loaded batches the ledger keeps for 30 days.
   */
  batches(scope: string, states?: readonly BatchState[], from?: number): Promise<BatchRecord[]>;
}

/** The ledger scope of a sink: `<pipeline>/<sink id>`. Both are identifiers, so the scope holds no `#`. */
export function ledgerScope(pipeline: string, sink: string): string {
  return `${pipeline}/${sink}`;
}

/** Whether `value` is a refusal rather than a held batch. */
export function isLeaseRefusal(value: BatchRecord | LeaseRefusal): value is LeaseRefusal {
  return typeof value === 'string';
}

/** A sink's `batch` thresholds, sizes in bytes and ages in seconds. Absent limits never fire. */
export interface BatchLimits {
  max_records?: number;
  max_bytes?: number;
  max_files?: number;
  max_seconds?: number;
}

/** Which threshold made a batch due. */
export type DueReason = 'max_records' | 'max_bytes' | 'max_files' | 'max_seconds';

/**
 * Whether an open batch with these totals must be sealed now, and why: a count or size at or over
 * its limit, or a first file at least `max_seconds` old. An empty batch is never due. Checked by
 * a registrar on the totals its registration returned and by the scheduled sweep.
 */
export function batchDue(totals: BatchTotals, limits: BatchLimits, now: number): DueReason | undefined {
  if (totals.files === 0) return undefined;
  if (limits.max_records !== undefined && totals.records >= limits.max_records) return 'max_records';
  if (limits.max_bytes !== undefined && totals.bytes >= limits.max_bytes) return 'max_bytes';
  if (limits.max_files !== undefined && totals.files >= limits.max_files) return 'max_files';
  if (limits.max_seconds !== undefined && now - totals.openedAt >= limits.max_seconds * 1000) return 'max_seconds';
  return undefined;
}
