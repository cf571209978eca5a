import { Readable, pipeline } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import type { StoredObject } from '../../ports/object-store.ts';
import type { S3SourceConfig } from './config.ts';

/** Why reading an object stopped before its end. Thrown by {@link objectBytes}. */
export class ObjectReadError extends Error {
  override name = 'ObjectReadError';
  constructor(
    readonly code: 'invalid-gzip' | 'truncated-object',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Decompressed chunk size: zlib's default of 16 KiB makes a large object cost a round trip to
 * the thread pool, and one more step through the line splitter, per 16 KiB.
 */
const GUNZIP_CHUNK_BYTES = 64 * 1024;

/**
 * Decompressed bytes gunzip may hold ahead of the reader: the thread pool inflates the next
 * chunks while the records of the last one are routed. With the stream's default (16 KiB, less
 * than a chunk) it inflated a chunk only once the one before was taken, and the reader waited.
 */
const GUNZIP_READ_AHEAD_BYTES = 4 * GUNZIP_CHUNK_BYTES;

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * The content of an object as a lazy sequence of byte chunks, gunzipped as `compression`
 * says (`auto`: when the object starts with the gzip magic bytes 1f 8b). Nothing is read ahead
 * beyond one chunk, and for gzip `GUNZIP_READ_AHEAD_BYTES` of decompressed bytes; stopping the
 * iteration early destroys the body, releasing the connection.
 *
 * Throws {@link ObjectReadError} when the content stops short: `truncated-object` when the body
 * stream fails or ends before the size the store announced, `invalid-gzip` when the gzip data
 * is corrupt or ends before its end marker. Chunks already yielded were good.
 */
export async function* objectBytes(stored: StoredObject, compression: S3SourceConfig['compression']): AsyncGenerator<Uint8Array, void, undefined> {
  const progress = { compressedBytes: 0, sourceError: undefined as unknown };
  const source = sourceChunks(stored.body, progress);
  const head: Uint8Array[] = [];
  let headBytes = 0;
  try {
    // Two bytes tell gzip apart; a first chunk that short is rare but legal.
    while (headBytes < 2) {
      const next = await source.next();
      if (next.done) break;
      head.push(next.value);
      headBytes += next.value.byteLength;
    }
    const gzip = compression === 'gzip' || (compression === 'auto' && startsWithGzipMagic(head));
    if (!gzip) {
      yield* head;
      yield* source;
      checkComplete(stored, progress.compressedBytes);
      return;
    }
    yield* gunzip(head, source, stored, progress);
  } catch (error) {
    if (error instanceof ObjectReadError) throw error;
    if (progress.sourceError !== undefined) throw truncated(stored, progress.compressedBytes, progress.sourceError);
    throw error;
  } finally {
    stored.body.destroy();
  }
}

async function* gunzip(
  head: Uint8Array[],
  source: AsyncGenerator<Uint8Array>,
  stored: StoredObject,
  progress: { compressedBytes: number; sourceError: unknown },
): AsyncGenerator<Uint8Array> {
  // zlib streams hand stream options to their Transform; @types/node leaves them out of ZlibOptions.
  const gunzipper = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES, readableHighWaterMark: GUNZIP_READ_AHEAD_BYTES } as ZlibOptions);
  const compressed = Readable.from((async function* () {
    yield* head;
    yield* source;
  })());
  // The callback only keeps pipeline from leaving an unhandled error: iteration below rethrows it.
  const output = pipeline(compressed, gunzipper, () => {});
  let decompressedBytes = 0;
  try {
    for await (const chunk of output) {
      const bytes = chunk as Buffer;
      decompressedBytes += bytes.byteLength;
      yield bytes;
    }
  } catch (error) {
    if (progress.sourceError !== undefined) throw truncated(stored, progress.compressedBytes, progress.sourceError);
    if (stored.size !== undefined && progress.compressedBytes < stored.size) throw truncated(stored, progress.compressedBytes, error);
    const reason = (error as Error).message === 'unexpected end of file' ? 'ends before its end marker' : `is corrupt (${(error as Error).message})`;
    throw new ObjectReadError('invalid-gzip', `gzip data ${reason} after ${decompressedBytes} decompressed bytes`, { cause: error });
  } finally {
    compressed.destroy();
    gunzipper.destroy();
  }
  checkComplete(stored, progress.compressedBytes);
}

async function* sourceChunks(body: Readable, progress: { compressedBytes: number; sourceError: unknown }): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      progress.compressedBytes += bytes.byteLength;
      yield bytes;
    }
  } catch (error) {
    progress.sourceError = error;
    throw error;
  }
}

function startsWithGzipMagic(head: Uint8Array[]): boolean {
  const bytes = head.length === 1 ? head[0]! : Buffer.concat(head);
  return bytes !== undefined && bytes.byteLength >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

function checkComplete(stored: StoredObject, bytesRead: number): void {
  if (stored.size !== undefined && bytesRead < stored.size) {
    throw new ObjectReadError('truncated-object', `the object ended after ${bytesRead} of its ${stored.size} bytes`);
  }
}

function truncated(stored: StoredObject, bytesRead: number, cause: unknown): ObjectReadError {
  const of = stored.size === undefined ? '' : ` of its ${stored.size}`;
  return new ObjectReadError('truncated-object', `reading the object failed after ${bytesRead}${of} bytes: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}
