import { InvocationMetrics } from '../observe.ts';
import type { Logger } from '../observe.ts';
import type { CommittedItem, ItemScope, SinkFailure, Ticket } from '../plugin/types.ts';
import type { DeadLetterWriter } from './dead-letters.ts';
import type { FailureCode, RecordMeta, RecordValue, Stage } from './record.ts';

/** The one outcome each input record ends in. */
export type Outcome = 'written' | 'filtered' | 'dead_lettered' | 'failed';

export interface OutcomeCounts {
  records_in: number;
  written: number;
  filtered: number;
  dead_lettered: number;
  failed: number;
}

export function emptyCounts(): OutcomeCounts {
  return { records_in: 0, written: 0, filtered: 0, dead_lettered: 0, failed: 0 };
}

/**
 * One unit of retry (a Kinesis or DynamoDB record, an SQS message; `id` is what
 * `batchItemFailures` names) and the outcomes of its records. An aborted item (its input turned
 * out unreadable, docs/decisions/0010-item-commit-point.md) counts as one record: the item itself,
 * dead-lettered or failed; the outcomes its records had reached are discarded with their output.
 *
 * The outcome is also the item's scope as sinks see it (`index`, `staged`): a stream event has one
 * item per record, so a separate scope object would cost one more object per record
 * (docs/decisions/0051-hot-path.md).
 */
export class ItemOutcome implements ItemScope {
  failed = false;
  aborted = false;
  /** The first reason the item failed or was aborted, for summaries (`NoSuchBucket: ...`, `invalid-gzip: ...`). */
  reason: string | undefined;
  counts = emptyCounts();
  /** What dead letters of the item's records are filed under; an aborted item's own dead letter is not staged. */
  deadLetterScope: ItemScope;
  /** Bumped by `abort`: trackers of an earlier generation no longer count. */
  generation = 0;
  /** True when the item failed before any of its records named a source: no component counts it. */
  unattributed = false;
  /**
   * For a staged item: the outcome of each record, by ordinal, that a sink may have settled
   * `written` early but that ended dead-lettered or failed (another path's letter or failure, or a
   * refusal at commit): one byte per record (0 written, 1 dead-lettered, 2 failed), made when the
   * first such record finishes. `LateFailures` reads it, so that a refusal at commit follows the
   * precedence failed > dead_lettered > written, and writes it, so that a record moves once.
   */
  private outcomes: Uint8Array | undefined;

  constructor(
    readonly id: string | undefined,
    /** See `ItemScope.index`: the item's place in the invocation. */
    readonly index: number,
    /** See `ItemScope.staged`: the item's records are delivered while its input is still being read. */
    readonly staged: boolean,
    /**
     * Where the item's records are counted per component. A staged item counts into metrics of
     * its own until it is committed, so that an abort can drop them; afterwards, and for every
     * other item, these are the invocation's metrics.
     */
    public metrics: InvocationMetrics,
  ) {
    this.deadLetterScope = this;
  }

  /** The item as sinks see it. */
  get scope(): ItemScope {
    return this;
  }

  /** Marks the item for retry, keeping the first reason. */
  fail(reason: string): void {
    this.failed = true;
    this.reason ??= reason;
  }

  /**
   * The item was committed: its records are final, so a dead letter that comes later (a sink
   * failing a write it started at the commit) is stored as a committed record's would be, not
   * held for a commit that has passed.
   */
  committed(): void {
    this.deadLetterScope = { index: this.index, staged: false };
  }

  /** Replaces everything the item's records did so far; the caller gives the item its one outcome. */
  abort(reason: string, metrics: InvocationMetrics): void {
    this.generation++;
    this.aborted = true;
    this.failed = false;
    this.reason = reason;
    this.counts = emptyCounts();
    this.metrics = metrics;
    this.deadLetterScope = { index: this.index, staged: false };
    this.outcomes = undefined;
  }

