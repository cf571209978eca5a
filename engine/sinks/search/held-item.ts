/**
 * What a search sink holds of one staged item (an S3 object) until the pipeline commits or aborts
 * it (docs/decisions/0056-search-staged-items-in-bounded-memory.md): each record's bulk operation,
 * with the meta and raw input a dead letter needs if the cluster refuses the document at commit.
 * Operations stay in memory up to `memoryBytes`, then all of them go, in order, to a temporary
 * file as gzip-compressed JSON lines (one array per operation), and are read back at commit.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGunzip, createGzip } from 'node:zlib';
import type { Gzip } from 'node:zlib';
import { messageOf } from '../../pipeline/outcome.ts';
import type { RecordMeta } from '../../pipeline/record.ts';
import type { ItemScope } from '../../plugin/types.ts';
import type { BulkAction, BulkOperation } from './request.ts';

/** One record of a staged item, as the sink holds it until commit. */
export interface HeldOperation {
  readonly operation: BulkOperation;
  /** The record's place in its item (`SinkEntry.ordinal`). */
  readonly ordinal: number;
  readonly meta: RecordMeta;
  readonly raw: Uint8Array;
}

/** Where held operations spill: a directory, and how a file is opened there (tests give one that refuses writes). */
export interface SpillSettings {
  directory: () => string;
  /** Operation bytes held in memory before the item spills to a file. */
  memoryBytes: number;
  open: (path: string) => Writable;
}

/**
 * The defaults: `os.tmpdir()` (Lambda's /tmp), 8 MiB of operations in memory (an object of up to
 * about 6 MiB of JSON lines never spills; docs/decisions/0063-search-spill-threshold-and-leftovers.md
 * gives the trade-off), a new file that must not exist.
 */
export const SPILL_MEMORY_BYTES = 8 * 1024 * 1024;
export const openSpillFile = (path: string): Writable => createWriteStream(path, { flags: 'wx' });

/** One spilled operation: action, versioned (0/1), key, bytes, text, record JSON when `text` does not hold it, ordinal, meta, raw as latin1. */
type SpilledLine = [BulkAction, 0 | 1, string | null, number, string, string | null, number, RecordMeta, string];

/** A spill file's name: the pid of the process that writes it, and a UUID. */
const SPILL_FILE = /^ingest-search-(\d+)-[0-9a-f-]{36}\.jsonl\.gz$/;

/** The spill files this process has opened and not yet removed: each is owned by a live item. */
const owned = new Set<string>();

/** Spilled lines are written to the gzip stream in chunks of about this many characters: one write per line costs a thread-pool round trip each. */
const CHUNK_CHARACTERS = 64 * 1024;

/** How much may wait for the gzip stream before records wait for it. */
const MAX_QUEUED_BYTES = 1024 * 1024;

interface Spill {
  readonly path: string;
  readonly gzip: Gzip;
  /** Lines not yet written to `gzip`. */
  chunk: string;
  /** Settles once the file is written (or failed) and leftovers beside it are removed; never rejects. */
  readonly written: Promise<void>;
}

export class HeldItem {
  private memory: HeldOperation[] = [];
  private memoryBytes = 0;
  private spill: Spill | undefined;
  /** The writing of the operations held in memory to the file, once the item spills; `memory` is its queue until it is done. */
  private flushing: Promise<void> | undefined;
  /** Why the item's operations could not be kept: `commit` fails the item with it. */
  private problem: string | undefined;

  constructor(
    readonly scope: ItemScope,
    private readonly settings: SpillSettings,
  ) {}

  /** Holds one operation; returns a promise when the file is behind (back-pressure). */
  add(held: HeldOperation): Promise<void> | void {
    if (this.problem !== undefined) return; // the item fails at commit; nothing more is kept of it
    if (this.spill === undefined) {
      this.memory.push(held);
      this.memoryBytes += held.operation.bytes;
      if (this.memoryBytes < this.settings.memoryBytes) return;
      this.spill = this.startSpill();
      return (this.flushing = this.flush());
    }
    if (this.memory.length > 0) {
      this.memory.push(held); // behind the flush, in order
      return this.flushing;
    }
    return this.write(held) ? undefined : this.drained();
  }

  /**
   * Hands every held operation, in order, to `push` (which returns a promise when it must wait),
   * then removes the file. Rejects, with a reason for the item's failure, when the operations
   * could not be kept or read back; the file is removed then too.
   */
  async replay(push: (held: HeldOperation) => Promise<void> | void): Promise<void> {
    const { spill } = this;
    if (spill === undefined) {
      for (const held of this.memory) await push(held);
      this.memory = [];
      return;
    }
    const gunzip = createGunzip();
    try {
      await this.flushing;
      if (!spill.gzip.destroyed) spill.gzip.end(spill.chunk);
      await spill.written;
      if (this.problem !== undefined) throw new Error(this.problem);
      const input = createReadStream(spill.path);
      // Errors of the file or of the gunzip stream reach the line iterator through `gunzip`.
      const reading = pipeline(input, gunzip).catch((error: unknown) => {
        this.problem ??= `the documents of the item spilled to ${spill.path} could not be read back: ${messageOf(error)}`;
      });
      for await (const line of createInterface({ input: gunzip, crlfDelay: Infinity })) {
        const pending = push(revive(JSON.parse(line) as SpilledLine));
        if (pending) await pending;
      }
      await reading;
      if (this.problem !== undefined) throw new Error(this.problem);
    } finally {
      gunzip.destroy(); // and with it the file, when reading stopped early
      await this.discard();
    }
  }

