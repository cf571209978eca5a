/**
 * The `s3` sink: writes records as JSON-lines or CSV objects, gzip-compressed by default, under a
 * prefix rendered per record from the `key` template. The sink names each object after the
 * records it holds (docs/decisions/0007-s3-object-names.md), so a retried invocation overwrites
 * its objects instead of adding copies.
 */
import type { RecordMeta, RecordValue } from '../../pipeline/record.ts';
import type { Invocation, Sink, SinkEntry, SinkFailure, SinkPlugin, SinkWriter, Ticket } from '../../plugin/types.ts';
import type { ObjectStore, PutOptions } from '../../ports/object-store.ts';
import { compileTemplate } from '../../template/index.ts';
import type { CompiledTemplate } from '../../template/index.ts';
import { ObjectBody, compressBody, objectFormat, objectPutOptions, objectSuffix } from './encode.ts';
import type { Compression, CsvOutputOptions, ObjectFormat, RecordEncoder } from './encode.ts';
import { MAX_PREFIX_BYTES, ObjectIdentity } from './object-name.ts';

/**
 * The fields of an `s3` sink that the runtime reads, with sizes in bytes. A structural subset of
 * the resolved spec's sink, so a resolved sink can be passed as is. Defaults are applied by the
 * caller; the ones here only make a hand-built config work.
 */
export interface S3SinkConfig {
  bucket: string;
  /** Handlebars template of the key prefix, rendered per record with `record`, `meta` and `now`. */
  key: string;
  /** [jsonl] */
  format?: 'jsonl' | 'csv';
  /** [gzip] */
  compression?: Compression;
  /** When an object is closed and the next one started [100000 records, 64 MiB uncompressed]. */
  batch?: { max_records?: number; max_bytes?: number };
  /** CSV layout for `format: csv`; without `columns`, each object's first record names them. */
  csv?: CsvOutputOptions;
}

/** Default most records in one object (the schema's `object_batch.max_records`). */
export const DEFAULT_MAX_RECORDS = 100_000;
/** Default largest uncompressed object (the schema's `object_batch.max_bytes`). */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
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
    const maxRecords = config.batch?.max_records ?? DEFAULT_MAX_RECORDS;
    const maxBytes = config.batch?.max_bytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) throw new RangeError(`sink ${id}: batch.max_records must be a positive integer, got ${maxRecords}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`sink ${id}: batch.max_bytes must be a positive number of bytes, got ${maxBytes}`);
    const format = objectFormat(config.format ?? 'jsonl', config.csv);
    const compression = config.compression ?? 'gzip';
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

/** An object being filled: one per rendered prefix at a time. */
interface OpenObject {
  readonly prefix: string;
  readonly encode: RecordEncoder;
  readonly body: ObjectBody;
  readonly identity: ObjectIdentity;
  readonly tickets: Ticket[];
}

/**
 * One invocation's objects. `add` encodes a record at once into its prefix's open object, and
 * returns a promise only when that fills an object and it is being written. Tickets are settled
 * when their object is written: `written` on success, a retryable `sink-error` for the whole
 * object when the put fails. A record whose prefix does not render, or that cannot be encoded,
 * fails alone with a non-retryable `sink-rejected`.
 */
class S3SinkWriter implements SinkWriter {
  private readonly open = new Map<string, OpenObject>();
  private readonly writing = new Set<Promise<void>>();
  private openBytes = 0;

  constructor(
    private readonly settings: S3SinkSettings,
    private readonly invocation: Invocation,
  ) {}

  add(entry: SinkEntry): Promise<void> | void {
    const { record, meta, ticket } = entry;
    const prefix = this.renderPrefix(record, meta, ticket);
    if (prefix === undefined) return;
    const { maxBytes, maxRecords } = this.settings;

    let object = this.open.get(prefix) ?? this.startObject(prefix);
    let text = this.encode(object, record, ticket);
    if (text === undefined) return;
    let pending: Promise<void>[] | undefined;
    if (object.tickets.length > 0 && wouldExceed(object.body.byteLength, text, maxBytes)) {
      pending = [this.write(object)];
      // Encoded again for the new object: a CSV object starts with its header.
      object = this.startObject(prefix);
      text = this.encode(object, record, ticket);
      if (text === undefined) return pending[0];
    }

    this.openBytes += object.body.append(text);
    object.identity.add(meta);
    object.tickets.push(ticket);
    if (object.tickets.length === 1) this.open.set(prefix, object);

    if (object.tickets.length >= maxRecords || object.body.byteLength >= maxBytes) {
      (pending ??= []).push(this.write(object));
    } else if (this.openBytes > this.settings.openBytesBudget) {
      (pending ??= []).push(this.write(this.largestOpenObject()));
    }
    if (pending === undefined) return;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  async close(): Promise<void> {
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

  /** A new, empty object; it joins `open` with its first record. */
  private startObject(prefix: string): OpenObject {
    const { format, id } = this.settings;
    return { prefix, encode: format.begin(), body: new ObjectBody(), identity: new ObjectIdentity(id), tickets: [] };
  }

  private largestOpenObject(): OpenObject {
    let largest: OpenObject | undefined;
    for (const object of this.open.values()) {
      if (largest === undefined || object.body.byteLength > largest.body.byteLength) largest = object;
    }
    return largest!;
  }

  /** Takes `object` out of `open` and writes it, once; the promise never rejects. */
  private write(object: OpenObject): Promise<void> {
    if (this.open.get(object.prefix) !== object) return Promise.resolve();
    this.open.delete(object.prefix);
    this.openBytes -= object.body.byteLength;
    const promise = this.put(object).finally(() => this.writing.delete(promise));
    this.writing.add(promise);
    return promise;
  }

  private async put(object: OpenObject): Promise<void> {
    const { bucket, compression, putOptions, store, suffix } = this.settings;
    // Compression runs in libuv's thread pool: the object is named (every record's position
    // hashed) on this thread meanwhile, instead of before.
    const body = compressObject(object.body, compression);
    const key = object.prefix + object.identity.name(suffix);
    try {
      await store.put(bucket, key, await body, putOptions);
    } catch (error) {
      const failure: SinkFailure = { code: 'sink-error', message: `s3://${bucket}/${key} could not be written: ${messageOf(error)}`, retryable: true };
      for (const ticket of object.tickets) ticket.failed(failure);
      return;
    }
    for (const ticket of object.tickets) ticket.written();
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
