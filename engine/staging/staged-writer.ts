/**
 * Staged files of a warehouse sink, built row by row (docs/decisions/0031-exactly-once-warehouse-loads.md,
 * sections 1, 2 and 7). Rows are encoded as they arrive into the body of their *group*'s open
 * file (a stream shard's records, or one S3 object's), so no record is held as an object, and the
 * body is gzip-compressed as it grows (`GzipObjectBody`), so an open file holds its compressed
 * bytes rather than its rows; a file is cut when it reaches `maxRecords` rows or `maxBytes`
 * uncompressed bytes.
 *
 * A group's rows arrive in position order, so every file holds a contiguous stretch of each
 * partition it touches: what the loaded ranges of the load transaction rely on. Each row carries
 * its file's id (the first row's position and sub-position).
 *
 * Files are named after the records they hold (`ObjectIdentity`, docs/decisions/0007-s3-object-names.md):
 * the same records staged again get the same name and the same bytes. When only part of a file
 * may be registered (its later items will be delivered again), {@link settledRuns} gives the
 * parts to register and {@link StagingFile.runObject} rewrites one under its own name.
 */
import type { RecordMeta, RecordValue } from '../pipeline/record.ts';
import type { ItemScope } from '../plugin/types.ts';
import { GzipObjectBody } from './encode.ts';
import { ObjectIdentity } from './object-name.ts';
import type { StagedIdentity } from './record-identity.ts';
import { stagedFileId } from './staged-row.ts';
import type { StagedRowEncoder, StagedRowFormat } from './staged-row.ts';

export interface StagedWriterOptions {
  /** The sink's id: part of every file name's digest. */
  sinkId: string;
  format: StagedRowFormat;
  /** Most rows in one file. */
  maxRecords: number;
  /** Most uncompressed bytes in one file; a single larger row makes a file of its own. */
  maxBytes: number;
}

/** A row to stage, with what the caller wants back with its file (its ticket). */
export interface StagedRowInput<Tag> {
  record: RecordValue;
  meta: RecordMeta;
  identity: StagedIdentity;
  item: ItemScope;
  /** Absent when the caller settled the row itself (a staged item's): the file then keeps nothing per row for it. */
  tag?: Tag;
  /**
   * Whether the file may later be rewritten with part of its rows (it holds stream items, of
   * which a later part may be delivered again). Such files keep each row's meta and end offset
   * (small, and bounded by the Lambda event); files of one S3 object are registered whole or not
   * at all and keep neither.
   */
  rewritable: boolean;
}

/** Consecutive rows of one batch item in a file. */
export interface FileSegment {
  readonly item: ItemScope;
  /** Index of the segment's first row in the file. */
  readonly start: number;
  records: number;
  /** The file id its first row would give a file starting there. */
  readonly firstId: string;
}

/** Consecutive segments of a file that are registered together. */
export interface FileRun {
  readonly segments: readonly FileSegment[];
  /** Whether the run is the whole file (nothing to rewrite). */
  readonly whole: boolean;
}

/** One staged file, open while rows join it, then closed and named. */
export class StagingFile<Tag> {
  readonly segments: FileSegment[] = [];
  /** The caller's tag of each row that has one, in row order, until {@link releaseTags}. */
  readonly tags: Tag[] = [];
  /** Set with the first row. */
  id = '';
  private body: GzipObjectBody | undefined = new GzipObjectBody();
  /** The rows' bytes before compression: so far while the file is rewritable (each row's end offset), and once its body is taken. */
  private bytes = 0;
  /** The rows' size before compression, so far. */
  get dataBytes(): number {
    return this.byteLength;
  }
  private rows = 0;
  private readonly identity: ObjectIdentity;
  private readonly encode: StagedRowEncoder;
  /** Kept only when rewritable: each row's meta (for a rewrite's name) and end offset in the body. */
  /** Each row's meta and fan-out ordinal, which name a rewritten run. */
  private readonly metas: [RecordMeta, number][] | undefined;
  private readonly rowEnds: number[] | undefined;