  /** The outcome of record `ordinal` as `setOutcome` left it: written unless it said otherwise. */
  outcomeOf(ordinal: number): 'written' | 'dead_lettered' | 'failed' {
    return OUTCOME_CODES[this.outcomes?.[ordinal] ?? 0]!;
  }

  setOutcome(ordinal: number, outcome: 'written' | 'dead_lettered' | 'failed'): void {
    let outcomes = this.outcomes;
    if (outcomes === undefined || ordinal >= outcomes.length) {
      const grown = new Uint8Array(Math.max(1024, ordinal + 1, (outcomes?.length ?? 0) * 2));
      if (outcomes !== undefined) grown.set(outcomes);
      this.outcomes = outcomes = grown;
    }
    outcomes[ordinal] = OUTCOME_CODES.indexOf(outcome);
  }
}

/** `ItemOutcome.outcomes` codes, in order of precedence. */
const OUTCOME_CODES = ['written', 'dead_lettered', 'failed'] as const;

/**
 * The ticket the pipeline hands a sink with a record: a `Ticket` the pipeline also tells when the
 * sink's `add` returned or threw.
 */
export interface DeliveryTicket extends Ticket {
  /**
   * Called once the sink's `add` has returned. A sink rejects a record it cannot write (a
   * non-retryable failure, dead-lettered with the record) while it receives it; what fails later
   * is a write, which a sink with `on_error: retry` retries instead of dead-lettering. Such a
   * sink's ticket lets go of the record here: the S3 sink holds its tickets until the object is
   * written, and keeping every record of a batch alive that long made the garbage collector copy
   * them all.
   */
  accepted(): void;
  /** Fails the ticket unless the sink already settled it: for a sink whose `add` threw. */
  failIfOpen(failure: SinkFailure): void;
}

/**
 * The ticket of a record's second and later deliveries (fan-out to several sinks, a record that
 * an `explode` step made several); its first delivery is ticketed by its `RecordTracker`. A class
 * rather than closures: one small object per record and sink.
 */
class SinkTicket implements DeliveryTicket {
  private settled = false;

  constructor(
    private readonly tracker: RecordTracker,
    private readonly sinkId: string,
    private readonly onError: 'retry' | 'dead_letter',
    /** The record as delivered, for a dead letter, while a failure could still need it. */
    private record: RecordValue | undefined,
  ) {}

  accepted(): void {
    if (this.onError === 'retry') this.record = undefined;
  }

  written(): void {
    this.settle(undefined);
  }

  failed(failure: SinkFailure): void {
    this.settle(failure);
  }

  failIfOpen(failure: SinkFailure): void {
    if (!this.settled) this.settle(failure);
  }

  private settle(failure: SinkFailure | undefined): void {
    if (this.settled) throw new Error(`sink ${this.sinkId} settled a ticket twice`);
    this.settled = true;
    this.tracker.settleSink(this.sinkId, this.onError, failure?.record ?? this.record, failure);
  }
}

/** What the pipeline needs to settle a record: where dead letters go and where to log. */
export interface OutcomeContext {
  deadLetters: DeadLetterWriter;
  logger: Logger;
}

// RecordTracker.flags: what the record's paths reached, and where its first sink ticket (the
// tracker itself) stands.
const ROUTED = 1;
const WRITTEN = 2;
const DEAD_LETTERED = 4;
const FAILED = 8;
const TICKET_OPEN = 16;
const TICKET_SETTLED = 32;
/** The first ticket's sink dead-letters what fails (`on_error: dead_letter`) instead of retrying it. */
const TICKET_DEAD_LETTERS = 64;
/** The record's outcome is counted: nothing it hears of afterwards counts again. */
const FINISHED = 128;

