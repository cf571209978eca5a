import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { GetOptions, ObjectStore, PutOptions, StagedObject, StoredObject } from './object-store.ts';

/** An object held by {@link MemoryObjectStore}. */
export interface MemoryObject {
  body: Uint8Array;
  contentType: string;
  contentEncoding?: string;
  /** MD5 of the body in hex, as S3 computes it for single-part uploads (no quotes). */
  etag: string;
  /** Set by a store with `versioning`: the id this write got. */
  versionId?: string;
}

export interface MemoryObjectStoreOptions {
  /**
   * Size of the chunks `get` streams a body in [64 KiB]. Small values exercise decoders on
   * records split across chunks, as network reads split them.
   */
  chunkBytes?: number;
  /**
   * Keep every version, as an S3 bucket with versioning on [false]: each write gets a new
   * `versionId`, `delete` leaves a delete marker, and `get` with a `versionId` reads that version.
   * Without it a key holds one object and `get` ignores `versionId`.
   */
  versioning?: boolean;
}

/**
 * An `ObjectStore` in a `Map`, for unit tests and benchmarks. Objects are keyed by
 * `<bucket>/<key>` (bucket names cannot hold `/`); `objects` is public so tests can seed and
 * inspect them directly (`objects` holds the current version of each key). Every bucket exists.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, MemoryObject>();
  /** Objects staged and neither published nor discarded yet, by `<bucket>/<key>`; tests assert it ends empty. */
  readonly staged = new Map<string, number>();
  /** With `versioning`: every version ever written, by object map key, oldest first. */
  private readonly versions = new Map<string, MemoryObject[]>();
  private readonly chunkBytes: number;
  private readonly versioning: boolean;
  private nextVersion = 1;

  constructor(options: MemoryObjectStoreOptions = {}) {
    this.versioning = options.versioning ?? false;
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
    const id = MemoryObjectStore.id(bucket, key);
    if (this.versioning) {
      // Zero-padded so that ids sort in write order, as a reader of a listing would expect.
      object.versionId = `v${String(this.nextVersion++).padStart(6, '0')}`;
      const history = this.versions.get(id) ?? [];
      history.push(object);
      this.versions.set(id, history);
    }
    this.objects.set(id, object);
    return object;
  }

  /**
   * Deletes the current object of a key (test setup). With `versioning` its versions stay
   * readable by id, as behind an S3 delete marker.
   */
  delete(bucket: string, key: string): void {
    this.objects.delete(MemoryObjectStore.id(bucket, key));
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    const id = MemoryObjectStore.id(bucket, key);
    const object = this.versioning && options.versionId !== undefined
      ? this.versions.get(id)?.find((version) => version.versionId === options.versionId)
      : this.objects.get(id);
    if (object === undefined) return undefined;
    const stored: StoredObject = { body: Readable.from(chunks(object.body, this.chunkBytes)), size: object.body.byteLength, etag: `"${object.etag}"` };
    if (object.versionId !== undefined) stored.versionId = object.versionId;
    return stored;
  }

  async put(bucket: string, key: string, body: Uint8Array | Readable, options: PutOptions): Promise<void> {
    const bytes = body instanceof Uint8Array ? new Uint8Array(body) : await collect(body);
    this.set(bucket, key, bytes, options);
  }

  async stage(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<StagedObject> {
    const bytes = new Uint8Array(body);
    const id = MemoryObjectStore.id(bucket, key);
    this.staged.set(id, (this.staged.get(id) ?? 0) + 1);
    let settled = false;
    const settle = () => {
      if (settled) throw new Error(`staged object ${id} was published or discarded twice`);
      settled = true;
      const count = this.staged.get(id)! - 1;
      if (count === 0) this.staged.delete(id);
      else this.staged.set(id, count);
    };
    return {
      publish: async () => {
        settle();
        this.set(bucket, key, bytes, options);
      },
      discard: async () => settle(),
    };
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
