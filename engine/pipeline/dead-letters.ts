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
 * the item is committed, and are dropped when it is aborted. Their tickets may settle `written`
 * as soon as the writer holds the letter (the item's outcomes are provisional until it commits);
 * a letter of such an item that is then not stored fails the whole item, through `failedItems`
 * (docs/decisions/0055-staged-items-hold-no-records.md).
 */
export interface DeadLetterWriter {
  add(letter: DeadLetter, ticket: Ticket, item: ItemScope): Promise<void> | void;
  /** The item's records are final: its letters may be published. */
  commit(item: ItemScope): Promise<void> | void;
  /** The item was aborted: its letters are discarded unpublished. */
  abort(item: ItemScope): Promise<void> | void;
  close(): Promise<void>;
  /** After `close`: the staged items whose letters could not be stored or published, each once with the first reason; the pipeline retries them. */
  failedItems(): { item: ItemScope; reason: string }[];
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
  /** Settled when the group is stored; none for a staged item's group, whose tickets settle on `add`. */
  tickets: Ticket[];
  positions: ReturnType<typeof createHash>;
  bytes: number;
  source: string;
}

/** What the writer holds of one staged item until it commits or aborts: its open groups and uploaded full ones, nothing per letter. */
interface HeldItem {
  readonly scope: ItemScope;
  readonly groups: Map<string, LetterGroup>;
  /** Full groups, uploaded but not visible until the item commits (`undefined` once the upload failed). */
  readonly staged: { object: Promise<StagedObject | undefined>; key: string }[];
  aborted: boolean;
}

/**
 * Writes dead letters as JSON lines to `bucket` under the rendered `prefix` template (context:
 * `stage`, `now`, `meta`). Object keys derive from the positions of the letters they hold, so a
 * retried invocation rewrites the same objects instead of adding copies. Letters of a staged
 * item are grouped apart from others' and written when the item commits (a group that fills
 * before is uploaded unpublished), so an item's dead letters land in objects of their own. Their
 * tickets settle as the letters join a group, so that an object of a million bad lines leaves no
 * per-letter state until it commits; a group of the item that cannot be stored fails the item.
 */
export class StoreDeadLetterWriter implements DeadLetterWriter {
  private readonly groups = new Map<string, LetterGroup>();
  /** Letters of staged items not committed yet, by item. */
  private readonly held = new Map<number, HeldItem>();
  /** Staged items a group of which could not be stored or published. */
  private readonly failures: { held: HeldItem; reason: string }[] = [];
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
    // A staged item's outcome is provisional until commit: nothing of the record needs keeping.
    if (held === undefined) group.tickets.push(ticket);
    else ticket.written();
    group.positions.update(ordinal === 0 ? `${letter.stage}\0${letter.position}\0` : `${letter.stage}\0${letter.position}#${ordinal}\0`);
    group.bytes += line.length + 1;
    if (group.lines.length < MAX_LETTERS_PER_OBJECT && group.bytes < MAX_BYTES_PER_OBJECT) return;
    groups.delete(prefix);
    if (held) {
      this.stage(prefix, group, held);
      return;
    }
    await this.track(this.put(prefix, group, undefined));
  }

  commit(item: ItemScope): void {
    const held = this.held.get(item.index);
    if (!held) return;
    this.held.delete(item.index);
    for (const [prefix, group] of held.groups) void this.track(this.put(prefix, group, held));
    for (const staged of held.staged) void this.track(this.publish(staged, held));
  }

  async abort(item: ItemScope): Promise<void> {
    const held = this.held.get(item.index);
    if (!held) return;
    held.aborted = true;
    await this.discard(held);
  }

  async close(): Promise<void> {
    // The pipeline commits or aborts every staged item before closing; one left over has no
    // verified input, so its letters are discarded and it is retried rather than published.
    for (const held of [...this.held.values()]) {
      await this.discard(held);
      this.failures.push({ held, reason: 'the dead-letter writer closed before its batch item was committed' });
    }
    for (const prefix of [...this.groups.keys()]) {
      const group = this.groups.get(prefix)!;
      this.groups.delete(prefix);
      await this.put(prefix, group, undefined);
    }
    while (this.writing.size > 0) await Promise.all(this.writing);
  }

  failedItems(): { item: ItemScope; reason: string }[] {
    const failed = new Map<HeldItem, string>();
    for (const { held, reason } of this.failures) if (!held.aborted && !failed.has(held)) failed.set(held, reason);
    return [...failed].map(([held, reason]) => ({ item: held.scope, reason }));
  }

  private heldOf(item: ItemScope): HeldItem {
    let held = this.held.get(item.index);
    if (!held) {
      held = { scope: item, groups: new Map(), staged: [], aborted: false };
      this.held.set(item.index, held);
    }
    return held;
  }

  /** Drops everything held of an item, publishing none of it. */
  private async discard(held: HeldItem): Promise<void> {
    this.held.delete(held.scope.index);
    held.groups.clear();
    await Promise.all(held.staged.map(async ({ object }) => (await object)?.discard().catch(() => {})));
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

  /** Stores a group (the last of `held`, when it is a staged item's); the promise never rejects. */
  private async put(prefix: string, group: LetterGroup, held: HeldItem | undefined): Promise<void> {
    const key = this.keyOf(prefix, group);
    try {
      await this.store.put(this.bucket, key, this.body(group), { contentType: 'application/x-ndjson' });
      for (const ticket of group.tickets) ticket.written();
    } catch (error) {
      this.fail(key, error, held ?? group.tickets);
    }
  }

  /** Uploads a full group of a staged item without publishing it; `commit` publishes it. */
  private stage(prefix: string, group: LetterGroup, held: HeldItem): void {
    const key = this.keyOf(prefix, group);
    const object = this.store.stage(this.bucket, key, this.body(group), { contentType: 'application/x-ndjson' }).catch((error: unknown) => {
      this.fail(key, error, held);
      return undefined;
    });
    held.staged.push({ object, key });
    void this.track(object.then(() => undefined));
  }

  private async publish({ object, key }: HeldItem['staged'][number], held: HeldItem): Promise<void> {
    const staged = await object;
    if (staged === undefined) return; // failed when staged
    try {
      await staged.publish();
    } catch (error) {
      await staged.discard().catch(() => {});
      this.fail(key, error, held);
    }
  }

  /** Letters the store refused: those of a staged item (whose tickets are settled) fail the item; others fail each ticket, for retry. */
  private fail(key: string, error: unknown, owner: HeldItem | Ticket[]): void {
    const { reason } = classifyStoreError(error);
    const message = `dead letters could not be written to s3://${this.bucket}/${key}: ${reason}: ${messageOf(error)}`;
    if (!Array.isArray(owner)) {
      this.failures.push({ held: owner, reason: message });
      return;
    }
    for (const ticket of owner) ticket.failed({ code: 'sink-error', message, retryable: true });
  }
}

/** Keeps dead letters in memory: `ingest test` compares them with `expect_dead_letter`. */
export class CapturingDeadLetterWriter implements DeadLetterWriter {
  readonly letters: DeadLetter[] = [];
  private readonly held = new Map<number, DeadLetter[]>();

  add(letter: DeadLetter, ticket: Ticket, item: ItemScope): void {
    if (item.staged) {
      const held = this.held.get(item.index) ?? [];
      held.push(letter);
      this.held.set(item.index, held);
    } else {
      this.letters.push(letter);
    }
    ticket.written();
  }

  commit(item: ItemScope): void {
    const held = this.held.get(item.index);
    this.held.delete(item.index);
    for (const letter of held ?? []) this.letters.push(letter);
  }

  abort(item: ItemScope): void {
    this.held.delete(item.index);
  }

  async close(): Promise<void> {}

  failedItems(): { item: ItemScope; reason: string }[] {
    return [];
  }
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

  failedItems(): { item: ItemScope; reason: string }[] {
    return [];
  }
}
