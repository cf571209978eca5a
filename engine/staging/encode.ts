/**
 * Record encoders and object bodies for files written to object storage: JSON lines and CSV
 * (csv-format.ts), optionally gzip-compressed. Used by the S3 sink and reusable by anything else that writes
 * JSON-lines objects (dead letters).
 *
 * An object is built incrementally: each record is encoded once into text, appended to an
 * `ObjectBody` (bytes in a few large slabs, never record objects), and the body is compressed
 * once when the object is written, or as it grows (`GzipObjectBody`).
 */
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCallback } from 'node:zlib';
import type { Gzip } from 'node:zlib';
import type { RecordValue } from '../pipeline/record.ts';
import type { PutOptions } from '../ports/object-store.ts';
import { csvFormat } from './csv-format.ts';
import type { CsvOutputOptions } from './csv-format.ts';

const gzip = promisify(gzipCallback);

/**
 * Levels 1 to 3 are zlib's fast strategy; measured on JSON lines they compress about twice as
 * fast as the default 6 for objects some 5-8 % larger, a good trade for files compressed on
 * every invocation.
 */
export const GZIP_LEVEL = 3;

/** Encodes one record as the text of one line (or, for the first CSV record, header and line). Throws when the record cannot be encoded. */
export type RecordEncoder = (record: RecordValue) => string;

/** How records are laid out in an object. */
export interface ObjectFormat {
  /** File extension without the dot and without the compression's (`jsonl`, `csv`). */
  readonly extension: string;
  /** The object's `Content-Type`. */
  readonly contentType: string;
  /**
   * Starts one object and returns the encoder of its records. Called once per object: a CSV
   * encoder writes the header with the object's first record and fixes its columns then.
   */
  begin(): RecordEncoder;
}

export type Compression = 'gzip' | 'none';

/**
 * One value as one JSON line (JSON text and `\n`). Throws a `TypeError` when `value` cannot be
 * represented as JSON (a `BigInt`, a cycle, a top-level `undefined` or function).
 */
export function encodeJsonLine(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`a ${typeof value} cannot be written as JSON`);
  return text + '\n';
}

/** JSON lines (`application/x-ndjson`): one JSON object per line, `\n`-terminated. */
export const jsonLinesFormat: ObjectFormat = {
  extension: 'jsonl',
  contentType: 'application/x-ndjson',
  begin: () => encodeJsonLine,
};

/** The format named in the spec. */
export function objectFormat(format: 'jsonl' | 'csv', csv?: CsvOutputOptions): ObjectFormat {
  return format === 'csv' ? csvFormat(csv) : jsonLinesFormat;
}

/** The suffix of an object's name: `.jsonl.gz`, `.csv`... */
export function objectSuffix(format: ObjectFormat, compression: Compression): string {
  return compression === 'gzip' ? `.${format.extension}.gz` : `.${format.extension}`;
}

/** `Content-Type` and, when compressed, `Content-Encoding` of an object. */
export function objectPutOptions(format: ObjectFormat, compression: Compression): PutOptions {
  return compression === 'gzip' ? { contentType: format.contentType, contentEncoding: 'gzip' } : { contentType: format.contentType };
}

/**
 * The bytes to store for an uncompressed body. Compression runs in libuv's thread pool, so the
 * objects written when an invocation ends compress in parallel. Output chunks scale with the
 * body (zlib's default of 16 KiB makes a large body cost many round trips to the pool).
 */
export async function compressBody(body: Buffer, compression: Compression): Promise<Buffer> {
  if (compression === 'none') return body;
  const chunkSize = Math.max(16 * 1024, Math.min(1024 * 1024, body.length >>> 2));
  return gzip(body, { level: GZIP_LEVEL, chunkSize });
}

const FIRST_SLAB_BYTES = 16 * 1024;
const MAX_SLAB_BYTES = 1024 * 1024;
/** UTF-16 units of deferred text (`ObjectBody.defer`) encoded in one write. */
const DEFERRED_CHARS = 64 * 1024;

/**
 * The uncompressed bytes of one object under construction. Text is UTF-8 encoded straight into
 * slabs that grow from 16 KiB to 1 MiB, so a small object costs little and a large one holds
 * no per-record allocations.
 */
export class ObjectBody {
  protected readonly slabs: Buffer[] = [];
  protected slab: Buffer | undefined;
  protected offset = 0;
  private length = 0;
  /** Texts given to `defer` and not encoded yet, in order, and their length in UTF-16 units. */
  private readonly deferred: string[] = [];
  private deferredChars = 0;

  /** Uncompressed size so far, in bytes: encodes the deferred texts to know it. */
  get byteLength(): number {
    this.encodeDeferred();
    return this.length;
  }

  /** A lower bound of the uncompressed size, without encoding: a deferred UTF-16 unit counts one byte (exact for ASCII). */
  get minByteLength(): number {
    return this.length + this.deferredChars;
  }

  /** An upper bound of the uncompressed size, without encoding: a deferred UTF-16 unit counts three bytes. */
  get maxByteLength(): number {
    return this.length + this.deferredChars * 3;
  }

  /** Whether appending `text` makes the body larger than `maxBytes`; measured exactly only near the limit. */
  wouldExceed(text: string, maxBytes: number): boolean {
    // Three bytes per UTF-16 unit at most: only near the limit are the body and the text measured.
    return this.maxByteLength + text.length * 3 > maxBytes && this.byteLength + Buffer.byteLength(text) > maxBytes;
  }

