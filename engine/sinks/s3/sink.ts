/**
 * The `s3` sink: writes records as JSON-lines or CSV objects, gzip-compressed by default, under a
 * prefix rendered per record from the `key` template. The sink names each object after the
 * records it holds (docs/decisions/0007-s3-object-names.md), so a retried invocation overwrites
 * its objects instead of adding copies.
 */
import type { RecordMeta, RecordValue } from '../../pipeline/record.ts';
import type { Invocation, ItemScope, Sink, SinkEntry, SinkFailure, SinkPlugin, SinkWriter, Ticket } from '../../plugin/types.ts';
import { classifyStoreError } from '../../ports/classify-store-error.ts';
import type { ObjectStore, PutOptions, StagedObject } from '../../ports/object-store.ts';
import type { SinkConfig } from '../../spec/spec-types.ts';
import { compileTemplate } from '../../template/index.ts';
import type { CompiledTemplate } from '../../template/index.ts';
import { ObjectBody, compressBody, objectFormat, objectPutOptions, objectSuffix } from '../../staging/encode.ts';
import type { Compression, CsvOutputOptions, ObjectFormat, RecordEncoder } from '../../staging/encode.ts';
import { MAX_PREFIX_BYTES, ObjectIdentity } from '../../staging/object-name.ts';

/** A resolved `s3` sink (engine/spec/spec-types.ts, `ResolvedS3Sink`): defaults applied, sizes in bytes. */
export type S3SinkConfig = SinkConfig<'s3'>;

/**
 * Bound on the uncompressed bytes held by all open objects of one invocation together: twice
 * `max_bytes`, at least 64 MiB. Past it the largest open object is written early, so records
 * spread over many prefixes cannot exhaust the function's memory.
 */
const MIN_OPEN_BYTES_BUDGET = 64 * 1024 * 1024;
/** Objects written at once when an invocation ends. */
const CLOSE_CONCURRENCY = 4;

interface S3SinkSettings {
  id: string;
  bucket: string;
  prefix: CompiledTemplate;
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
    return { open: (invocation) => new S3SinkWriter(settings, invocation) };
  },
};

/**
 * The key template, compiled. A template without `{{` renders to itself, so it is compiled only
 * to be checked and then returned as a constant: Handlebars costs about a microsecond per render
 * even when there is nothing to substitute.
 */
function compilePrefix(source: string): CompiledTemplate {
  const template = compileTemplate(source);
  return source.includes('{{') ? template : () => source;
}

/** An object being filled: one per rendered prefix (and, for a staged item, per item) at a time. */
interface OpenObject {
  readonly prefix: string;
  readonly encode: RecordEncoder;
  readonly body: ObjectBody;
  readonly identity: ObjectIdentity;
  readonly tickets: Ticket[];
  /** The open objects it belongs to while it is being filled: the shared ones, or its item's. */
  readonly container: Map<string, OpenObject>;
  /** Its staged item, when it holds one item's records only. */
  readonly item: HeldItem | undefined;
}

/** What the sink holds of one staged item until the pipeline commits or aborts it: nothing per record once an object is staged. */
interface HeldItem {
  readonly open: Map<string, OpenObject>;
  /** Full objects of the item, uploaded but not visible (`undefined` once the upload failed and its tickets were failed). */
  readonly staged: { object: Promise<StagedObject | undefined>; key: string }[];
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
 * The tickets of a staged object are settled `written` once its upload is stored, so that an
 * object of millions of records holds no per-record state until its end: the pipeline discards
 * those outcomes if the item is aborted, and `commit` rejects (the item fails for retry) when an
 * upload cannot be published (docs/decisions/0052-bounded-memory-s3-objects.md).
 */
class S3SinkWriter implements SinkWriter {
  private readonly open = new Map<string, OpenObject>();
  private readonly items = new Map<number, HeldItem>();
  private readonly writing = new Set<Promise<void>>();
  private openBytes = 0;
  /** The input record of the last record added, and how many records of it came before: its fan-out ordinal. */
  private lastMeta: RecordMeta | undefined;
  private ordinal = 0;

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
    if (object.tickets.length > 0 && wouldExceed(object.body.byteLength, text, maxBytes)) {
      pending = [this.finish(object)];
      // Encoded again for the new object: a CSV object starts with its header.
      object = this.startObject(prefix, container, held);
      text = this.encode(object, record, ticket);
      if (text === undefined) return pending[0];
    }

    this.openBytes += object.body.append(text);
    object.identity.add(meta, ordinal);
    object.tickets.push(ticket);
    if (object.tickets.length === 1) container.set(prefix, object);

    if (object.tickets.length >= maxRecords || object.body.byteLength >= maxBytes) {
      (pending ??= []).push(this.finish(object));
    } else if (this.openBytes > this.settings.openBytesBudget) {
      (pending ??= []).push(this.finish(this.largestOpenObject()));
    }
    if (pending === undefined) return;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  commit(item: ItemScope): Promise<void> | void {
    const held = this.items.get(item.index);
    if (held === undefined) return;
    this.items.delete(item.index);
    for (const object of [...held.open.values()]) void this.write(object);
    if (held.staged.length === 0) return;
    const published = Promise.all(held.staged.map((staged) => this.publish(staged)));
    void this.track(published.then(() => undefined));
    return published.then((failures) => {
      const failed = failures.filter((failure) => failure !== undefined);
      if (failed.length > 0) throw new Error(failed.join('; '));
    });
  }

