import type { InvocationMetrics, Logger } from '../observe.ts';
import type { SinkFailure, Ticket } from '../plugin/types.ts';
import type { DeadLetter, DeadLetterWriter } from './dead-letters.ts';

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

/** What a dead letter of a record holds besides the failure itself. */
export type LetterBase = Omit<DeadLetter, 'stage' | 'code' | 'message' | 'component'>;

/**
 * The ticket a sink receives with each record. A class rather than closures: one small object
 * per record and sink on the hot path.
 */
class SinkTicket implements Ticket {
  private settled = false;

  constructor(
    private readonly tracker: RecordTracker,
    private readonly sinkId: string,
    private readonly onError: 'retry' | 'dead_letter',
    private readonly letter: LetterBase,
  ) {}

  written(): void {
    this.settle(undefined);
  }

  failed(failure: SinkFailure): void {
    this.settle(failure);
  }

  private settle(failure: SinkFailure | undefined): void {
    if (this.settled) throw new Error(`sink ${this.sinkId} settled a ticket twice`);
    this.settled = true;
    this.tracker.settleSink(this.sinkId, this.onError, this.letter, failure);
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
  ) {
    item.counts.records_in++;
  }

  /** A ticket for one sink; `onError` decides what a retryable sink failure becomes. */
  sinkTicket(sinkId: string, onError: 'retry' | 'dead_letter', letter: LetterBase): Ticket {
    this.pending++;
    return new SinkTicket(this, sinkId, onError, letter);
  }

  /** @internal Settles one sink ticket; see `SinkTicket`. */
  settleSink(sinkId: string, onError: 'retry' | 'dead_letter', letter: LetterBase, failure: SinkFailure | undefined): void {
    if (failure === undefined) {
      this.context.metrics.count(sinkId, 'records_out');
      this.written = true;
    } else if (failure.retryable && onError === 'retry') {
      this.context.metrics.count(sinkId, 'failed');
      this.markFailed(sinkId, failure);
    } else {
      this.context.metrics.count(sinkId, 'dead_lettered');
      void this.deadLetter({ ...letter, stage: 'sink', code: failure.code, message: failure.message, component: sinkId });
    }
    this.release();
  }

  /** Sends the record to the dead letters; the record's outcome waits for the write. */
  deadLetter(letter: DeadLetter): Promise<void> | void {
    this.pending++;
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