  constructor(
    readonly group: string,
    /** Creation order, across groups. */
    readonly sequence: number,
    private readonly options: StagedWriterOptions,
    rewritable: boolean,
  ) {
    this.identity = new ObjectIdentity(options.sinkId);
    this.encode = options.format.begin();
    this.metas = rewritable ? [] : undefined;
    this.rowEnds = rewritable ? [] : undefined;
  }

  get records(): number {
    return this.rows;
  }

  /** Lets go of the tags once the caller has used them (a large S3 object's tickets need not live until `settle`). */
  releaseTags(): void {
    this.tags.length = 0;
  }

  /** Uncompressed size in bytes. */
  get byteLength(): number {
    return this.body?.byteLength ?? this.bytes;
  }

  /** Whether appending `text` makes the file larger than `maxBytes` (see `ObjectBody.wouldExceed`). */
  wouldExceed(text: string, maxBytes: number): boolean {
    return this.openBody().wouldExceed(text, maxBytes);
  }

  /** Whether the file holds `maxBytes` or more (see `ObjectBody.reaches`). */
  reaches(maxBytes: number): boolean {
    return this.openBody().reaches(maxBytes);
  }

  /** Whether the file keeps what {@link runObject} needs. */
  get rewritable(): boolean {
    return this.rowEnds !== undefined;
  }

  /** The bytes to store, gzip-compressed, once: the file lets go of its body, so only its row bookkeeping stays in memory. */
  compressedBody(): Promise<Buffer> {
    if (this.body === undefined) throw new TypeError(`the body of staged file ${this.id} was already taken`);
    const body = this.body;
    this.bytes = body.byteLength;
    this.body = undefined;
    return body.finish();
  }

  /** Lets go of the body unstored (its item was aborted). */
  discard(): void {
    this.body?.discard();
    this.body = undefined;
  }

  /** The row's text in this file. Throws when the record cannot be encoded. */
  encodeRow(input: StagedRowInput<Tag>): string {
    return this.encode(input.record, input.identity, this.records === 0 ? stagedFileId(input.identity) : this.id);
  }

  /** Appends a row encoded by {@link encodeRow}. */
  append(input: StagedRowInput<Tag>, text: string): void {
    const firstId = stagedFileId(input.identity);
    if (this.records === 0) this.id = firstId;
    const last = this.segments.at(-1);
    if (last !== undefined && last.item.index === input.item.index) last.records++;
    else this.segments.push({ item: input.item, start: this.records, records: 1, firstId });
    const body = this.openBody();
    // A row's end offset needs its bytes now; the rows of other files are encoded in pieces (ObjectBody.defer).
    if (this.rowEnds === undefined) body.defer(text);
    else this.bytes += body.append(text);
    const ordinal = fanOutOrdinal(input.identity);
    this.identity.add(input.meta, ordinal);
    if (input.tag !== undefined) this.tags.push(input.tag);
    this.rows++;
    this.metas?.push([input.meta, ordinal]);
    this.rowEnds?.push(this.bytes);
  }

  private openBody(): GzipObjectBody {
    if (this.body === undefined) throw new TypeError(`staged file ${this.id} was closed`);
    return this.body;
  }

  /** The file's name (`ObjectIdentity`) with `suffix`. Call once, when the file is closed. */
  name(suffix: string): string {
    return this.identity.name(suffix);
  }

