import type {
  BatchFiles, BatchRecord, BatchState, BatchTotals, FinishOutcome, Ledger, LeaseRefusal, OpenBatch, Registration, SlotFile, StagedFile,
} from './ledger.ts';

/** One sink's ledger state (`FileLedger` persists it, so it is exported and `scopes` is protected). */
export interface MemoryScope {
  open: { batch: number; totals: BatchTotals };
  batches: Map<number, BatchRecord>;
  /** Files by batch, then slot; `null` is an abandoned slot. */
  files: Map<number, Map<number, SlotFile | null>>;
}

/**
 * A `Ledger` in memory with the semantics of `DynamoDbLedger`, for unit tests of the loader.
 * `register` is split like the DynamoDB adapter's two writes (`reserve` then `place`), so tests
 * can interleave a seal or an abandonment between them; `requests` counts the writes and reads
 * the DynamoDB adapter would make for the same calls on the happy path.
 */
export class MemoryLedger implements Ledger {
  protected readonly scopes = new Map<string, MemoryScope>();
  /** Requests the DynamoDB adapter would send for the same calls, without races. */
  requests = 0;

  async register(scope: string, file: StagedFile, now: number): Promise<Registration> {
    for (;;) {
      const registration = this.reserve(scope, file, now);
      if (this.place(scope, registration, file)) return registration;
    }
  }

  /** First half of `register`: takes the next slot of the open batch and counts the file. */
  reserve(scope: string, file: StagedFile, now: number): Registration {
    this.requests++;
    const state = this.scope(scope);
    const totals = state.open.totals;
    if (totals.files === 0) totals.openedAt = now;
    totals.files++;
    totals.records += file.records;
    totals.bytes += file.dataBytes ?? file.bytes;
    return { batch: state.open.batch, slot: totals.files, totals: { ...totals } };
  }

  /** Second half of `register`: writes the file at its slot; false when the slot was abandoned meanwhile. */
  place(scope: string, registration: Registration, file: StagedFile): boolean {
    this.requests++;
    const slots = this.slots(scope, registration.batch);
    if (slots.has(registration.slot)) return false;
    slots.set(registration.slot, { ...file, slot: registration.slot });
    return true;
  }

  async openBatch(scope: string): Promise<OpenBatch> {
    this.requests++;
    const { open } = this.scope(scope);
    return { batch: open.batch, totals: { ...open.totals } };
  }

  async seal(scope: string, expected: number, now: number): Promise<BatchRecord | undefined> {
    this.requests += 3;
    const state = this.scope(scope);
    if (state.open.batch !== expected || state.open.totals.files === 0) return undefined;
    const record: BatchRecord = { batch: expected, state: 'sealed', totals: { ...state.open.totals }, sealedAt: now, attempts: 0 };
    state.batches.set(expected, record);
    state.open = { batch: expected + 1, totals: emptyTotals() };
    return { ...record, totals: { ...record.totals } };
  }

  async files(scope: string, batch: number): Promise<BatchFiles> {
    this.requests++;
    const record = this.scope(scope).batches.get(batch);
    const slots = this.slots(scope, batch);
    const files: SlotFile[] = [];
    const missing: number[] = [];
    for (let slot = 1; slot <= (record?.totals.files ?? 0); slot++) {
      const file = slots.get(slot);
      if (file === undefined) missing.push(slot);
      else if (file !== null) files.push({ ...file });
    }
    return { files, missing };
  }

  async abandonSlots(scope: string, batch: number, slots: readonly number[], _now: number): Promise<SlotFile[]> {
    const stored = this.slots(scope, batch);
    const written: SlotFile[] = [];
    for (const slot of slots) {
      this.requests++;
      const file = stored.get(slot);
      if (file === undefined) stored.set(slot, null);
      else if (file !== null) written.push({ ...file });
    }
    return written;
  }

  async claim(scope: string, batch: number, owner: string, now: number, leaseMs: number): Promise<BatchRecord | LeaseRefusal> {
    this.requests++;
    const record = this.scope(scope).batches.get(batch);
    if (record === undefined) return 'not-found';
    const lapsed = record.state === 'loading' && (record.leaseExpiresAt ?? 0) < now;
    if (record.state !== 'sealed' && !lapsed) return record.state === 'loading' ? 'lease-held' : 'not-claimable';
    record.state = 'loading';
    record.leaseOwner = owner;
    record.leaseExpiresAt = now + leaseMs;
    record.attempts++;
    return copy(record);
  }

  async renew(scope: string, batch: number, owner: string, expiresAt: number): Promise<boolean> {
    return this.held(scope, batch, owner, (record) => {
      record.leaseExpiresAt = expiresAt;
    });
  }

  async recordStatement(scope: string, batch: number, owner: string, statementId: string): Promise<boolean> {
    return this.held(scope, batch, owner, (record) => {
      record.statementId = statementId;
    });
  }

  async finish(scope: string, batch: number, owner: string, outcome: FinishOutcome, now: number): Promise<boolean> {
    return this.held(scope, batch, owner, (record) => {
      record.state = outcome.state;
      record.finishedAt = now;
      delete record.leaseOwner;
      delete record.leaseExpiresAt;
      if (outcome.rows !== undefined) record.rows = outcome.rows;
      if (outcome.error !== undefined) record.error = outcome.error;
      else delete record.error;
    });
  }

  async retry(scope: string, batch: number): Promise<boolean> {
    this.requests++;
    const record = this.scope(scope).batches.get(batch);
    if (record?.state !== 'failed') return false;
    record.state = 'sealed';
    delete record.statementId;
    delete record.finishedAt;
    return true;
  }

  async skip(scope: string, batch: number, reason: string, now: number): Promise<boolean> {
    this.requests++;
    const record = this.scope(scope).batches.get(batch);
    if (record?.state !== 'sealed' && record?.state !== 'failed') return false;
    record.state = 'skipped';
    record.error = reason;
    record.finishedAt = now;
    return true;
  }

  async batch(scope: string, batch: number): Promise<BatchRecord | undefined> {
    this.requests++;
    const record = this.scope(scope).batches.get(batch);
    return record && copy(record);
  }

  async batches(scope: string, states?: readonly BatchState[], from = 1): Promise<BatchRecord[]> {
    this.requests++;
    return [...this.scope(scope).batches.values()]
      .filter((record) => record.batch >= from && (states === undefined || states.includes(record.state)))
      .sort((a, b) => a.batch - b.batch)
      .map(copy);
  }

  private held(scope: string, batch: number, owner: string, change: (record: BatchRecord) => void): boolean {
    this.requests++;
    const record = this.scope(scope).batches.get(batch);
    if (record?.state !== 'loading' || record.leaseOwner !== owner) return false;
    change(record);
    return true;
  }

  private scope(scope: string): MemoryScope {
    let state = this.scopes.get(scope);
    if (state === undefined) {
      state = { open: { batch: 1, totals: emptyTotals() }, batches: new Map(), files: new Map() };
      this.scopes.set(scope, state);
    }
    return state;
  }

  private slots(scope: string, batch: number): Map<number, SlotFile | null> {
    const files = this.scope(scope).files;
    let slots = files.get(batch);
    if (slots === undefined) {
      slots = new Map();
      files.set(batch, slots);
    }
    return slots;
  }
}

function emptyTotals(): BatchTotals {
  return { files: 0, records: 0, bytes: 0, openedAt: 0 };
}

function copy(record: BatchRecord): BatchRecord {
  return { ...record, totals: { ...record.totals } };
}
