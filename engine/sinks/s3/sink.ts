/**
 * The `s3` sink: writes records as JSON-lines or CSV objects, gzip-compressed by default, under a
 * prefix rendered per record from the `key` template. The sink names each object after the
 * records it holds (docs/decisions/0007-s3-object-names.md), so a retried invocation overwrites
 * its objects instead of adding copies.
 */
import type { RecordMeta, RecordValue } from '../../pipeline/record.ts';
import type { Invocation, ItemScope, SettleResult, Sink, SinkEntry, SinkFailure, SinkPlugin, SinkWriter, Ticket } from '../../plugin/types.ts';
import { classifyStoreError } from '../../ports/classify-store-error.ts';
import type { ObjectStore, PutOptions, StagedObject } from '../../ports/object-store.ts';
import type { SinkConfig } from '../../spec/spec-types.ts';
import { compileTemplate } from '../../template/index.ts';
import type { CompiledTemplate } from '../../template/index.ts';
import { GzipObjectBody, ObjectBody, objectFormat, objectPutOptions, objectSuffix } from '../../staging/encode.ts';
import type { CsvOutputOptions } from '../../staging/csv-format.ts';
import type { Compression, ObjectFormat, RecordEncoder } from '../../staging/encode.ts';
import { MAX_PREFIX_BYTES, ObjectIdentity } from '../../staging/object-name.ts';

/** A resolved `s3` sink (engine/spec/spec-types.ts, `ResolvedS3Sink`): defaults applied, sizes in bytes. */
export type S3SinkConfig = SinkConfig<'s3'>;

/**
 * Bound on the uncompressed bytes held by all open objects of one invocation together: twice
 * `max_bytes`, at least 64 MiB (text not encoded yet counts a byte per UTF-16 unit, see
 * `S3SinkWriter.count`). Past it the largest open object is written early, so records spread over
 * many prefixes cannot exhaust the function's memory.
 */
const MIN_OPEN_BYTES_BUDGET = 64 * 1024 * 1024;
/** Objects written at once when an invocation ends. */
const CLOSE_CONCURRENCY = 4;

interface S3SinkSettings {
  id: string;
  bucket: string;
  /** The key template, or its text when it has nothing to render. */
  prefix: CompiledTemplate | string;
  format: ObjectFormat;
  compression: Compression;
  suffix: string;
  putOptions: PutOptions;
  maxRecords: number;
  maxBytes: number;
  openBytesBudget: number;
  store: ObjectStore;
}

