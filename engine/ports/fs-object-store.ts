import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StagedObject } from './object-store.ts';
import type { GetOptions, ObjectStore, PutOptions, StoredObject } from './object-store.ts';

/** Where `ingest run --local` keeps objects unless told otherwise. */
export const DEFAULT_FS_OBJECT_ROOT = '.ingest/s3';

/** A bucket name or key the filesystem layout cannot hold safely. */
export class InvalidObjectPathError extends Error {
  override name = 'InvalidObjectPathError';
}

/**
 * An `ObjectStore` on the local filesystem for `ingest run --local`: object `<bucket>/<key>`
 * is the file `<root>/<bucket>/<key>`, so users can drop input files in and read output with
 * ordinary tools. Content type and encoding are not kept (nothing reads them back: decoders
 * detect gzip by its magic bytes). A file has one version: `get` reads it whatever version an
 * event names, so sample events with version ids run against local files.
 *
 * Keys that would not map to one distinct file are refused with {@link InvalidObjectPathError}:
 * empty, `.` or `..` segments (which could escape the root), a leading or trailing `/`, `//`,
 * and NUL. A key that is both an object and a "folder" of another (`a` and `a/b`) cannot be
 * stored either: the second `put` rejects with the filesystem's error.
 *
 * `put` writes a temporary file beside the target and renames it, so readers never see a
 * partial object. The ETag is weak (size and modification time), not an MD5 of the content.
 */
export class FsObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string = DEFAULT_FS_OBJECT_ROOT) {
    this.root = resolve(root);
  }

  /** The file that holds an object. Throws {@link InvalidObjectPathError} for names it refuses. */
  pathOf(bucket: string, key: string): string {
    if (bucket === '' || bucket === '.' || bucket === '..' || /[/\\\0]/.test(bucket)) {
      throw new InvalidObjectPathError(`bucket name ${JSON.stringify(bucket)} cannot be a directory name`);
    }
    if (key === '' || key.includes('\0')) throw new InvalidObjectPathError(`object key ${JSON.stringify(key)} is empty or holds NUL`);
    const segments = key.split('/');
    if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
      throw new InvalidObjectPathError(
        `object key ${JSON.stringify(key)} has an empty, "." or ".." segment and has no file of its own under ${this.root}`,
      );
    }
    const bucketDirectory = join(this.root, bucket);
    const path = join(bucketDirectory, ...segments);
    // Defence in depth: the checks above already keep every key inside its bucket.
    if (!path.startsWith(bucketDirectory + sep)) throw new InvalidObjectPathError(`object key ${JSON.stringify(key)} escapes ${bucketDirectory}`);
    return path;
  }

  async get(bucket: string, key: string, _options?: GetOptions): Promise<StoredObject | undefined> {
    const path = this.pathOf(bucket, key);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return undefined;
      }
      const body = createReadStream('', { fd: handle, autoClose: true });
      return { body, size: stats.size, etag: `"${stats.size.toString(16)}-${Math.trunc(stats.mtimeMs).toString(16)}"` };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async put(bucket: string, key: string, body: Uint8Array | Readable, _options: PutOptions): Promise<void> {
    const path = this.pathOf(bucket, key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = join(dirname(path), `.ingest-tmp-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(body instanceof Uint8Array ? Readable.from([body]) : body, createWriteStream(temporary, { flags: 'wx' }));
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  /** Writes a temporary file beside the target: `publish` renames it into place, `discard` removes it. */
  async stage(bucket: string, key: string, body: Uint8Array, _options: PutOptions): Promise<StagedObject> {
    const path = this.pathOf(bucket, key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = join(dirname(path), `.ingest-tmp-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(Readable.from([body]), createWriteStream(temporary, { flags: 'wx' }));
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return {
      publish: () => rename(temporary, path),
      discard: () => rm(temporary, { force: true }),
    };
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  // ENOTDIR: a parent of the path is a file, so the object cannot exist.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
