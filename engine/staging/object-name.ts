/**
 * Names of the objects the S3 sink writes, derived from the identity of the records they hold so
 * that a retried invocation rewrites the same keys. See docs/decisions/0007-s3-object-names.md.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { RecordMeta } from '../pipeline/record.ts';

/** S3's limit on the length of a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

const MAX_SOURCE_CHARS = 64;
const MAX_POSITION_CHARS = 96;
const DIGEST_CHARS = 16;
/** The longest suffix a format and compression produce (`.jsonl.gz`), with room to spare. */
const MAX_SUFFIX_CHARS = 16;
const MAX_COUNT_CHARS = 16;

/** The longest object name (the part after the prefix), in bytes: all of it is ASCII. */
export const MAX_NAME_BYTES = MAX_SOURCE_CHARS + 1 + MAX_POSITION_CHARS + 1 + DIGEST_CHARS + 1 + MAX_COUNT_CHARS + MAX_SUFFIX_CHARS;

/** The longest rendered prefix that still leaves room for any object name within `MAX_KEY_BYTES`. */
export const MAX_PREFIX_BYTES = MAX_KEY_BYTES - MAX_NAME_BYTES;

/** Characters of identities gathered before they are hashed: few native calls, and no per-record strings kept for a whole object. */
const HASH_CHUNK_CHARS = 64 * 1024;

// Letters, digits, `-` and `_` need no URL encoding and carry no meaning in S3 or in shells; `.`
// is kept for the suffix alone and `/` for the prefix alone.
const UNSAFE = /[^A-Za-z0-9_-]/g;

/**
 * The identity of one object's records, accumulated in write order. Feeds the object's name:
 * `<source>-<first position>-<digest>-<count><suffix>`, where the digest covers the sink id and
 * the source, position and fan-out ordinal of every record, and the first position is kept readable (unsafe
 * characters become `_`, long ones keep their end, which holds the sequence or line number).
 */
export class ObjectIdentity {
  private readonly hash: Hash;
  private first: RecordMeta | undefined;
  private records = 0;
  /**
   * Sources and positions not hashed yet, in order, the first `pendingCount` entries: the digest
   * covers all identities joined by `\0`. An array joined once per chunk rather than a string
   * grown per record, where each `+` made a string object that lived until the chunk was hashed;
   * it keeps its length across chunks, so that it grows once per object.
   */
  private readonly pending: string[] = [];
  private pendingCount = 0;
  private pendingChars = 0;

  constructor(sinkId: string) {
    this.hash = createHash('sha256').update(`${sinkId}\0`);
  }

  /**
   * Adds the next record of the object. `ordinal` tells apart the records one input record became
   * (explode, fan-out), which share its source and position: without it two objects holding
   * different records of one input would get one name, and the second would overwrite the first.
   */
  add(meta: RecordMeta, ordinal: number): void {
    this.first ??= meta;
    // Ordinal 0 adds nothing, so objects of records that were not fanned out keep their names.
    const position = ordinal === 0 ? meta.position : `${meta.position}#${ordinal}`;
    this.pending[this.pendingCount++] = meta.source;
    this.pending[this.pendingCount++] = position;
    this.pendingChars += meta.source.length + position.length;
    this.records++;
    // Hashed in chunks: a native call per record costs more than the digest.
    if (this.pendingChars >= HASH_CHUNK_CHARS) {
      this.hash.update(this.takePending());
      // The next chunk starts with the `\0` that separates it from this one.
      this.pending[this.pendingCount++] = '';
    }
  }

  /** The pending identities joined, and none pending any more. */
  private takePending(): string {
    const text = this.pending.slice(0, this.pendingCount).join('\0');
    this.pendingCount = 0;
    this.pendingChars = 0;
    return text;
  }

  /** The object's name, to append to its prefix. Call once, after the last `add`. */
  name(suffix: string): string {
    const source = readable(this.first?.source ?? 'empty', MAX_SOURCE_CHARS);
    const position = readable(this.first?.position ?? '', MAX_POSITION_CHARS);
    const digest = this.hash.update(this.takePending()).digest('hex').slice(0, DIGEST_CHARS);
    this.pending.length = 0;
    return `${source}-${position}-${digest}-${this.records}${suffix}`;
  }
}

function readable(text: string, limit: number): string {
  const safe = text.replace(UNSAFE, '_');
  return safe.length > limit ? safe.slice(safe.length - limit) : safe;
}