/** The `s3` sink plugin. `create` compiles the key template once per cold start and throws on an invalid config. */
export const s3Sink: SinkPlugin<S3SinkConfig> = {
  type: 's3',
  create(id, config, ports): Sink {
    const { max_records: maxRecords, max_bytes: maxBytes } = config.batch;
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) throw new RangeError(`sink ${id}: batch.max_records must be a positive integer, got ${maxRecords}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`sink ${id}: batch.max_bytes must be a positive number of bytes, got ${maxBytes}`);
    const format = objectFormat(config.format, config.csv);
    const compression = config.compression;
    const settings: S3SinkSettings = {
      id,
      bucket: config.bucket,
      prefix: compilePrefix(config.key),
      format,
      compression,
      suffix: objectSuffix(format, compression),
      putOptions: objectPutOptions(format, compression),
      maxRecords,
      maxBytes,
      openBytesBudget: Math.max(2 * maxBytes, MIN_OPEN_BYTES_BUDGET),
      store: ports.objects,
    };
    // The last writer outlives its invocation until the next one ends, and with it its hidden
    // class and the code compiled against it (docs/decisions/0057-stable-layouts.md); once closed
    // it holds no records and no bytes.
    let last: S3SinkWriter | undefined;
    return { open: (invocation) => (last = new S3SinkWriter(settings, invocation)) };
  },
};

/**
 * The key template, compiled. A template without `{{` renders to itself, so it is compiled only
 * to be checked and then kept as its text: Handlebars costs about a microsecond per render even
 * when there is nothing to substitute, and a render's context is one more object per record.
 */
function compilePrefix(source: string): CompiledTemplate | string {
  const template = compileTemplate(source);
  return source.includes('{{') ? template : source;
}

/** An object being filled: one per rendered prefix (and, for a staged item, per item) at a time. */
interface OpenObject {
  readonly prefix: string;
  readonly encode: RecordEncoder;
  readonly body: ObjectBody;
  readonly identity: ObjectIdentity;
  records: number;
  /** Tickets settled when the object is written; none for a staged item's object, whose tickets settle on `add`. */
  readonly tickets: Ticket[];
  /** The open objects it belongs to while it is being filled: the shared ones, or its item's. */
  readonly container: Map<string, OpenObject>;
  /** Its staged item, when it holds one item's records only. */
  readonly item: HeldItem | undefined;
  /** Its body's size as `openBytes` counts it: `body.minByteLength` when last counted (`S3SinkWriter.count`). */
  counted: number;
}

/** What the sink holds of one staged item until the pipeline commits or aborts it: its objects, nothing per record. */
interface HeldItem {
  readonly scope: ItemScope;
  readonly open: Map<string, OpenObject>;
  /** Full objects of the item, uploaded but not visible (`undefined` once the upload failed). */
  readonly staged: { object: Promise<StagedObject | undefined>; key: string }[];
  aborted: boolean;
}

/**
 * One invocation's objects. `add` encodes a record at once into its prefix's open object, and
 * returns a promise only when that fills an object and it is being written. Tickets are settled
 * when their object is written: `written` on success; on a failed put, every ticket of the object
 * fails, retryable or not as `classifyStoreError` judges the store's error. A record whose prefix
 * does not render, or that cannot be encoded, fails alone with a non-retryable `sink-rejected`.
 *
 * Records of a staged item (an S3 object being read) go into objects of that item alone: a full
 * one is uploaded without being made visible (`ObjectStore.stage`, a multipart upload left
 * uncompleted) and published on `commit` with the item's open objects; `abort` discards them all,
 * so an unreadable input leaves no output. Records of other items share objects per prefix.
 * A staged item's tickets are settled `written` as their records are encoded, so that an object
 * of millions of records leaves no per-record state in the sink or the pipeline: the pipeline
 * discards those outcomes if the item is aborted, and an object of the item that cannot be
 * staged, written or published fails the whole item for retry through `settle`
 * (docs/decisions/0052-bounded-memory-s3-objects.md).
 */
class S3SinkWriter implements SinkWriter {
  private readonly open = new Map<string, OpenObject>();
  private readonly items = new Map<number, HeldItem>();
  private readonly writing = new Set<Promise<void>>();
  /** Staged items whose output could not be stored or published: `settle` fails them. */
  private readonly failures: { held: HeldItem; reason: string }[] = [];
  private openBytes = 0;
  /** The input record of the last record added, and how many records of it came before: its fan-out ordinal. */
  private lastMeta: RecordMeta | undefined;
  private ordinal = 0;
  /**
   * The body and identity of the last object taken, empty once taken: kept with the writer, so
   * their hidden classes outlive the invocation too (docs/decisions/0057-stable-layouts.md).
   */
  private lastTaken: Pick<OpenObject, 'body' | 'identity'> | undefined;

  constructor(
    private readonly settings: S3SinkSettings,
    private readonly invocation: Invocation,
  ) {}

  add(entry: SinkEntry): Promise<void> | void {
    const { record, meta, ticket, item } = entry;
    // The records one input record becomes arrive one after another, all with its meta.
    this.ordinal = meta === this.lastMeta ? this.ordinal + 1 : 0;
    this.lastMeta = meta;
    const ordinal = this.ordinal;
    const prefix = this.renderPrefix(record, meta, ticket);
    if (prefix === undefined) return;
    const { maxBytes, maxRecords } = this.settings;
    const held = item.staged ? this.heldItem(item) : undefined;
    const container = held?.open ?? this.open;

    let object = container.get(prefix) ?? this.startObject(prefix, container, held);
    let text = this.encode(object, record, ticket);
    if (text === undefined) return;
    let pending: Promise<void>[] | undefined;
    if (object.records > 0 && object.body.wouldExceed(text, maxBytes)) {
      pending = [this.finish(object)];
      // Encoded again for the new object: a CSV object starts with its header.
      object = this.startObject(prefix, container, held);
      text = this.encode(object, record, ticket);
      if (text === undefined) return pending[0];
    }

    object.body.defer(text);
    object.identity.add(meta, ordinal);
    if (++object.records === 1) container.set(prefix, object);
    // A staged item's outcome is provisional until commit: nothing of the record needs keeping.
    if (held === undefined) object.tickets.push(ticket);
    else ticket.written();

    // Measuring a body exactly encodes its deferred text: the count follows.
    const full = object.records >= maxRecords || object.body.reaches(maxBytes);
    this.count(object);
    if (full) {
      (pending ??= []).push(this.finish(object));
    } else if (this.openBytes > this.settings.openBytesBudget) {
      (pending ??= []).push(this.finish(this.largestOpenObject()));
    }
    if (pending === undefined) return;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  commit(item: ItemScope): void {
    const held = this.items.get(item.index);
    if (held === undefined) return;
    this.items.delete(item.index);
    for (const object of [...held.open.values()]) void this.write(object);
    for (const staged of held.staged) void this.track(this.publish(held, staged));
  }

  async abort(item: ItemScope): Promise<void> {
    const held = this.items.get(item.index);
    if (held === undefined) return;
    held.aborted = true;
    await this.discard(held);
  }

  async close(): Promise<void> {
    // The pipeline commits or aborts every item before closing; an item left over has no verified
    // input, so its objects are discarded and it is retried rather than published.
    for (const held of [...this.items.values()]) {
      await this.discard(held);
      this.failures.push({ held, reason: `sink ${this.settings.id} closed before its batch item was committed` });
    }
    // Loops because a caller that does not await `add` may still be adding while objects are written.
    while (this.open.size > 0 || this.writing.size > 0) {
      const remaining = [...this.open.values()];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < remaining.length) await this.write(remaining[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(CLOSE_CONCURRENCY, remaining.length) }, worker));
      await Promise.all(this.writing);
    }
  }

  /** The items whose objects could not be stored or published, each once with its first reason; an aborted item has no output to fail. */
  async settle(): Promise<SettleResult> {
    const failed = new Map<HeldItem, string>();
    for (const { held, reason } of this.failures) if (!held.aborted && !failed.has(held)) failed.set(held, reason);
    return { failed: [...failed].map(([held, reason]) => ({ item: held.scope, reason })) };
  }

  private heldItem(item: ItemScope): HeldItem {
    let held = this.items.get(item.index);
    if (held === undefined) {
      held = { scope: item, open: new Map(), staged: [], aborted: false };
      this.items.set(item.index, held);
    }
    return held;
  }

  /** Drops everything held of an item, publishing none of it. */
  private async discard(held: HeldItem): Promise<void> {
    this.items.delete(held.scope.index);
    for (const object of held.open.values()) {
      this.openBytes -= object.counted;
      object.body.discard();
    }
    held.open.clear();
    await Promise.all(held.staged.map(async ({ object }) => (await object)?.discard().catch(() => {})));
  }

  private renderPrefix(record: RecordValue, meta: RecordMeta, ticket: Ticket): string | undefined {
    const template = this.settings.prefix;
    let prefix: string;
    if (typeof template === 'string') prefix = template;
    else {
      try {
        prefix = template({ record, meta, now: this.invocation.now });
      } catch (error) {
        ticket.failed(rejected(`the key prefix of sink ${this.settings.id} does not render: ${messageOf(error)}`));
        return undefined;
      }
    }
    // Three bytes per UTF-16 unit at most: only long prefixes need measuring.
    if (prefix.length * 3 > MAX_PREFIX_BYTES && Buffer.byteLength(prefix) > MAX_PREFIX_BYTES) {
      ticket.failed(rejected(`the key prefix of sink ${this.settings.id} renders to ${Buffer.byteLength(prefix)} bytes; at most ${MAX_PREFIX_BYTES} leave room for the object name within S3's 1024-byte key limit`));
      return undefined;
    }
    return prefix;
  }

  private encode(object: OpenObject, record: RecordValue, ticket: Ticket): string | undefined {
    try {
      return object.encode(record);
    } catch (error) {
      ticket.failed(rejected(`sink ${this.settings.id} cannot encode the record as ${this.settings.format.extension}: ${messageOf(error)}`));
      return undefined;
    }
  }

  /** A new, empty object; it joins `container` with its first record. */
  private startObject(prefix: string, container: Map<string, OpenObject>, item: HeldItem | undefined): OpenObject {
    const { format, id } = this.settings;
    const body = this.settings.compression === 'gzip' ? new GzipObjectBody() : new ObjectBody();
    return { prefix, encode: format.begin(), body, identity: new ObjectIdentity(id), records: 0, tickets: [], container, item, counted: 0 };
  }

  /**
   * Brings `openBytes` up to date with `object`'s body. It counts deferred text a byte per UTF-16
   * unit (exact for ASCII, at most 2 bytes a unit short otherwise, and only until the text is
   * encoded: 64 Ki units at a time), so that a record costs no measuring.
   */
  private count(object: OpenObject): void {
    const now = object.body.minByteLength;
    this.openBytes += now - object.counted;
    object.counted = now;
  }

  private largestOpenObject(): OpenObject {
    let largest: OpenObject | undefined;
    const consider = (object: OpenObject) => {
      if (largest === undefined || object.counted > largest.counted) largest = object;
    };
    for (const object of this.open.values()) consider(object);
    for (const held of this.items.values()) for (const object of held.open.values()) consider(object);
    return largest!;
  }

  /** Ends a full object: written when it holds committed records, staged when it holds a staged item's. */
  private finish(object: OpenObject): Promise<void> {
    return object.item === undefined ? this.write(object) : this.stage(object, object.item);
  }

  /** Takes `object` out of its container, once; returns the bytes to store and its key. */
  private take(object: OpenObject): { body: Promise<Buffer>; key: string } | undefined {
    if (object.container.get(object.prefix) !== object) return undefined;
    object.container.delete(object.prefix);
    this.openBytes -= object.counted;
    // Compression runs in libuv's thread pool: the object is named on this thread meanwhile.
    const body = object.body.finish();
    const key = object.prefix + object.identity.name(this.settings.suffix);
    this.lastTaken = { body: object.body, identity: object.identity };
    return { body, key };
  }

  /** Takes `object` out of `open` and writes it, once; the promise never rejects. */
  private write(object: OpenObject): Promise<void> {
    const taken = this.take(object);
    if (taken === undefined) return Promise.resolve();
    return this.track(this.put(object, taken.key, taken.body));
  }

  /** Uploads a full object of a staged item without publishing it; `commit` publishes it. The promise never rejects. */
  private stage(object: OpenObject, held: HeldItem): Promise<void> {
    const taken = this.take(object);
    if (taken === undefined) return Promise.resolve();
    const { bucket, putOptions, store } = this.settings;
    const staged = (async () => {
      try {
        return await store.stage(bucket, taken.key, await taken.body, putOptions);
      } catch (error) {
        this.fail(object, taken.key, error);
        return undefined;
      }
    })();
    held.staged.push({ object: staged, key: taken.key });
    return this.track(staged.then(() => undefined));
  }

  private track(promise: Promise<void>): Promise<void> {
    const tracked = promise.finally(() => this.writing.delete(tracked));
    this.writing.add(tracked);
    return tracked;
  }

  private async put(object: OpenObject, key: string, body: Promise<Buffer>): Promise<void> {
    const { bucket, putOptions, store } = this.settings;
    try {
      await store.put(bucket, key, await body, putOptions);
    } catch (error) {
      this.fail(object, key, error);
      return;
    }
    for (const ticket of object.tickets) ticket.written();
  }

  private async publish(held: HeldItem, { object, key }: HeldItem['staged'][number]): Promise<void> {
    const staged = await object;
    if (staged === undefined) return; // failed when staged
    try {
      await staged.publish();
    } catch (error) {
      await staged.discard().catch(() => {});
      this.failures.push({ held, reason: this.describe(key, error) });
    }
  }

  /**
   * An object the store refused: each ticket fails, retryable when the store says try again; an
   * object of a staged item (whose tickets are settled) fails its item.
   */
  private fail(object: OpenObject, key: string, error: unknown): void {
    if (object.item !== undefined) {
      this.failures.push({ held: object.item, reason: this.describe(key, error) });
      return;
    }
    const { retryable } = classifyStoreError(error);
    const failure: SinkFailure = { code: retryable ? 'sink-error' : 'sink-rejected', message: this.describe(key, error), retryable };
    for (const ticket of object.tickets) ticket.failed(failure);
  }

  private describe(key: string, error: unknown): string {
    return `s3://${this.settings.bucket}/${key} could not be written: ${classifyStoreError(error).reason}: ${messageOf(error)}`;
  }
}

function rejected(message: string): SinkFailure {
  return { code: 'sink-rejected', message, retryable: false };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
