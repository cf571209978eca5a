import type { InvocationMetrics, Logger } from '../observe.ts';
import type { SinkFailure, Ticket } from '../plugin/types.ts';
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

/** One unit of retry: a Kinesis or DynamoDB record, an SQS message. `id` is what `batchItemFailures` names. */
export class ItemOutcome {
  failed = false;
  readonly counts = emptyCounts();
  constructor(readonly id: string | undefined) {}
}

/**
 * The ticket a sink receives with each record. A class rather than closures: one small object
 * per record and sink on the hot path.
 */
export class SinkTicket implements Ticket {
  private settled = false;

  constructor(
    private readonly tracker: RecordTracker,
    private readonly sinkId: string,
    private readonly onError: 'retry' | 'dead_letter',
    /** The record as delivered, for a dead letter, while a failure could still need it. */
    private record: RecordValue | undefined,
  ) {}

  /**
   * Called once the sink's `add` has returned. A sink rejects a record it cannot write (a
   * non-retryable failure, dead-lettered with the record) while it receives it; what fails later
   * is a write, which a sink with `on_error: retry` retries instead of dead-lettering. Such a
   * sink's ticket lets go of the record here: the S3 sink holds its tickets until the object is
   * written, and keeping every record of a batch alive that long made the garbage collector copy
   * them all.
   */
  accepted(): void {
    if (this.onError === 'retry') this.record = undefined;
  }

  written(): void {
    this.settle(undefined);
  }

  failed(failure: SinkFailure): void {
    this.settle(failure);
  }

  private settle(failure: SinkFailure | undefined): void {
    if (this.settled) throw new Error(`sink ${this.sinkId} settled a ticket twice`);
    this.settled = true;
    this.tracker.settleSink(this.sinkId, this.onError, failure?.record ?? this.record, failure);
  }
}

/** What the pipeline needs to settle a record: where dead letters go, how sinks treat retryable failures, where to count. */
export interface OutcomeContext {
  deadLetters: DeadLetterWriter;
  metrics: InvocationMetrics;
  logger: Logger;
  onFinal(outcome: Outcome): void;
}

/**
 * Follows one input record through the pipeline until it has an outcome. Every path the record
 * takes (a sink write, a dead letter) holds a ticket; the record is final once routing is done and
 * every ticket is settled. Precedence when paths disagree: failed > dead_lettered > written > filtered.
 */
export class RecordTracker {
  private pending = 0;
  private routed = false;
  private written = false;
  private deadLettered = false;
  private failed = false;

  constructor(
    private readonly item: ItemOutcome,
    private readonly context: OutcomeContext,
    /** Where the record came from, for dead letters. */
    readonly meta: RecordMeta,
    /** The record's bytes as its source delivered them, for dead letters. */
    readonly raw: Uint8Array,
  ) {
    item.counts.records_in++;
  }

  /**
   * A ticket for delivering `record` (this record, as transformed) to one sink; `onError` decides
   * what a retryable failure becomes. Call `accepted` on it once the sink's `add` has returned.
   */
  sinkTicket(sinkId: string, onError: 'retry' | 'dead_letter', record: RecordValue): SinkTicket {
    this.pending++;
    return new SinkTicket(this, sinkId, onError, record);
  }

  /** @internal Settles one sink ticket; see `SinkTicket`. `record` is absent once the ticket let go of it. */
  settleSink(sinkId: string, onError: 'retry' | 'dead_letter', record: RecordValue | undefined, failure: SinkFailure | undefined): void {
    if (failure === undefined) {
      this.context.metrics.count(sinkId, 'records_out');
      this.written = true;
    } else if (failure.retryable && onError === 'retry') {
      this.context.metrics.count(sinkId, 'failed');
      this.markFailed(sinkId, failure);
    } else {
      this.context.metrics.count(sinkId, 'dead_lettered');
      void this.deadLetter('sink', failure.code, failure.message, sinkId, record);
    }
    this.release();
  }

  /**
   * Sends the record to the dead letters, with `record` as far as it got (absent when it failed
   * to decode). The record's outcome waits for the write.
   */
  deadLetter(stage: Stage, code: FailureCode, message: string, component: string, record?: RecordValue): Promise<void> | void {
    this.pending++;
    const { meta, raw } = this;
    const letter = { stage, code, message, component, source: meta.source, position: meta.position, meta, raw, ...(record ? { record } : {}) };
    return this.context.deadLetters.add(letter, {
      written: () => {
        this.deadLettered = true;
        this.release();
      },
      failed: (failure) => {
        this.context.logger.log('error', 'dead letter could not be stored; the record will be retried', {
          stage: letter.stage,
          code: letter.code,
          reason: letter.message,
          component: letter.component,
          position: letter.position,
          error: failure.message,
        });
        this.failed = true;
        this.release();
      },
    });
  }

  /** Called once the record has been offered to every component it reaches. */
  doneRouting(): void {
    this.routed = true;
    this.finishIfSettled();
  }

  private markFailed(component: string, failure: SinkFailure): void {
    this.failed = true;
    this.context.logger.log('warn', 'record failed and will be retried', { component, code: failure.code, error: failure.message });
  }

  private release(): void {
    this.pending--;
    this.finishIfSettled();
  }

  private finishIfSettled(): void {
    if (!this.routed || this.pending > 0) return;
    const outcome: Outcome = this.failed ? 'failed' : this.deadLettered ? 'dead_lettered' : this.written ? 'written' : 'filtered';
    this.item.counts[outcome]++;
    if (outcome === 'failed') this.item.failed = true;
    this.context.onFinal(outcome);
    this.routed = false; // guards against a second finish
  }
}