  /**
   * The uncompressed bytes and name of a run of this file: the rows of its segments, moved to a
   * file of their own (their file id becomes the run's first row's). Needs a rewritable file and
   * its `body`, uncompressed.
   */
  runObject(run: FileRun, body: Buffer, suffix: string): { name: string; body: Buffer; records: number } {
    const { metas, rowEnds } = this;
    if (metas === undefined || rowEnds === undefined) throw new TypeError(`staged file ${this.id} was not kept rewritable`);
    const identity = new ObjectIdentity(this.options.sinkId);
    const id = run.segments[0]!.firstId;
    const parts: Buffer[] = [];
    let records = 0;
    for (const segment of run.segments) {
      for (let row = segment.start; row < segment.start + segment.records; row++) {
        const text = body.subarray(row === 0 ? 0 : rowEnds[row - 1]!, rowEnds[row]!).toString('utf8');
        parts.push(Buffer.from(id === this.id ? text : this.options.format.moveRow(text, this.id, id)));
        identity.add(...metas[row]!);
        records++;
      }
    }
    return { name: identity.name(suffix), body: Buffer.concat(parts), records };
  }
}

/**
 * The parts of `file` to register: maximal runs of consecutive segments whose items `keep`
 * accepts. On the happy path this is one whole run; a file straddling a stream's checkpoint gives
 * its settled head; a file of items that all come again gives none.
 */
export function settledRuns(file: StagingFile<unknown>, keep: (item: ItemScope) => boolean): FileRun[] {
  const runs: FileSegment[][] = [];
  let current: FileSegment[] | undefined;
  for (const segment of file.segments) {
    if (keep(segment.item)) {
      if (current === undefined) runs.push((current = []));
      current.push(segment);
    } else {
      current = undefined;
    }
  }
  return runs.map((segments) => ({ segments, whole: segments.length === file.segments.length }));
}

/**
 * The open files of one invocation, one per group. `add` returns the files that a row closed
 * (the one it filled, or the one it did not fit in); the caller names and writes them.
 */
export class StagedWriter<Tag> {
  private readonly open = new Map<string, StagingFile<Tag>>();
  private sequence = 0;

  constructor(private readonly options: StagedWriterOptions) {
    if (!Number.isSafeInteger(options.maxRecords) || options.maxRecords < 1) throw new RangeError(`maxRecords must be a positive integer, got ${options.maxRecords}`);
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer, got ${options.maxBytes}`);
  }

  /**
   * Encodes a row into `group`'s open file. Throws (staging nothing) when the record cannot be
   * encoded. Returns the files closed by this row, in order.
   */
  add(group: string, input: StagedRowInput<Tag>): StagingFile<Tag>[] {
    let file = this.open.get(group) ?? this.start(group, input.rewritable);
    let text = file.encodeRow(input);
    const closed: StagingFile<Tag>[] = [];
    if (file.records > 0 && file.wouldExceed(text, this.options.maxBytes)) {
      closed.push(this.closeGroup(group)!);
      file = this.start(group, input.rewritable);
      // Encoded again: the row now starts its file and carries its own id.
      text = file.encodeRow(input);
    }
    file.append(input, text);
    this.open.set(group, file);
    if (file.records >= this.options.maxRecords || file.reaches(this.options.maxBytes)) closed.push(this.closeGroup(group)!);
    return closed;
  }

  /** Closes `group`'s open file and returns it, or `undefined` when it has none. */
  closeGroup(group: string): StagingFile<Tag> | undefined {
    const file = this.open.get(group);
    this.open.delete(group);
    return file;
  }

  /** Closes every open file, in creation order. */
  closeAll(): StagingFile<Tag>[] {
    const files = [...this.open.values()].sort((a, b) => a.sequence - b.sequence);
    this.open.clear();
    return files;
  }

  private start(group: string, rewritable: boolean): StagingFile<Tag> {
    return new StagingFile<Tag>(group, this.sequence++, this.options, rewritable);
  }
}

/** Digits of the sink's ordinal at the end of a staged sub-position (record-identity.ts). */
const ORDINAL_DIGITS = 9;

/** The ordinal among the records the sink received from one input record (explode, fan-out): the sub-position's last digits. */
function fanOutOrdinal(identity: StagedIdentity): number {
  return Number(identity.subPosition.slice(-ORDINAL_DIGITS));
}
