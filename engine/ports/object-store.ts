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

/**
 * An object uploaded but not yet visible under its key (in S3, a multipart upload not yet
 * completed). The owner calls exactly one of `publish` (the object appears, whole) or `discard`
 * (it never appears and no parts are left behind), once.
 */
export interface StagedObject {
  publish(): Promise<void>;
  discard(): Promise<void>;
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
  /**
   * Uploads a whole object without making it visible, for output that may appear only once its
   * input has been read completely (docs/decisions/0010-item-commit-point.md). The body is no
   * longer needed once the promise resolves. Rejects like `put`, leaving nothing behind.
   */
  stage(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<StagedObject>;
}