/**
 * Follows one input record through the pipeline until it has an outcome. Every path the record
 * takes (a sink write, a dead letter) holds a ticket; the record is final once routing is done and
 * every ticket is settled. Precedence when paths disagree: failed > dead_lettered > written > filtered.
 *
 * Component counters follow the same paths: a component counts a record it dead-letters only
 * once the dead letter is stored, and as failed when it is not (no `dead_letter` location, the
 * store refused), so per-component counts and metrics agree with the record's outcome.
 *
 * The tracker is itself the ticket of the record's first sink delivery, and the only one in the
 * common case of a record that reaches one sink: a sink holds its tickets until it has written
 * them, and a separate ticket object per record was one more object for the garbage collector to
 * copy while it waits (docs/decisions/0051-hot-path.md). Further deliveries get a `SinkTicket`.
 */
export class RecordTracker implements DeliveryTicket {
  private pending = 0;
  /** `ROUTED`, `WRITTEN`, `DEAD_LETTERED`, `FAILED` and the first ticket's state, in one field: trackers live until their sink writes. */
  private flags = 0;
  private readonly generation: number;
  /** The first delivery, ticketed by the tracker itself: its sink and record (as `SinkTicket` keeps them); `on_error` is a flag. */
  private sinkId = '';
  private delivered: RecordValue | undefined;
  /** The record's place in its item (`SinkEntry.ordinal`). */
  readonly ordinal: number;

  constructor(
    private readonly item: ItemOutcome,
    private readonly context: OutcomeContext,
    /** Where the record came from, for dead letters. */
    readonly meta: RecordMeta,
    /** The record's bytes as its source delivered them, for dead letters. */
    readonly raw: Uint8Array,
  ) {
    this.generation = item.generation;
    this.ordinal = item.counts.records_in++;
  }

  /** Where this record is counted per component (see `ItemOutcome.metrics`). */
  get metrics(): InvocationMetrics {
    return this.item.metrics;
  }

  /** The item the record belongs to, as sinks see it. */
  get scope(): ItemScope {
    return this.item;
  }

  /** False once the record's item was aborted: nothing this tracker hears of counts any more. */
  private get live(): boolean {
    return this.generation === this.item.generation;
  }

  /**
   * A ticket for delivering `record` (this record, as transformed) to one sink; `onError` decides
   * what a retryable failure becomes. Call `accepted` on it once the sink's `add` has returned.
   */
  sinkTicket(sinkId: string, onError: 'retry' | 'dead_letter', record: RecordValue): DeliveryTicket {
    this.pending++;
    if ((this.flags & (TICKET_OPEN | TICKET_SETTLED)) !== 0) return new SinkTicket(this, sinkId, onError, record);
    this.flags |= onError === 'retry' ? TICKET_OPEN : TICKET_OPEN | TICKET_DEAD_LETTERS;
    this.sinkId = sinkId;
    this.delivered = record;
    return this;
  }

  /** For the first delivery's ticket: see `DeliveryTicket.accepted`. */
  accepted(): void {
    if ((this.flags & TICKET_DEAD_LETTERS) === 0) this.delivered = undefined;
  }

  /** For the first delivery's ticket: the sink stored the record. */
  written(): void {
    this.settleTicket(undefined);
  }

  /** For the first delivery's ticket: the sink could not store the record. */
  failed(failure: SinkFailure): void {
    this.settleTicket(failure);
  }

  /** For the first delivery's ticket: see `DeliveryTicket.failIfOpen`. */
  failIfOpen(failure: SinkFailure): void {
    if ((this.flags & TICKET_OPEN) !== 0) this.settleTicket(failure);
  }

  private settleTicket(failure: SinkFailure | undefined): void {
    if ((this.flags & TICKET_OPEN) === 0) throw new Error(`sink ${this.sinkId} settled a ticket twice`);
    this.flags = (this.flags & ~TICKET_OPEN) | TICKET_SETTLED;
    const record = failure?.record ?? this.delivered;
    this.delivered = undefined;
    this.settleSink(this.sinkId, (this.flags & TICKET_DEAD_LETTERS) === 0 ? 'retry' : 'dead_letter', record, failure);
  }

