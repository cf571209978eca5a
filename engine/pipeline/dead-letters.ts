import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { CompiledTemplate } from '../template/index.ts';
import type { ObjectStore, StagedObject } from '../ports/object-store.ts';
import { classifyStoreError } from '../ports/classify-store-error.ts';
import type { ItemScope, Ticket } from '../plugin/types.ts';
import { messageOf } from './outcome.ts';
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

/**
 * Where dead letters go. Every ticket is settled once the letter is durably stored, or failed.
 * Letters of a staged item (docs/decisions/0010-item-commit-point.md) become visible only when
 * the item is committed, and are dropped when it is aborted (their tickets then need not settle).
 */
export interface DeadLetterWriter {
  add(letter: DeadLetter, ticket: Ticket, item: ItemScope): Promise<void> | void;
  /** The item's records are final: its letters may be published. */
  commit(item: ItemScope): Promise<void> | void;
  /** The item was aborted: its letters are discarded unpublished. */
  abort(item: ItemScope): Promise<void> | void;
  close(): Promise<void>;
}

/** Flush bounds, so a source full of bad records keeps memory bounded. */
const MAX_LETTERS_PER_OBJECT = 1000;
const MAX_BYTES_PER_OBJECT = 8 * 1024 * 1024;

/**
 * One dead letter as a JSON line. A record that cannot be serialized (nested deeper than
 * `JSON.stringify` can follow, or holding a value JSON has no form for) is left out with the
 * reason in `record_error`: the letter still carries the raw input, so nothing is lost and the
 * record cannot fail its neighbours.
 */
export function serializeDeadLetter(letter: DeadLetter, time: Date): string {
  const raw = Buffer.from(letter.raw.buffer, letter.raw.byteOffset, letter.raw.byteLength);
  const text = isUtf8(raw);
  const fields = {
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
  };
  if (letter.record === undefined) return JSON.stringify(fields);
  try {
    return JSON.stringify({ ...fields, record: letter.record });
  } catch (error) {
    return JSON.stringify({ ...fields, record_error: `the record could not be serialized (${messageOf(error)}); raw holds its input` });
  }
}

interface LetterGroup {
  lines: string[];
  tickets: Ticket[];
  positions: ReturnType<typeof createHash>;
  bytes: number;
  source: string;
}

/** A full group of a staged item, uploaded but not visible until the item commits. */
interface StagedGroup {
  staged: Promise<StagedObject | undefined>;
  tickets: Ticket[];
  key: string;
}

/**
 * Writes dead letters as JSON lines to `bucket` under the rendered `prefix` template (context:
 * `stage`, `now`, `meta`). Object keys derive from the positions of the letters they hold, so a
 * retried invocation rewrites the same objects instead of adding copies. Letters of a staged
 * item are grouped apart from others' and written when the item commits (a group that fills
 * before is uploaded unpublished), so an item's dead letters land in objects of their own.
 */