  async abort(item: ItemScope): Promise<void> {
    const held = this.items.get(item.index);
    if (held === undefined) return;
    this.items.delete(item.index);
    for (const object of held.open.values()) this.openBytes -= object.body.byteLength;
    held.open.clear();
    await Promise.all(held.staged.map(async ({ object }) => (await object)?.discard().catch(() => {})));
  }

  async close(): Promise<void> {
    // The pipeline commits or aborts every item before closing; an item left over has no verified
    // input, so its objects are discarded and its records retried rather than published.
    for (const [index, held] of [...this.items]) {
      const failure: SinkFailure = { code: 'sink-error', message: `sink ${this.settings.id} closed before its batch item was committed`, retryable: true };
      for (const object of held.open.values()) for (const ticket of object.tickets) ticket.failed(failure);
      await this.abort({ index, staged: true });
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

  private heldItem(item: ItemScope): HeldItem {
    let held = this.items.get(item.index);
    if (held === undefined) {
      held = { open: new Map(), staged: [] };
      this.items.set(item.index, held);
    }
    return held;
  }

  private renderPrefix(record: RecordValue, meta: RecordMeta, ticket: Ticket): string | undefined {
    let prefix: string;
    try {
      prefix = this.settings.prefix({ record, meta, now: this.invocation.now });
    } catch (error) {
      ticket.failed(rejected(`the key prefix of sink ${this.settings.id} does not render: ${messageOf(error)}`));
      return undefined;
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
    return { prefix, encode: format.begin(), body: new ObjectBody(), identity: new ObjectIdentity(id), tickets: [], container, item };
  }

  private largestOpenObject(): OpenObject {
    let largest: OpenObject | undefined;
    const consider = (object: OpenObject) => {
      if (largest === undefined || object.body.byteLength > largest.body.byteLength) largest = object;
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
    this.openBytes -= object.body.byteLength;
    // Compression runs in libuv's thread pool: the object is named (every record's position
    // hashed) on this thread meanwhile, instead of before.
    const body = compressObject(object.body, this.settings.compression);
    return { body, key: object.prefix + object.identity.name(this.settings.suffix) };
  }

  /** Takes `object` out of `open` and writes it, once; the promise never rejects. */
  private write(object: OpenObject): Promise<void> {
    const taken = this.take(object);
    if (taken === undefined) return Promise.resolve();
    return this.track(this.put(object.tickets, taken.key, taken.body));
  }

  /** Uploads a full object of a staged item without publishing it; `commit` publishes it. The promise never rejects. */
  private stage(object: OpenObject, held: HeldItem): Promise<void> {
    const taken = this.take(object);
    if (taken === undefined) return Promise.resolve();
    const { bucket, putOptions, store } = this.settings;
    const staged = (async () => {
      let uploaded: StagedObject;
      try {
        uploaded = await store.stage(bucket, taken.key, await taken.body, putOptions);
      } catch (error) {
        this.fail(object.tickets, taken.key, error);
        return undefined;
      }
      for (const ticket of object.tickets) ticket.written();
      return uploaded;
    })();
    held.staged.push({ object: staged, key: taken.key });
    return this.track(staged.then(() => undefined));
  }

  private track(promise: Promise<void>): Promise<void> {
    const tracked = promise.finally(() => this.writing.delete(tracked));
    this.writing.add(tracked);
    return tracked;
  }

  private async put(tickets: Ticket[], key: string, body: Promise<Buffer>): Promise<void> {
    const { bucket, putOptions, store } = this.settings;
    try {
      await store.put(bucket, key, await body, putOptions);
    } catch (error) {
      this.fail(tickets, key, error);
      return;
    }
    for (const ticket of tickets) ticket.written();
  }

  /** Publishes a staged object; resolves to why it could not be, or `undefined`. Never rejects. */
  private async publish({ object, key }: HeldItem['staged'][number]): Promise<string | undefined> {
    const staged = await object;
    if (staged === undefined) return undefined; // failed when staged; its tickets are settled
    try {
      await staged.publish();
      return undefined;
    } catch (error) {
      await staged.discard().catch(() => {});
      const { reason } = classifyStoreError(error);
      return `s3://${this.settings.bucket}/${key} could not be published: ${reason}: ${messageOf(error)}`;
    }
  }

  /** Fails every ticket of an object the store refused: retryable when the store says try again. */
  private fail(tickets: Ticket[], key: string, error: unknown): void {
    const { retryable, reason } = classifyStoreError(error);
    const failure: SinkFailure = {
      code: retryable ? 'sink-error' : 'sink-rejected',
      message: `s3://${this.settings.bucket}/${key} could not be written: ${reason}: ${messageOf(error)}`,
      retryable,
    };
    for (const ticket of tickets) ticket.failed(failure);
  }
}

/** Whether appending `text` to a body of `bytes` bytes makes it larger than `maxBytes`. */
function wouldExceed(bytes: number, text: string, maxBytes: number): boolean {
  // Three bytes per UTF-16 unit at most: only a text near the limit needs measuring.
  return bytes + text.length * 3 > maxBytes && bytes + Buffer.byteLength(text) > maxBytes;
}

/** The bytes to store for `body`; a failure rejects, it never throws. */
async function compressObject(body: ObjectBody, compression: Compression): Promise<Buffer> {
  return compressBody(body.toBuffer(), compression);
}

function rejected(message: string): SinkFailure {
  return { code: 'sink-rejected', message, retryable: false };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
