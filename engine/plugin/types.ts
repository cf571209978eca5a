import type { ErrorObject } from 'ajv';
import type { Measure } from '../observe.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { FailureCode, RecordMeta, RecordValue } from '../pipeline/record.ts';
import type { SinkConfig, SinkType, StepConfig, StepKind } from '../spec/spec-types.ts';
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
   * the item's last `add` resolved; may start writes and return before they finish.
   */
  commit(item: ItemScope): Promise<void> | void;
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
}

/** Adapters the engine talks to instead of AWS directly. */
export interface Ports {
  objects: ObjectStore;
}

/** A sink built once per cold start; `open` starts its work for one invocation. */
export interface Sink {
  open(invocation: Invocation): SinkWriter;
}

/** A sink type. `Config` is the generated resolved config of its type (`SinkConfig<'s3'>`: defaults applied, sizes in bytes). */
export interface SinkPlugin<Config = SinkConfig> {
  type: SinkType;
  /** Builds the sink (compiles templates, prepares clients). Throws on a config the validator should have rejected. */
  create(id: string, config: Config, ports: Ports): Sink;
}