export class StoreDeadLetterWriter implements DeadLetterWriter {
  private readonly groups = new Map<string, LetterGroup>();
  /** Letters of staged items not committed yet, by item and prefix. */
  private readonly held = new Map<number, { groups: Map<string, LetterGroup>; staged: StagedGroup[] }>();
  /** Writes started by `add` (a full group) or `commit`, which `close` waits for: a sink may dead-letter without awaiting. */
  private readonly writing = new Set<Promise<void>>();
  /** The input record of the last letter, and how many letters of it came before: its ordinal. */
  private lastMeta: RecordMeta | undefined;
  private ordinal = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly bucket: string,
    private readonly prefix: CompiledTemplate,
    private readonly now: Date,
  ) {}

  async add(letter: DeadLetter, ticket: Ticket, item: ItemScope): Promise<void> {
    // Letters of one input record (its exploded or fanned-out records) arrive one after another
    // and share its position: the ordinal keeps two objects of them from sharing a name.
    this.ordinal = letter.meta === this.lastMeta ? this.ordinal + 1 : 0;
    this.lastMeta = letter.meta;
    const ordinal = this.ordinal;
    let prefix: string;
    try {
      prefix = this.prefix({ stage: letter.stage, now: this.now, meta: letter.meta });
    } catch (error) {
      ticket.failed({ code: 'sink-error', message: `dead-letter prefix does not render: ${messageOf(error)}`, retryable: true });
      return;
    }
    const held = item.staged ? this.heldOf(item) : undefined;
    const groups = held?.groups ?? this.groups;
    let group = groups.get(prefix);
    if (!group) {
      group = { lines: [], tickets: [], positions: createHash('sha256'), bytes: 0, source: letter.source };
      groups.set(prefix, group);
    }
    const line = serializeDeadLetter(letter, this.now);
    group.lines.push(line);
    group.tickets.push(ticket);
    group.positions.update(ordinal === 0 ? `${letter.stage}\0${letter.position}\0` : `${letter.stage}\0${letter.position}#${ordinal}\0`);
    group.bytes += line.length + 1;
    if (group.lines.length < MAX_LETTERS_PER_OBJECT && group.bytes < MAX_BYTES_PER_OBJECT) return;
    groups.delete(prefix);
    if (held) {
      held.staged.push(this.stage(prefix, group));
      return;
    }
    await this.track(this.put(prefix, group));
  }

  commit(item: ItemScope): void {
    const held = this.held.get(item.index);
    if (!held) return;
    this.held.delete(item.index);
    for (const [prefix, group] of held.groups) void this.track(this.put(prefix, group));
    for (const staged of held.staged) void this.track(this.publish(staged));
  }

  async abort(item: ItemScope): Promise<void> {
    const held = this.held.get(item.index);
    if (!held) return;
    this.held.delete(item.index);
    await Promise.all(held.staged.map(async ({ staged }) => (await staged)?.discard().catch(() => {})));
  }

  async close(): Promise<void> {
    for (const prefix of [...this.groups.keys()]) {
      const group = this.groups.get(prefix)!;
      this.groups.delete(prefix);
      await this.put(prefix, group);
    }
    while (this.writing.size > 0) await Promise.all(this.writing);
  }

  private heldOf(item: ItemScope): { groups: Map<string, LetterGroup>; staged: StagedGroup[] } {
    let held = this.held.get(item.index);
    if (!held) {
      held = { groups: new Map(), staged: [] };
      this.held.set(item.index, held);
    }
    return held;
  }

  private track(write: Promise<void>): Promise<void> {
    this.writing.add(write);
    return write.finally(() => this.writing.delete(write));
  }

  private keyOf(prefix: string, group: LetterGroup): string {
    const digest = group.positions.digest('hex').slice(0, 20);
    return `${prefix}${group.source}-${digest}-${group.lines.length}.jsonl`;
  }

  private body(group: LetterGroup): Buffer {
    return Buffer.from(group.lines.join('\n') + '\n');
  }

  private async put(prefix: string, group: LetterGroup): Promise<void> {
    const key = this.keyOf(prefix, group);
    try {
      await this.store.put(this.bucket, key, this.body(group), { contentType: 'application/x-ndjson' });
      for (const ticket of group.tickets) ticket.written();
    } catch (error) {
      this.fail(group.tickets, key, error);
    }
  }

  private stage(prefix: string, group: LetterGroup): StagedGroup {
    const key = this.keyOf(prefix, group);
    const staged = this.store.stage(this.bucket, key, this.body(group), { contentType: 'application/x-ndjson' }).catch((error: unknown) => {
      this.fail(group.tickets, key, error);
      return undefined;
    });
    return { staged, tickets: group.tickets, key };
  }

  private async publish({ staged, tickets, key }: StagedGroup): Promise<void> {
    const object = await staged;
    if (object === undefined) return; // failed when staged; its tickets are settled
    try {
      await object.publish();
      for (const ticket of tickets) ticket.written();
    } catch (error) {
      await object.discard().catch(() => {});
      this.fail(tickets, key, error);
    }
  }

  private fail(tickets: Ticket[], key: string, error: unknown): void {
    const { reason } = classifyStoreError(error);
    const message = `dead letters could not be written to s3://${this.bucket}/${key}: ${reason}: ${messageOf(error)}`;
    for (const ticket of tickets) ticket.failed({ code: 'sink-error', message, retryable: true });
  }
}

/** Keeps dead letters in memory: `ingest test` compares them with `expect_dead_letter`. */
export class CapturingDeadLetterWriter implements DeadLetterWriter {
  readonly letters: DeadLetter[] = [];
  private readonly held = new Map<number, { letter: DeadLetter; ticket: Ticket }[]>();

  add(letter: DeadLetter, ticket: Ticket, item: ItemScope): void {
    if (item.staged) {
      const held = this.held.get(item.index) ?? [];
      held.push({ letter, ticket });
      this.held.set(item.index, held);
      return;
    }
    this.letters.push(letter);
    ticket.written();
  }

  commit(item: ItemScope): void {
    const held = this.held.get(item.index);
    this.held.delete(item.index);
    for (const { letter, ticket } of held ?? []) {
      this.letters.push(letter);
      ticket.written();
    }
  }

  abort(item: ItemScope): void {
    this.held.delete(item.index);
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

  commit(): void {}

  abort(): void {}

  async close(): Promise<void> {}
}
