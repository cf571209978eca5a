import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { CompiledTemplate } from '../template/index.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Ticket } from '../plugin/types.ts';
import type { FailureCode, RecordMeta, RecordValue, Stage } from './record.ts';

/** One record that could not be processed, as written to the dead-letter location (one JSON line each). */
export interface DeadLetter {
  stage: Stage;
  code: FailureCode;
  message: string;
  /** The component where it failed: a source, transform or sink id. */
  component: string;
  source: string;
  position: string;
  meta: RecordMeta;
  raw: Uint8Array;
  /** The record as far as it got, when it got past decoding. */
  record?: RecordValue;
}

/** Where dead letters go. Every ticket is settled once the letter is durably stored, or failed. */
export interface DeadLetterWriter {
  add(letter: DeadLetter, ticket: Ticket): Promise<void> | void;
  close(): Promise<void>;
}

/** Flush bounds, so a source full of bad records keeps memory bounded. */
const MAX_LETTERS_PER_OBJECT = 1000;
const MAX_BYTES_PER_OBJECT = 8 * 1024 * 1024;

export function serializeDeadLetter(letter: DeadLetter, time: Date): string {
  const raw = Buffer.from(letter.raw.buffer, letter.raw.byteOffset, letter.raw.byteLength);
  const text = isUtf8(raw);
  return JSON.stringify({
    time: time.toISOString(),
    stage: letter.stage,
    code: letter.code,
    message: letter.message,
    component: letter.component,
    source: letter.source,
    position: letter.position,
    meta: letter.meta,
    raw_encoding: text ? 'utf8' : 'base64',
    raw: raw.toString(text ? 'utf8' : 'base64'),
    record: letter.record,
  });
}

/**
 * Writes dead letters as JSON lines to `bucket` under the rendered `prefix` template (context:
 * `stage`, `now`, `meta`). Object keys derive from the positions of the letters they hold, so a
 * retried invocation rewrites the same objects instead of adding copies.
 */
export class StoreDeadLetterWriter implements DeadLetterWriter {
  private readonly groups = new Map<string, { lines: string[]; tickets: Ticket[]; positions: ReturnType<typeof createHash>; bytes: number; source: string }>();
  /** Writes started by `add` (a full group), which `close` waits for: a sink may dead-letter without awaiting. */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly bucket: string,
    private readonly prefix: CompiledTemplate,
    private readonly now: Date,
  ) {}

  async add(letter: DeadLetter, ticket: Ticket): Promise<void> {
    let prefix: string;
    try {
      prefix = this.prefix({ stage: letter.stage, now: this.now, meta: letter.meta });
    } catch (error) {
      ticket.failed({ code: 'sink-error', message: `dead-letter prefix does not render: ${(error as Error).message}`, retryable: true });
      return;
    }
    let group = this.groups.get(prefix);
    if (!group) {
      group = { lines: [], tickets: [], positions: createHash('sha256'), bytes: 0, source: letter.source };
      this.groups.set(prefix, group);
    }
    const line = serializeDeadLetter(letter, this.now);
    group.lines.push(line);
    group.tickets.push(ticket);
    group.positions.update(`${letter.stage}\0${letter.position}\0`);
    group.bytes += line.length + 1;
    if (group.lines.length >= MAX_LETTERS_PER_OBJECT || group.bytes >= MAX_BYTES_PER_OBJECT) {
      const write = this.flush(prefix);
      this.writing.add(write);
      await write;
      this.writing.delete(write);
    }
  }

  async close(): Promise<void> {
    for (const prefix of [...this.groups.keys()]) await this.flush(prefix);
    await Promise.all(this.writing);
  }

  private async flush(prefix: string): Promise<void> {
    const group = this.groups.get(prefix);
    if (!group) return;
    this.groups.delete(prefix);
    const digest = group.positions.digest('hex').slice(0, 20);
    const key = `${prefix}${group.source}-${digest}-${group.lines.length}.jsonl`;
    try {
      await this.store.put(this.bucket, key, Buffer.from(group.lines.join('\n') + '\n'), { contentType: 'application/x-ndjson' });
      for (const ticket of group.tickets) ticket.written();
    } catch (error) {
      const message = `dead letters could not be written to s3://${this.bucket}/${key}: ${(error as Error).message}`;
      for (const ticket of group.tickets) ticket.failed({ code: 'sink-error', message, retryable: true });
    }
  }
}

/** Keeps dead letters in memory: `ingest test` compares them with `expect_dead_letter`. */
export class CapturingDeadLetterWriter implements DeadLetterWriter {
  readonly letters: DeadLetter[] = [];

  add(letter: DeadLetter, ticket: Ticket): void {
    this.letters.push(letter);
    ticket.written();
  }

  async close(): Promise<void> {}
}

/**
 * Used when a spec declares no `dead_letter`: there is nowhere to put a bad record, so it is
 * reported as failed (retried, and logged by the pipeline) rather than dropped.
 */
export class MissingDeadLetterWriter implements DeadLetterWriter {
  add(letter: DeadLetter, ticket: Ticket): void {
    ticket.failed({ code: letter.code, message: `${letter.message} (no dead_letter location is configured, so the record is retried)`, retryable: true });
  }

  async close(): Promise<void> {}
}