  /** @internal Settles one sink ticket; see `SinkTicket`. `record` is absent once the ticket let go of it. */
  settleSink(sinkId: string, onError: 'retry' | 'dead_letter', record: RecordValue | undefined, failure: SinkFailure | undefined): void {
    if (!this.live) return;
    if (failure === undefined) {
      this.item.metrics.count(sinkId, 'records_out');
      this.flags |= WRITTEN;
    } else if (failure.retryable && onError === 'retry') {
      this.item.metrics.count(sinkId, 'failed');
      this.markFailed(sinkId, failure.code, failure.message);
    } else {
      void this.deadLetter('sink', failure.code, failure.message, sinkId, record);
    }
    this.release();
  }

  /**
   * Sends the record to the dead letters, with `record` as far as it got (absent when it failed
   * to decode), counted for `component` once the letter is stored (as failed when it is not).
   * The record's outcome waits for the write. Never throws and never rejects: a letter that
   * cannot even be serialized or handed over fails the record.
   */
  deadLetter(stage: Stage, code: FailureCode, message: string, component: string, record?: RecordValue): Promise<void> | void {
    if (!this.live) return;
    this.pending++;
    const { meta, raw } = this;
    const letter = { stage, code, message, component, source: meta.source, position: meta.position, meta, raw, ...(record ? { record } : {}) };
    let settled = false;
    const ticket: Ticket = {
      written: () => {
        if (settled) return;
        settled = true;
        if (!this.live) return;
        this.item.metrics.count(component, 'dead_lettered');
        this.flags |= DEAD_LETTERED;
        this.release();
      },
      failed: (failure) => {
        if (settled) return;
        settled = true;
        if (!this.live) return;
        this.item.metrics.count(component, 'failed');
        this.context.logger.log('error', 'dead letter could not be stored; the record will be retried', {
          stage,
          code,
          reason: message,
          component,
          position: meta.position,
          error: failure.message,
        });
        this.markFailed(component, code, `${message}; its dead letter could not be stored: ${failure.message}`, false);
        this.release();
      },
    };
    const unwritable = (error: unknown) => ticket.failed({ code: 'sink-error', message: `the dead letter could not be written: ${messageOf(error)}`, retryable: true });
    try {
      const pending = this.context.deadLetters.add(letter, ticket, this.item.deadLetterScope);
      return pending?.catch(unwritable);
    } catch (error) {
      unwritable(error);
    }
  }

  /**
   * The record hit an error no component anticipated while being routed (a bug, or content no
   * path was prepared for): it is dead-lettered rather than failing its neighbours or the invocation.
   */
  unexpected(error: unknown): void {
    if (!this.live) return;
    this.context.logger.log('error', 'unexpected error while routing a record; it is dead-lettered', { position: this.meta.position, error: messageOf(error) });
    void this.deadLetter('transform', 'transform-error', `unexpected error while routing the record: ${messageOf(error)}`, this.meta.source);
    this.doneRouting();
  }

  /** Called once the record has been offered to every component it reaches. */
  doneRouting(): void {
    if ((this.flags & ROUTED) !== 0) return;
    this.flags |= ROUTED;
    this.finishIfSettled();
  }

  private markFailed(component: string, code: FailureCode, message: string, log = true): void {
    this.flags |= FAILED;
    this.item.reason ??= `${code} at ${component}: ${message}`;
    if (log) this.context.logger.log('warn', 'record failed and will be retried', { component, code, error: message });
  }

  private release(): void {
    this.pending--;
    this.finishIfSettled();
  }

