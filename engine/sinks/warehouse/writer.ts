/**
 * One invocation's work of a warehouse sink (redshift, postgres): stage records as files, then
 * register in the ledger the files of the items that will not be delivered again. Design:
 * docs/decisions/0031-exactly-once-warehouse-loads.md, sections 1, 2 and 6.
 */
import { gunzipSync } from 'node:zlib';
import type { RecordMeta } from '../../pipeline/record.ts';
import type { Invocation, ItemScope, SettledItems, SettleResult, SinkEntry, SinkFailure, SinkWriter, Ticket } from '../../plugin/types.ts';
import { classifyStoreError } from '../../ports/classify-store-error.ts';
import { batchDue } from '../../ports/ledger.ts';
import type { BatchLimits, Ledger, Registration, StagedFile } from '../../ports/ledger.ts';
import type { ObjectStore, PutOptions, StagedObject } from '../../ports/object-store.ts';
import { compressBody } from '../../staging/encode.ts';
import { recordIdentity } from '../../staging/record-identity.ts';
import type { StagedIdentity } from '../../staging/record-identity.ts';
import type { StagedRowFormat } from '../../staging/staged-row.ts';
import { StagedWriter, settledRuns } from '../../staging/staged-writer.ts';
import type { FileRun, StagingFile } from '../../staging/staged-writer.ts';

/** Files written at once when an invocation ends. */
const CLOSE_CONCURRENCY = 4;

/** What a warehouse sink's writers share, built once per cold start by the plugin. */
export interface WarehouseWriterSettings {
  sinkId: string;
  /** The sink's ledger scope, `<pipeline>/<sink id>`. */
  scope: string;
  bucket: string;
  /** Where staged files go: `<staging prefix>files/`. */
  filesPrefix: string;
  format: StagedRowFormat;
  /** `.jsonl.gz` or `.csv.gz`: staged files are always gzip, as the load's COPY reads them. */
  suffix: string;
  putOptions: PutOptions;
  /** Most rows and uncompressed bytes in one staged file. */
  fileMaxRecords: number;
  fileMaxBytes: number;
  /** The sink's `batch` thresholds, checked on every registration's totals. */
  limits: BatchLimits;
  ledger: Ledger;
  store: ObjectStore;
  /**
   * Whether a record's partition includes its Kinesis partition key (the source's
   * `parallelization` is above 1, so Lambda keeps order per key, not per shard).
   */
  perPartitionKey(meta: RecordMeta): boolean;
  /** Epoch milliseconds, for registration times [Date.now]. */
  clock?: () => number;
}

/** A staged file stored under its name, waiting for `settle`. */
interface StoredFile {
  readonly file: StagingFile<Ticket>;
  readonly key: string;
  /** Stored (compressed) size. */
  readonly bytes: number;
  /** The stored bytes, kept for a file that may have to be rewritten with part of its rows. */
  readonly compressed: Buffer | undefined;
}

/** What the writer holds of one S3 object until the pipeline commits or aborts it: its files, nothing per record. */
interface HeldItem {
  readonly scope: ItemScope;
  /** Full files of the item, uploaded but not visible until `commit` (`undefined` once the upload failed). */
  readonly staged: { object: Promise<StagedObject | undefined>; file: StagingFile<Ticket>; key: string; bytes: number }[];
  aborted: boolean;
}

/**
 * Stages records and registers them (section 6 of the decision record):
 *
 * - `add` computes the record's identity (the ordinal counts the records this sink received from
 *   the same input record) and encodes the row into its group's file: one group per stream shard,
 *   one per S3 object. A record without identity, or that cannot be encoded, fails alone and is
 *   never staged.
 * - Records of a stream item are final on arrival: a full file is written at once. Those of an S3
 *   object are staged in files of their own; full ones are uploaded invisibly and published on
 *   `commit`, and `abort` discards them all.
 * - `close` writes what is left with a plain `put` (an unregistered file is invisible to loads)
 *   and settles each ticket `written` once its file is stored, `failed` retryable otherwise.
 * - A ticket of an S3 object settles `written` as soon as its row is encoded, so that an object of
 *   millions of rows leaves no per-record state here or in the pipeline until it commits; a file
 *   of the object that cannot be staged, written or published fails the whole object instead
 *   (docs/decisions/0055-staged-items-hold-no-records.md, as the S3 sink does per 0052).
 * - `settle` registers, in position order, the parts of files whose items are not delivered
 *   again, rewriting a file that straddles a stream's checkpoint; seals the open batch when a
 *   registration makes it due; reports the items whose registration failed (for a stream, that
 *   file's items and every later one), the S3 objects whose files could not be stored (none of
 *   their files is registered), and the batches it sealed.
 */