  /** Whether the body holds `maxBytes` or more; measured exactly only once it may. */
  reaches(maxBytes: number): boolean {
    return this.maxByteLength >= maxBytes && this.byteLength >= maxBytes;
  }

  /** Appends `text` as UTF-8 now, after any deferred text, and returns its length in bytes. */
  append(text: string): number {
    this.encodeDeferred();
    return this.write(text);
  }

  /**
   * Appends `text`, to be encoded with the texts deferred after it: one write per 64 Ki UTF-16
   * units rather than one per record. Each write is a native call, and writing the text
   * `JSON.stringify` returns (a concatenation, not a flat string) first makes a flat copy of it;
   * joining the deferred texts copies each once, as a hand-written handler's `lines.join` does
   * (docs/decisions/0067-where-the-light-case-goes.md).
   */
  defer(text: string): void {
    this.deferred.push(text);
    this.deferredChars += text.length;
    if (this.deferredChars >= DEFERRED_CHARS) this.encodeDeferred();
  }

  /**
   * The whole body as one buffer, once: the body lets go of its slabs, so that keeping the body
   * does not keep its bytes (the S3 sink keeps its last one, docs/decisions/0057-stable-layouts.md).
   */
  toBuffer(): Buffer {
    this.encodeDeferred();
    const last = this.slab === undefined ? [] : [this.slab.subarray(0, this.offset)];
    const whole = this.slabs.length === 0 && last.length === 1 ? last[0]! : Buffer.concat([...this.slabs, ...last], this.length);
    this.slabs.length = 0;
    this.slab = undefined;
    return whole;
  }

  /** The bytes to store, once the last text is appended; a failure rejects. */
  async finish(): Promise<Buffer> {
    return this.toBuffer();
  }

  /** Lets go of the body unstored. */
  discard(): void {
    this.deferred.length = 0;
    this.deferredChars = 0;
  }

  /** A slab is full: keeps it. */
  protected seal(slab: Buffer): void {
    this.slabs.push(slab);
  }

  /** Encodes the deferred texts, if any. */
  protected encodeDeferred(): void {
    const { deferred } = this;
    if (deferred.length === 0) return;
    const text = deferred.length === 1 ? deferred[0]! : deferred.join('');
    deferred.length = 0;
    this.deferredChars = 0;
    this.write(text);
  }

  private write(text: string): number {
    let slab = this.slab;
    // A UTF-16 unit takes at most 3 bytes: only a text that may not fit the slab is measured.
    if (slab === undefined || slab.length - this.offset < text.length * 3) {
      const bytes = Buffer.byteLength(text);
      if (slab === undefined || slab.length - this.offset < bytes) {
        if (slab !== undefined) this.seal(slab.subarray(0, this.offset));
        const next = slab === undefined ? FIRST_SLAB_BYTES : Math.min(slab.length * 2, MAX_SLAB_BYTES);
        slab = Buffer.allocUnsafe(Math.max(next, bytes));
        this.slab = slab;
        this.offset = 0;
      }
    }
    const written = slab.write(text, this.offset);
    this.offset += written;
    this.length += written;
    return written;
  }
}

/** Output chunk of the streaming compressor: a few per 1 MiB slab of JSON lines. */
const GZIP_STREAM_CHUNK_BYTES = 64 * 1024;
/**
 * Full slabs held before a body starts compressing as it grows. A gzip stream holds some 300 KiB
 * of zlib state: started at 1 MiB, the streams of all open objects take at most about a third
 * of what their bodies would, however many prefixes are open.
 */
const GZIP_STREAM_FROM_BYTES = 1024 * 1024;

/**
 * An object body gzip-compressed as it grows: each full slab is handed to a gzip stream that
 * deflates it in libuv's thread pool while the next records are encoded, so an open object holds
 * its compressed bytes and one slab rather than its whole uncompressed body (64 MiB by default),
 * and writing a full object waits only for its last slab. A body that never grows past 1 MiB is
 * compressed in one call by `finish`, so that small objects (many prefixes of a stream batch)
 * cost no stream. The bytes are the same gzip data either way (deflate output does not depend on
 * how its input is split).
 */
export class GzipObjectBody extends ObjectBody {
  private stream: Gzip | undefined;
  private readonly compressed: Buffer[] = [];
  private error: Error | undefined;
  private sealedBytes = 0;

  override async finish(): Promise<Buffer> {
    this.encodeDeferred();
    const stream = this.stream;
    if (stream === undefined) return compressBody(this.toBuffer(), 'gzip');
    if (this.error !== undefined) throw this.error;
    const ended = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    if (this.slab !== undefined && this.offset > 0) stream.write(this.slab.subarray(0, this.offset));
    this.slab = undefined;
    stream.end();
    await ended;
    return Buffer.concat(this.compressed.splice(0));
  }

  override discard(): void {
    super.discard();
    this.stream?.destroy();
    this.slab = undefined;
  }

  protected override seal(slab: Buffer): void {
    if (this.stream !== undefined) {
      this.stream.write(slab);
      return;
    }
    super.seal(slab);
    this.sealedBytes += slab.byteLength;
    if (this.sealedBytes < GZIP_STREAM_FROM_BYTES) return;
    const stream = createGzip({ level: GZIP_LEVEL, chunkSize: GZIP_STREAM_CHUNK_BYTES });
    stream.on('data', (chunk: Buffer) => this.compressed.push(chunk));
    stream.on('error', (error) => (this.error = error));
    for (const held of this.slabs.splice(0)) stream.write(held);
    this.stream = stream;
  }
}