  private finishIfSettled(): void {
    const flags = this.flags;
    if ((flags & (ROUTED | FINISHED)) !== ROUTED || this.pending > 0 || !this.live) return;
    const outcome: Outcome = (flags & FAILED) !== 0 ? 'failed' : (flags & DEAD_LETTERED) !== 0 ? 'dead_lettered' : (flags & WRITTEN) !== 0 ? 'written' : 'filtered';
    this.item.counts[outcome]++;
    if (outcome === 'failed') this.item.failed = true;
    // A sink may refuse this record at the item's commit after settling it written: it must not count as moving from written.
    if ((flags & WRITTEN) !== 0 && (outcome === 'dead_lettered' || outcome === 'failed') && this.item.staged) this.item.setOutcome(this.ordinal, outcome);
    // A flag rather than an infinite `pending`: a double there would change every tracker's layout.
    this.flags = flags | FINISHED;
  }
}

/**
 * One sink's `CommittedItem` for one committed staged item: the outcome of a record the sink
 * refused after it settled the record's ticket written
 * (docs/decisions/0056-search-staged-items-in-bounded-memory.md). Follows `RecordTracker.settleSink`
 * without the tracker, which is gone by then: what the letter needs comes from the sink.
 */
export class LateFailures implements CommittedItem {
  constructor(
    private readonly item: ItemOutcome,
    private readonly context: OutcomeContext,
    private readonly sinkId: string,
    private readonly onError: 'retry' | 'dead_letter',
  ) {}

  /** Set once a retryable failure failed the item: the rest of a failing request need not be logged one by one. */
  private retrying = false;

  failed(delivered: { ordinal: number; meta: RecordMeta; raw: Uint8Array; record?: RecordValue }, failure: SinkFailure): Promise<void> | void {
    const { item, sinkId } = this;
    if (failure.retryable && this.onError === 'retry') {
      // As when a write of the whole item fails (ADR 0052): the item is retried, its records keep their counts.
      item.fail(`${failure.code} at ${sinkId}: ${failure.message}`);
      if (this.retrying) return;
      this.retrying = true;
      this.context.logger.log('warn', 'record of a committed item failed; the item will be retried', { component: sinkId, code: failure.code, error: failure.message });
      return;
    }
    const { ordinal, meta, raw, record } = delivered;
    const letter = { stage: 'sink' as const, code: failure.code, message: failure.message, component: sinkId, source: meta.source, position: meta.position, meta, raw, ...(record ? { record } : {}) };
    let settled = false;
    const ticket: Ticket = {
      written: () => {
        if (settled) return;
        settled = true;
        this.move(ordinal, 'dead_lettered');
      },
      failed: (letterFailure) => {
        if (settled) return;
        settled = true;
        this.context.logger.log('error', 'dead letter could not be stored; the record will be retried', { stage: 'sink', code: failure.code, reason: failure.message, component: sinkId, position: meta.position, error: letterFailure.message });
        item.fail(`${failure.code} at ${sinkId}: ${failure.message}; its dead letter could not be stored: ${letterFailure.message}`);
        this.move(ordinal, 'failed');
      },
    };
    const unwritable = (error: unknown) => ticket.failed({ code: 'sink-error', message: `the dead letter could not be written: ${messageOf(error)}`, retryable: true });
    try {
      // Not the item's own scope: the item is committed, so its letters are no longer held for it.
      const pending = this.context.deadLetters.add(letter, ticket, { index: item.index, staged: false });
      return pending?.catch(unwritable);
    } catch (error) {
      unwritable(error);
    }
  }

  /**
   * The sink counted the delivery written: it becomes `outcome` at the sink. The input record
   * moves to `outcome` from the outcome it had (written, or what its other paths or an earlier
   * refusal made it) when `outcome` takes precedence: once, however many of its deliveries are
   * refused.
   */
  private move(ordinal: number, outcome: 'dead_lettered' | 'failed'): void {
    const { item } = this;
    const counters = item.metrics.counters(this.sinkId);
    counters.records_out--;
    counters[outcome]++;
    const before = item.outcomeOf(ordinal);
    if (before === outcome || before === 'failed') return;
    item.setOutcome(ordinal, outcome);
    item.counts[before]--;
    item.counts[outcome]++;
  }
}

/** The message of anything thrown, which need not be an `Error`. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'an error that cannot be shown';
  }
}