export class WarehouseWriter implements SinkWriter {
  private readonly staging: StagedWriter<Ticket>;
  /** Records received per input record (its meta object): explode and fan-out ordinals. */
  private readonly ordinals = new WeakMap<RecordMeta, number>();
  private readonly items = new Map<number, HeldItem>();
  private readonly stored: StoredFile[] = [];
  private readonly writing = new Set<Promise<void>>();
  /** S3 objects a file of which could not be stored or published: `settle` fails them and registers none of their files. */
  private readonly failures: { held: HeldItem; reason: string }[] = [];

  constructor(
    private readonly settings: WarehouseWriterSettings,
    private readonly invocation: Invocation,
  ) {
    this.staging = new StagedWriter<Ticket>({
      sinkId: settings.sinkId,
      format: settings.format,
      maxRecords: settings.fileMaxRecords,
      maxBytes: settings.fileMaxBytes,
    });
  }

  add(entry: SinkEntry): Promise<void> | void {
    const { record, meta, ticket, item } = entry;
    const ordinal = this.ordinals.get(meta) ?? 0;
    this.ordinals.set(meta, ordinal + 1);
    let identity: StagedIdentity;
    try {
      identity = recordIdentity(meta, { ordinal, perPartitionKey: this.settings.perPartitionKey(meta) });
    } catch (error) {
      ticket.failed(rejected(`sink ${this.settings.sinkId} cannot stage a record without its source identity: ${messageOf(error)}`));
      return;
    }
    const held = item.staged ? this.heldItem(item) : undefined;
    let closed: StagingFile<Ticket>[];
    try {
      // A staged item's row carries no ticket: its outcome is provisional until commit, and a
      // later failure of its file fails the whole item (`settle`).
      const row = { record, meta, identity, item, rewritable: !item.staged };
      closed = this.staging.add(groupOf(meta, item), held === undefined ? { ...row, tag: ticket } : row);
    } catch (error) {
      ticket.failed(rejected(`sink ${this.settings.sinkId} cannot encode the record as ${this.settings.format.extension}: ${messageOf(error)}`));
      return;
    }
    if (held !== undefined) ticket.written();
    if (closed.length === 0) return;
    return Promise.all(closed.map((file) => (held === undefined ? this.write(file) : this.stage(file, held)))).then(() => undefined);
  }

  commit(item: ItemScope): void {
    const held = this.items.get(item.index);
    if (held === undefined) return;
    this.items.delete(item.index);
    const open = this.staging.closeGroup(itemGroup(item));
    if (open !== undefined) void this.write(open, held);
    for (const staged of held.staged) this.track(this.publish(staged, held));
  }

  async abort(item: ItemScope): Promise<void> {
    const held = this.items.get(item.index);
    this.staging.closeGroup(itemGroup(item))?.discard();
    if (held === undefined) return;
    held.aborted = true;
    await this.discard(held);
  }

