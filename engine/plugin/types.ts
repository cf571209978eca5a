import type { ErrorObject } from 'ajv';
import type { Measure } from '../observe.ts';
import type { Logger } from '../observe.ts';
import type { Ledger } from '../ports/ledger.ts';
import type { Notification, Notifier } from '../ports/notifier.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { Warehouse } from '../ports/warehouse.ts';
import type { DeadLetter } from '../pipeline/dead-letters.ts';
import type { FailureCode, RecordMeta, RecordValue } from '../pipeline/record.ts';
import type { SinkConfig, SinkType, SourceConfig, StepConfig, StepKind } from '../spec/spec-types.ts';
import type { SpecFiles } from './checks.ts';

/**
 * State of one handler invocation, fresh each time. Steps and sinks keep per-invocation state
 * here (dedupe's seen keys), never in module scope, so warm invocations do not leak into each other.
 */
export interface Invocation {
  /** Scratch space keyed by the object that owns it (a step's compiled closure, a sink). */
  readonly state: Map<object, unknown>;
  /** The invocation's clock reading, used for `now` in templates and expressions. */
  readonly now: Date;
  /** Lambda request id, or a generated id outside Lambda. */
  readonly requestId: string;
  /**
   * Epoch milliseconds by which sinks must have settled every ticket: the Lambda's remaining
   * time less a safety margin (see `handler.ts`). Retries and back-off end before it; work not
   * done by then is reported as retryable failures, never left unsettled.
   */
  readonly deadline: number;
  /**
   * Reports a figure of a sink's own work (a request sent and its time, records sent again),
   * emitted with the component's metrics. Absent in hand-built invocations.
   */
  readonly measure?: (component: string, measure: Measure, value: number) => void;
  /**
   * Test-only fault injection (the exactly-once matrix of docs/decisions/0031): a sink calls it
   * right after each named step of its cross-invocation work, and it throws to simulate a crash
   * there. Absent outside tests.
   */
  readonly fault?: (step: FaultStep) => void;
}

/** The steps of a batching sink after which the fault-injection matrix crashes the engine. */
export type FaultStep = 'staged' | 'registered' | 'sealed' | 'manifest' | 'submitted' | 'polling' | 'committed';

/**
 * Thrown by a test's fault hook to simulate the Lambda dying after `step`. Sinks call
 * `Invocation.fault` outside their own error handling; the handler rethrows it, so the invocation
 * ends without answering, as a crash would.
 */
export class InjectedCrash extends Error {
  override name = 'InjectedCrash';
  constructor(readonly step: FaultStep) {
    super(`injected crash after ${step}`);
  }
}

/** What a step returns: the record (possibly the same object, mutated), several records (explode), or `undefined` when filtered. */
export type StepResult = RecordValue | RecordValue[] | undefined;

/**
 * A compiled transform step. Called once per record; may mutate and return `record` (the pipeline
 * hands each branch its own copy). Throws to fail the record: a `RecordError` carries a specific
 * failure code, anything else becomes `transform-error`. Never does I/O.
 */
export type Step = (record: RecordValue, meta: RecordMeta, invocation: Invocation) => StepResult;

