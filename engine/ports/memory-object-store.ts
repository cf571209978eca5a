import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectStore, PutOptions, StoredObject } from './object-store.ts';

/** An object held by {@link MemoryObjectStore}. */
export interface MemoryObject {
  body: Uint8Array;
  contentType: string;
  contentEncoding?: string;
  /** MD5 of the body in hex, as S3 computes it for single-part uploads (no quotes). */
  etag: string;
}

export interface MemoryObjectStoreOptions {
  /**
   * Size of the chunks `get` streams a body in [64 KiB]. Small values exercise decoders on
   * records split across chunks, as network reads split them.
   */
  chunkBytes?: number;
}

/**
 * An `ObjectStore` in a `Map`, for unit tests and benchmarks. Objects are keyed by
 * `<bucket>/<key>` (bucket names cannot hold `/`); `objects` is public so tests can seed and
 * inspect them directly. Every bucket exists.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, MemoryObject>();
  private readonly chunkBytes: number;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.chunkBytes = options.chunkBytes ?? 64 * 1024;
    if (!Number.isSafeInteger(this.chunkBytes) || this.chunkBytes < 1) throw new RangeError('chunkBytes must be a positive integer');
  }

  /** The map key of an object. */
  static id(bucket: string, key: string): string {
    return `${bucket}/${key}`;
  }

  /** The stored object, or `undefined`. */
  object(bucket: string, key: string): MemoryObject | undefined {
    return this.objects.get(MemoryObjectStore.id(bucket, key));
  }

  /** Stores an object synchronously (test setup); `body` strings are UTF-8 encoded. */
  set(bucket: string, key: string, body: Uint8Array | string, options: Partial<PutOptions> = {}): MemoryObject {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const object: MemoryObject = {
      body: bytes,
      contentType: options.contentType ?? 'application/octet-stream',
      etag: createHash('md5').update(bytes).digest('hex'),
    };
    if (options.contentEncoding !== undefined) object.contentEncoding = options.contentEncoding;
    this.objects.set(MemoryObjectStore.id(bucket, key), object);
    return object;
  }

  async get(bucket: string, key: string): Promise<StoredObject | undefined> {
    const object = this.object(bucket, key);
    if (object === undefined) return undefined;
    return { body: Readable.from(chunks(object.body, this.chunkBytes)), size: object.body.byteLength, etag: `"${object.etag}"` };
  }

  async put(bucket: string, key: string, body: Uint8Array | Readable, options: PutOptions): Promise<void> {
    const bytes = body instanceof Uint8Array ? new Uint8Array(body) : await collect(body);
    this.set(bucket, key, bytes, options);
  }
}

/** Buffers viewing the body (no copy), as a network read yields them. */
function* chunks(body: Uint8Array, size: number): Generator<Buffer> {
  for (let offset = 0; offset < body.byteLength; offset += size) {
    yield Buffer.from(body.buffer, body.byteOffset + offset, Math.min(size, body.byteLength - offset));
  }
}

async function collect(body: Readable): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}