  async close(): Promise<void> {
    // An item neither committed nor aborted has no verified input: retried, never registered.
    for (const held of [...this.items.values()]) {
      this.staging.closeGroup(itemGroup(held.scope))?.discard();
      await this.discard(held);
      this.failures.push({ held, reason: `sink ${this.settings.sinkId} closed before its batch item was committed` });
    }
    const remaining = this.staging.closeAll();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < remaining.length) await this.write(remaining[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(CLOSE_CONCURRENCY, remaining.length) }, worker));
    while (this.writing.size > 0) await Promise.all(this.writing);
    this.invocation.fault?.('staged');
  }

  async settle(items: SettledItems): Promise<SettleResult> {
    const { ledger, scope } = this.settings;
    const failed = new Map<number, { item: ItemScope; reason: string }>();
    for (const { held, reason } of this.failures) if (!held.aborted && !failed.has(held.scope.index)) failed.set(held.scope.index, { item: held.scope, reason });
    const fail = (run: FileRun, reason: string) => {
      for (const { item } of run.segments) if (!failed.has(item.index)) failed.set(item.index, { item, reason });
    };
    // Position order: by first item, then creation (a shard's files are created in order).
    const files = [...this.stored].sort((a, b) => a.file.segments[0]!.item.index - b.file.segments[0]!.item.index || a.file.sequence - b.file.sequence);
    const sealed: number[] = [];
    let streamFailure: string | undefined;
    for (const stored of files) {
      const stream = stored.file.rewritable;
      for (const run of settledRuns(stored.file, (item) => !items.redelivered(item))) {
        // A stream's checkpoint must never pass an unregistered record: after one failure,
        // nothing later of the stream is registered. An S3 object fails alone.
        if (stream && streamFailure !== undefined) {
          fail(run, streamFailure);
          continue;
        }
        if (!stream && failed.has(run.segments[0]!.item.index)) continue;
        let registration: Registration;
        try {
          const file = run.whole ? this.ledgerFile(stored) : await this.rewrite(stored, run);
          registration = await ledger.register(scope, file, this.now());
        } catch (error) {
          const reason = `sink ${this.settings.sinkId} could not register its staged file s3://${this.settings.bucket}/${stored.key}: ${messageOf(error)}`;
          if (stream) streamFailure = reason;
          fail(run, reason);
          continue;
        }
        this.invocation.fault?.('registered');
        const batch = await this.sealIfDue(registration);
        if (batch !== undefined) sealed.push(batch);
      }
    }
    return { failed: [...failed.values()], sealed };
  }

  /**
   * Seals the batch a registration made due, and returns its number. A lost race (another
   * registrar sealed it) or an unreachable ledger leaves it to that registrar or to the sweep.
   */
  private async sealIfDue(registration: Registration): Promise<number | undefined> {
    const now = this.now();
    if (batchDue(registration.totals, this.settings.limits, now) === undefined) return undefined;
    const sealed = await this.settings.ledger.seal(this.settings.scope, registration.batch, now).catch(() => undefined);
    if (sealed === undefined) return undefined;
    this.invocation.fault?.('sealed');
    return sealed.batch;
  }

  private ledgerFile(stored: StoredFile): StagedFile {
    return { bucket: this.settings.bucket, key: stored.key, records: stored.file.records, bytes: stored.bytes, dataBytes: stored.file.dataBytes };
  }

  /** Stores the rows of `run` as a file of their own (its name derives from them) and returns it. Rejects when the store does. */
  private async rewrite(stored: StoredFile, run: FileRun): Promise<StagedFile> {
    const { bucket, filesPrefix, putOptions, store, suffix } = this.settings;
    if (stored.compressed === undefined) throw new TypeError(`staged file ${stored.key} cannot be split`);
    const part = stored.file.runObject(run, gunzipSync(stored.compressed), suffix);
    const body = await compressBody(part.body, 'gzip');
    const key = filesPrefix + part.name;
    await store.put(bucket, key, body, putOptions);
    return { bucket, key, records: part.records, bytes: body.length, dataBytes: part.body.length };
  }

  private heldItem(item: ItemScope): HeldItem {
    let held = this.items.get(item.index);
    if (held === undefined) {
      held = { scope: item, staged: [], aborted: false };
      this.items.set(item.index, held);
    }
    return held;
  }

  /** Drops everything staged of an item, publishing none of it. */
  private async discard(held: HeldItem): Promise<void> {
    this.items.delete(held.scope.index);
    await Promise.all(held.staged.map(async ({ object }) => (await object)?.discard().catch(() => {})));
  }

  /** Names, compresses and stores a closed file (the last of `held`, when it is a staged item's), then settles its tickets; the promise never rejects. */
  private write(file: StagingFile<Ticket>, held?: HeldItem): Promise<void> {
    return this.track(this.put(file, held));
  }

  private async put(file: StagingFile<Ticket>, held: HeldItem | undefined): Promise<void> {
    const { bucket, filesPrefix, putOptions, store, suffix } = this.settings;
    const key = filesPrefix + file.name(suffix);
    let body: Buffer;
    try {
      body = await file.compressedBody();
      await store.put(bucket, key, body, putOptions);
    } catch (error) {
      this.fail(file, key, error, held);
      return;
    }
    this.stored.push({ file, key, bytes: body.length, compressed: file.rewritable ? body : undefined });
    settleTags(file, (ticket) => ticket.written());
  }

  /** Uploads a full file of an S3 object without making it visible; `commit` publishes it. */
  private stage(file: StagingFile<Ticket>, held: HeldItem): Promise<void> {
    const { bucket, filesPrefix, putOptions, store, suffix } = this.settings;
    const key = filesPrefix + file.name(suffix);
    const compressed = file.compressedBody();
    const entry = { file, key, bytes: 0, object: Promise.resolve<StagedObject | undefined>(undefined) };
    entry.object = (async () => {
      try {
        const body = await compressed;
        entry.bytes = body.length;
        return await store.stage(bucket, key, body, putOptions);
      } catch (error) {
        this.fail(file, key, error, held);
        return undefined;
      }
    })();
    held.staged.push(entry);
    return this.track(entry.object.then(() => undefined));
  }

  private async publish(entry: HeldItem['staged'][number], held: HeldItem): Promise<void> {
    const staged = await entry.object;
    if (staged === undefined) return; // failed when staged
    try {
      await staged.publish();
    } catch (error) {
      await staged.discard().catch(() => {});
      this.fail(entry.file, entry.key, error, held);
      return;
    }
    this.stored.push({ file: entry.file, key: entry.key, bytes: entry.bytes, compressed: undefined });
  }

  private track(promise: Promise<void>): Promise<void> {
    const tracked = promise.finally(() => this.writing.delete(tracked));
    this.writing.add(tracked);
    return tracked;
  }

  /**
   * A file the store refused: each ticket fails, retryable when the store says try again; a file
   * of a staged item (whose tickets are settled) fails its item.
   */
  private fail(file: StagingFile<Ticket>, key: string, error: unknown, held: HeldItem | undefined): void {
    const { retryable, reason } = classifyStoreError(error);
    const message = `s3://${this.settings.bucket}/${key} could not be staged: ${reason}: ${messageOf(error)}`;
    if (held !== undefined) {
      this.failures.push({ held, reason: message });
      return;
    }
    const failure: SinkFailure = { code: retryable ? 'sink-error' : 'sink-rejected', message, retryable };
    settleTags(file, (ticket) => ticket.failed(failure));
  }

  private now(): number {
    return (this.settings.clock ?? Date.now)();
  }
}

/**
 * The group a record's file belongs to. A stream's records share files per shard (DynamoDB: per
 * table, as Lambda delivers one shard per event), in arrival order, which is position order; an
 * S3 object's records are staged alone, since the object is committed or aborted as a whole.
 */
function groupOf(meta: RecordMeta, item: ItemScope): string {
  if (item.staged) return itemGroup(item);
  switch (meta.event) {
    case 'kinesis':
      return `stream\0${meta.source}\0${meta.stream}/${meta.shard}`;
    case 'dynamodb':
      return `stream\0${meta.source}\0${meta.table}`;
    case 's3':
      return `object\0${meta.source}\0${meta.bucket}/${meta.key}@${meta.version_id ?? meta.etag ?? ''}`;
  }
}

function itemGroup(item: Pick<ItemScope, 'index'>): string {
  return `item\0${item.index}`;
}

/** Settles the tickets of a file's rows, once: the file lets go of them. */
function settleTags(file: StagingFile<Ticket>, settle: (ticket: Ticket) => void): void {
  for (const ticket of file.tags) settle(ticket);
  file.releaseTags();
}

function rejected(message: string): SinkFailure {
  return { code: 'sink-rejected', message, retryable: false };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