/** A compiled JSON Schema validator, as ajv builds it (or its standalone code exports). */
export interface RecordValidator {
  (record: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** What compiling a step may use: files beside the spec (validate schemas) and resolved parameter values. */
export interface StepEnvironment {
  files: SpecFiles;
  parameters: Readonly<Record<string, string>>;
  /**
   * Validators compiled ahead of time by `ingest package`, keyed by the schema path the spec
   * gives. A `validate` step uses one when present instead of compiling its schema file.
   */
  recordValidators?: ReadonlyMap<string, RecordValidator>;
}

/**
 * A step kind: compiles its config once per cold start. `Config` is the generated resolved config
 * of its kind (`StepConfig<'flatten'>`: defaults applied), which the registry checks. Throws on a
 * config the validator should have rejected.
 */
export interface StepPlugin<Config = StepConfig<StepKind>> {
  kind: StepKind;
  compile(config: Config, environment: StepEnvironment): Step;
}

/** Thrown by steps and decoders to fail one record with a specific code. */
export class RecordError extends Error {
  override name = 'RecordError';
  constructor(
    readonly code: FailureCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How a sink failed a record. `retryable` failures follow the sink's `on_error`; others are dead-lettered. */
export interface SinkFailure {
  code: FailureCode;
  message: string;
  retryable: boolean;
  /**
   * The record as the sink received it, when the sink still holds it. A sink with `on_error:
   * retry` that fails a record for good after `add` returned (a bulk item the server rejects)
   * passes it here, so the dead letter carries the record and not only its raw input.
   */
  record?: RecordValue;
}

/**
 * The receipt of one record handed to a sink. The sink settles every ticket exactly once,
 * before `close()` resolves: `written` once the record is durably stored, or `failed`.
 */
export interface Ticket {
  written(): void;
  failed(failure: SinkFailure): void;
}

/**
 * One batch item as sinks see it: the unit whose output is published or discarded as a whole
 * (docs/decisions/0010-item-commit-point.md). Every record of the item comes with the same scope.
 */
export interface ItemScope {
  /** Distinct per item within an invocation, in arrival order. */
  readonly index: number;
  /**
   * True when the item's records are delivered while its input is still being read (an S3
   * object): nothing derived from them may become visible before `commit`, because `abort` may
   * still discard them. False for an item decoded whole before its first record is delivered (a
   * Kinesis or DynamoDB record): it is never aborted nor committed, its records are final as they
   * arrive, so a sink may mix them with those of other items.
   */
  readonly staged: boolean;
}

export interface SinkEntry {
  record: RecordValue;
  meta: RecordMeta;
  ticket: Ticket;
  /** The batch item the record belongs to. */
  item: ItemScope;
  /**
   * The record's bytes as its source delivered them (set by the pipeline; absent in hand-built
   * entries): what a sink keeps of a staged record, with `meta`, to report it through
   * `CommittedItem.failed` after settling its ticket early.
   */
  raw?: Uint8Array;
  /**
   * The record's place in its item, from 0 (set by the pipeline; absent in hand-built entries):
   * what a sink passes back to `CommittedItem.failed` with `meta` and `raw`.
   */
  ordinal?: number;
}

/**
 * What a sink may still report of a committed staged item's records after it settled their
 * tickets `written` early (docs/decisions/0056-search-sink-staged-items-in-bounded-memory.md).
 * A sink that holds a staged item's output unpublished may settle each ticket once the record is
 * stored that way, so that it keeps nothing per record for a whole S3 object; a write that then
 * fails for the whole item fails the item (a rejected `commit`, or `settle`). When instead ONE
 * record is refused at or after `commit` (a search cluster rejects a document), the sink passes
 * it here with the `ordinal`, `meta` and `raw` it kept, and the pipeline gives it the outcome a ticket
 * failure would have: a failure the sink's `on_error` retries fails the item for retry (its
 * records keep their counts, as for a failed `commit`); any other is dead-lettered with
 * `record`, and the input record moves from written to dead-lettered (to failed when its letter
 * cannot be stored), once however many of its deliveries are refused; a record its other paths
 * already made dead-lettered or failed keeps the outcome that takes precedence.
 */
export interface CommittedItem {
  /** Never throws; resolves once the dead letter is handed to its writer (its outcome follows when stored). */
  failed(delivered: { ordinal: number; meta: RecordMeta; raw: Uint8Array; record?: RecordValue }, failure: SinkFailure): Promise<void> | void;
}

/** A sink's work within one invocation. */
export interface SinkWriter {
  /**
   * Accepts a record. May write a full object or batch before resolving; failures settle tickets,
   * they do not reject. A record that can never be written is rejected (a non-retryable failure)
   * before `add` returns, so that its dead letter holds the record as delivered; a non-retryable
   * failure reported later to a sink with `on_error: retry` is dead-lettered with the record the
   * failure carries (`SinkFailure.record`), or with the raw bytes and meta only when it carries none.
   */
  add(entry: SinkEntry): Promise<void> | void;
  /**
   * Every record of `item` has been added and its input was read completely (for an S3 object:
   * to its end, checksum verified). The sink may now make what it holds of the item visible, and
   * settles the item's tickets as usual. Called once per staged item that is not aborted, after
   * the item's last `add` resolved; may start writes and return before they finish. `committed`
   * takes late failures of records whose tickets the sink already settled (`CommittedItem`);
   * the pipeline always passes it, and it stays valid until `close` resolves. A rejection fails
   * the whole item for retry, with the error's message as the reason.
   */
  commit(item: ItemScope, committed?: CommittedItem): Promise<void> | void;
  /**
   * `item` (always a staged one) turned out unreadable after some of its records were added: the
   * sink discards everything it holds of them and publishes none of it (objects are never
   * completed, multipart uploads are aborted, nothing is registered). Tickets of the item still
   * open need not be settled: the pipeline has replaced the outcome of its records. Called at
   * most once per item, never after `commit`.
   */
  abort(item: ItemScope): Promise<void> | void;
  /** Writes everything still pending and settles all remaining tickets. */
  close(): Promise<void>;
  /**
   * Called once after every writer closed and every item's outcome is final, before the handler
   * answers: a batching sink publishes (registers) what it staged of the items that will not be
   * delivered again, and nothing of those that will. Resolves to the items whose output it could
   * not publish; the engine fails them (and, for stream events, every later item, so that the
   * checkpoint never moves past an unregistered record). Rejects only on a bug: the engine then
   * fails every item. See docs/decisions/0031-exactly-once-warehouse-loads.md, section 2.
   */
  settle?(items: SettledItems): Promise<SettleResult>;
}

/** Which items of the invocation Lambda delivers again, as the engine knows once outcomes are final. */
export interface SettledItems {
  /**
   * True when `item` comes again: it failed; or it is a stream item (Kinesis, DynamoDB) at or
   * after the batch's first failed item (Lambda retries from that checkpoint); or the invocation
   * fails as a whole. Sinks publish nothing of such an item.
   */
  redelivered(item: ItemScope): boolean;
}

export interface SettleResult {
  /** Items whose output could not be published, with the reason (shown in the summary and logs). */
  failed: { item: ItemScope; reason: string }[];
  /**
   * Batches this writer sealed (a threshold was reached on registration). The engine then runs the
   * sink's `maintain` before answering, while time remains, so a full batch loads at once; an
   * invocation that sealed nothing does not pay for maintenance.
   */
  sealed?: number[];
}

/** Adapters the engine talks to instead of AWS directly. */
export interface Ports {
  objects: ObjectStore;
  /** The ledger of batching sinks (redshift, postgres); a spec with such a sink cannot run without one. */
  ledger?: Ledger;
  /** Builds the warehouse a redshift or postgres sink loads into, once per cold start. */
  warehouse?: (sinkId: string, config: SinkConfig<'redshift' | 'postgres'>) => Warehouse;
  /** Where notifications go (SNS); absent when the spec declares none. The engine filters them by the spec's `notifications.on`. */
  notifier?: Notifier;
}

/** What a sink's work across invocations may use and why it runs. */
export interface MaintenanceContext {
  invocation: Invocation;
  /**
   * `schedule`: the sweep event; `after-writers`: an invocation that processed records and has
   * time left; `flush`: seal open batches whatever their thresholds and load them (local runs).
   */
  reason: 'schedule' | 'after-writers' | 'flush';
  logger: Logger;
  /** Stores one dead letter (a row the warehouse rejected). Resolves once it is durable; rejects when it cannot be written. */
  deadLetter(letter: DeadLetter): Promise<void>;
  /** Publishes a notification when the spec asks for its event; resolves without sending otherwise. */
  notify(notification: Notification): Promise<void>;
}

/** What one sink's maintenance did, for logs, metrics and the CLI. */
export interface MaintenanceReport {
  /** Batches this run sealed. */
  sealed: number[];
  /** Batches this run loaded (or found loaded by a statement it resumed). */
  loaded: { batch: number; rows: number; duplicates: number; ms: number; ageSeconds: number }[];
  /** Batches whose load failed, with the database's error. */
  failed: { batch: number; error: string }[];
  /** Statement ids of loads submitted by an earlier invocation that this run resumed following. */
  resumed: string[];
  /** Rows the warehouse rejected that this run dead-lettered. */
  deadLettered: number;
  /** Batches left for a later run: still loading at the deadline, leased by another loader, or held behind an earlier upsert batch. */
  pending: number[];
}

/** A sink built once per cold start; `open` starts its work for one invocation. */
export interface Sink {
  open(invocation: Invocation): SinkWriter;
  /**
   * Work owed by earlier invocations: seal due batches, load sealed ones, resume following a
   * statement, take over lapsed leases. Run on the scheduled sweep for every sink that has it,
   * and after the writers of an invocation settled while time remains. Must end by
   * `invocation.deadline`, leaving what it could not do for a later run. Rejects only when its
   * ports cannot be reached at all.
   */
  maintain?(context: MaintenanceContext): Promise<MaintenanceReport>;
}

/** What a sink is built with beside its config and the ports. */
export interface SinkEnvironment {
  /** The spec's `name`: with the sink id, the sink's ledger scope. */
  pipeline: string;
  /**
   * The spec's sources by id, for settings that shape record identity: a Kinesis source with
   * `parallelization` above 1 keeps order per partition key, not per shard.
   */
  sources?: Readonly<Record<string, SourceConfig>>;
}

/** A sink type. `Config` is the generated resolved config of its type (`SinkConfig<'s3'>`: defaults applied, sizes in bytes). */
export interface SinkPlugin<Config = SinkConfig> {
  type: SinkType;
  /** Builds the sink (compiles templates, prepares clients). Throws on a config the validator should have rejected. */
  create(id: string, config: Config, ports: Ports, environment: SinkEnvironment): Sink;
}