  /** Drops what is held and removes the file, if any; never rejects. */
  async discard(): Promise<void> {
    this.memory = [];
    const { spill } = this;
    if (spill === undefined) return;
    this.spill = undefined;
    spill.gzip.destroy();
    await spill.written;
    await rm(spill.path, { force: true }).catch(() => {});
    owned.delete(spill.path);
  }

  private startSpill(): Spill {
    const directory = this.settings.directory();
    const path = join(directory, `ingest-search-${process.pid}-${randomUUID()}.jsonl.gz`);
    owned.add(path);
    const gzip = createGzip({ level: constants.Z_BEST_SPEED });
    const writing = pipeline(gzip, this.settings.open(path)).catch((error: unknown) => {
      // ENOSPC when /tmp is full: the item is retried, perhaps once other items freed space.
      const full = (error as NodeJS.ErrnoException).code === 'ENOSPC' ? ' (/tmp is full: raise runtime.ephemeral_storage_mb, or send smaller objects)' : '';
      this.problem ??= `the documents of the item could not be spilled to ${path}: ${messageOf(error)}; the item is retried${full}`;
    });
    const written = Promise.all([writing, removeLeftovers(directory)]).then(() => {});
    return { path, gzip, chunk: '', written };
  }

  /**
   * Writes the operations held in memory to the file, in order, waiting for the file when it is
   * behind: written at once, the whole threshold's worth would queue for the gzip stream, and
   * peak memory would hold it twice.
   */
  private async flush(): Promise<void> {
    for (let at = 0; at < this.memory.length; at++) if (!this.write(this.memory[at]!)) await this.drained();
    this.memory = [];
    this.memoryBytes = 0;
  }

  /** Writes one operation to the file; false when the file is behind. */
  private write({ operation, ordinal, meta, raw }: HeldOperation): boolean {
    const spill = this.spill!;
    if (spill.gzip.destroyed) return true;
    const line: SpilledLine = [
      operation.action,
      operation.versioned ? 1 : 0,
      operation.key ?? null,
      operation.bytes,
      operation.text,
      holdsRecord(operation.action) ? null : operation.recordJson,
      ordinal,
      meta,
      Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1'),
    ];
    spill.chunk += JSON.stringify(line) + '\n';
    if (spill.chunk.length < CHUNK_CHARACTERS) return true;
    const chunk = spill.chunk;
    spill.chunk = '';
    spill.gzip.write(chunk);
    // Past its high-water mark (16 KiB, less than a chunk) the stream asks to wait after every
    // chunk, and records would wait for the thread pool to compress each one: a few chunks may
    // queue while it does ('drain' still comes, as the stream is past its mark).
    return spill.gzip.writableLength < MAX_QUEUED_BYTES;
  }

  /** Resolves once the file takes more, or failed (then `problem` says why). */
  private drained(): Promise<void> {
    const { gzip } = this.spill!;
    return new Promise((resolve) => {
      const done = () => {
        gzip.off('drain', done);
        gzip.off('close', done);
        resolve();
      };
      gzip.on('drain', done);
      gzip.on('close', done);
    });
  }
}

/**
 * Removes the spill files in `directory` that no live item owns: those named with this process's
 * pid that it did not open (left by an earlier process with the same pid: Lambda restarts its
 * runtime after a timeout or crash, in the same /tmp), and those of processes that no longer run.
 * Files of another running process are left alone. Never rejects.
 */
async function removeLeftovers(directory: string): Promise<void> {
  const names = await readdir(directory).catch(() => [] as string[]);
  await Promise.all(
    names.map(async (name) => {
      const pid = Number(SPILL_FILE.exec(name)?.[1] ?? NaN);
      const path = join(directory, name);
      if (Number.isNaN(pid) || owned.has(path) || (pid !== process.pid && running(pid))) return;
      await rm(path, { force: true }).catch(() => {});
    }),
  );
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Index and create operations carry the record itself as their source line. */
function holdsRecord(action: BulkAction): boolean {
  return action === 'index' || action === 'create';
}

function revive([action, versioned, key, bytes, text, recordJson, ordinal, meta, raw]: SpilledLine): HeldOperation {
  const operation: BulkOperation = {
    action,
    text,
    bytes,
    key: key ?? undefined,
    versioned: versioned === 1,
    // The source line: after the action line, without its final newline.
    recordJson: recordJson ?? text.slice(text.indexOf('\n') + 1, -1),
  };
  return { operation, ordinal, meta, raw: Buffer.from(raw, 'latin1') };
}
