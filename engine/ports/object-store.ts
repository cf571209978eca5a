import type { Readable } from 'node:stream';

/** An object read from a store. `body` must be consumed or destroyed by the caller. */
export interface StoredObject {
  body: Readable;
  size?: number;
  etag?: string;
  /** The version read, when the store keeps versions (S3 with versioning on). */
  versionId?: string;
}

export interface GetOptions {
  /**
   * Reads this version of the object rather than the current one. A store that keeps one
   * version per key (the filesystem, an unversioned memory store) reads the current object.
   */
  versionId?: string;
}

export interface PutOptions {
  contentType: string;
  contentEncoding?: string;
}

/**
 * The object storage the engine reads sources from and writes sinks and dead letters to.
 * Adapters: S3 (SDK v3), the local filesystem (`.ingest/s3/<bucket>/<key>`), memory (tests, benchmarks).
 */
export interface ObjectStore {
  /**
   * Opens an object (or, with `options.versionId`, that version of it) for streaming. Resolves
   * to `undefined` when the object or the version does not exist (a version survives a later
   * delete marker, so it still resolves); rejects on any other failure.
   */
  get(bucket: string, key: string, options?: GetOptions): Promise<StoredObject | undefined>;
  /** Writes a whole object, replacing any object of the same key. Large bodies use multipart upload where the adapter supports it. */
  put(bucket: string, key: string, body: Uint8Array | Readable, options: PutOptions): Promise<void>;
}
