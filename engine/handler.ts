import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { compileExpression } from './expression/index.ts';
import { InvocationMetrics, jsonLogger } from './observe.ts';
import type { SpecFiles } from './plugin/checks.ts';
import { SINK_PLUGINS, STEP_PLUGINS } from './plugin/registry.ts';
import type { FaultStep, Invocation, MaintenanceReport, Ports, RecordValidator, Sink, SinkEnvironment } from './plugin/types.ts';
import { InjectedCrash } from './plugin/types.ts';
import { CapturingDeadLetterWriter, MissingDeadLetterWriter, StoreDeadLetterWriter } from './pipeline/dead-letters.ts';
import type { DeadLetterWriter } from './pipeline/dead-letters.ts';
import { runMaintenance } from './pipeline/maintenance.ts';
import type { MaintenanceReason } from './pipeline/maintenance.ts';
import { runInvocation } from './pipeline/pipeline.ts';
import { reconciliationErrors } from './pipeline/reconcile.ts';
import type { ComponentKind } from './pipeline/reconcile.ts';
import type { BatchItem, CompiledGraph, CompiledSink, CompiledTransform, Consumer, InvocationResult, Redelivery } from './pipeline/pipeline.ts';
import type { NotificationEvent } from './ports/notifier.ts';
import type { ResolvedSink, ResolvedSpec } from './spec/resolved-spec.ts';
import { parameterValues } from './spec/resolved-spec.ts';
import { dispatchEvent } from './sources/dispatch.ts';
import { compileTemplate } from './template/index.ts';

export interface HandlerOptions {
  ports: Ports;
  /** Files beside the spec (JSON Schemas of `validate` steps). */
  files: SpecFiles;
  /** Deployment parameter values; declared defaults fill the rest. */
  parameters?: Readonly<Record<string, string>>;
  /** Validators of `validate` steps compiled ahead of time (the packaged Lambda); others compile from `files`. */
  recordValidators?: ReadonlyMap<string, RecordValidator>;
  /**
   * Replaces the sink built from the spec, for `ingest test` (capture in memory) and local runs
   * (sinks that have no local adapter). Return `undefined` to keep the spec's sink.
   */
  sinkOverride?: (id: string, config: ResolvedSink) => Sink | undefined;
  /** Capture dead letters in memory instead of writing them to the spec's `dead_letter` location. */
  captureDeadLetters?: boolean;
  /**
   * The bucket the stack creates for dead letters (`INGEST_DEAD_LETTER_BUCKET`; `.ingest/` in local
   * runs), used when the spec's `dead_letter` names none. Without either, bad records fail and are
   * retried: there is nowhere to set them aside.
   */
  deadLetterBucket?: string;
  /** Where log lines go; stdout by default. */
  write?: (line: string) => void;
  clock?: () => Date;
  /**
   * Test-only: called by batching sinks after each named step of their work across invocations;
   * throwing `InjectedCrash` there ends the invocation as a dying Lambda would (the exactly-once
   * matrix of docs/decisions/0031-exactly-once-warehouse-loads.md).
   */
  faults?: (step: FaultStep) => void;
}

/** A Lambda handler response for the stream and queue sources. */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** A batch item that was retried or set aside as a whole, and why. */
export interface ItemFailureReport {
  /** The item's `batchItemFailures` identifier; absent for an event that is its own item (a direct S3 invocation). */
  item: string | undefined;
  /** True when the item is retried; false when it was dead-lettered as a whole (an unreadable object). */
  retried: boolean;
  /** The first reason, as the store or the pipeline gave it (`NoSuchBucket: ...`, `invalid-gzip: ...`). */
  reason: string;
}

export interface InvocationSummary extends InvocationResult {
  response: BatchResponse | undefined;
  metrics: InvocationMetrics;
  deadLetters?: CapturingDeadLetterWriter['letters'];
  /** Items that failed (retried) or were aborted (dead-lettered whole), in arrival order, with their reasons. */
  failures: ItemFailureReport[];
  /** What does not reconcile (`reconciliationErrors`); empty unless Ingest has a bug. */
  unreconciled: string[];
  /** What batching sinks did for earlier invocations (sealed, loaded, failed batches), by sink id, when maintenance ran. */
  maintenance?: Record<string, MaintenanceReport>;
}

export interface IngestHandler {
  (event: unknown, context?: Partial<Context>): Promise<BatchResponse | undefined>;
  /** Runs one invocation and returns everything it did (the CLI and tests use this). */
  invoke(event: unknown, context?: Partial<Context>): Promise<InvocationSummary>;
  /** Runs already-decoded batch items, bypassing event decoding (`ingest test` feeds `given` records this way). */
  process(items: Iterable<BatchItem> | AsyncIterable<BatchItem>, requestId?: string): Promise<InvocationSummary>;
  /**
   * Runs the maintenance of every batching sink alone, as the scheduled sweep does (`schedule`),
   * or sealing open batches whatever their thresholds (`flush`, local runs). Resolves to the
   * reports by sink id.
   */
  maintain(reason: Exclude<MaintenanceReason, 'after-writers'>, context?: Partial<Context>): Promise<Record<string, MaintenanceReport>>;
}

/** Thrown when an invocation must fail as a whole so that Lambda retries it. */
export class InvocationFailedError extends Error {
  override name = 'InvocationFailedError';
  constructor(
    message: string,
    /** What the invocation did before it failed, for the CLI to show. */
    readonly summary: InvocationSummary,
  ) {
    super(message);
  }
}

/**
 * Builds everything once per cold start (compiled steps, expressions, templates, sinks) and
 * returns the Lambda handler. For Kinesis, DynamoDB and SQS events the handler resolves to
 * `batchItemFailures` naming exactly the items to retry. It rejects only when nothing could be
 * processed, for an event no source declares, or for a failed direct (non-batch) invocation.
 */
export function createHandler(spec: ResolvedSpec, options: HandlerOptions): IngestHandler {
  const parameters = parameterValues(spec, options.parameters ?? {});
  const graph = compileGraph(spec, options, parameters);
  const deadLetterPrefix = compileTemplate(spec.dead_letter.prefix);
  // Without a bucket in the spec, the one the stack creates (docs/decisions/0025-dead-letter-bucket.md).
  const deadLetterBucket = spec.dead_letter.bucket ?? options.deadLetterBucket;
  const clock = options.clock ?? (() => new Date());
  const componentKinds = componentKindsOf(spec);
  const notifyOn = new Set<NotificationEvent>(spec.notifications?.on ?? []);
  const faults = options.faults;
  const fault = faults && ((step: FaultStep) => {
    try {
      faults(step);
    } catch (error) {
      throw error instanceof InjectedCrash ? error : new InjectedCrash(step);
    }
  });

  const begin = (requestId: string, context: Partial<Context> = {}) => {
    const now = clock();
    const metrics = new InvocationMetrics();
    const invocation: Invocation = {
      state: new Map(),
      now,
      requestId,
      deadline: invocationDeadline(context),
      measure: (component, measure, value) => metrics.measure(component, measure, value),
      ...(fault ? { fault } : {}),
    };
    const logger = jsonLogger({ level: spec.runtime.log_level, requestId, pipeline: spec.name, ...(options.write ? { write: options.write } : {}) });
    const capture = options.captureDeadLetters ? new CapturingDeadLetterWriter() : undefined;
    const openDeadLetters = (): DeadLetterWriter => capture
      ?? (deadLetterBucket !== undefined ? new StoreDeadLetterWriter(options.ports.objects, deadLetterBucket, deadLetterPrefix, now) : new MissingDeadLetterWriter());
    return { invocation, logger, capture, deadLetters: openDeadLetters(), openDeadLetters, metrics, started: performance.now() };
  };

  const maintain = (run: ReturnType<typeof begin>, reason: MaintenanceReason, only?: readonly string[]) =>
    runMaintenance(only ? graph.sinks.filter((sink) => only.includes(sink.id)) : graph.sinks, reason, {
      pipeline: spec.name,
      invocation: run.invocation,
      logger: run.logger,
      openDeadLetters: run.openDeadLetters,
      notifier: options.ports.notifier,
      notifyOn,
    });

  /** One notification per invocation that set records aside, when the spec asks for it. */
  const notifyDeadLetters = async (run: ReturnType<typeof begin>, result: InvocationResult): Promise<void> => {
    if (result.counts.dead_lettered === 0 || !notifyOn.has('dead_letter') || options.ports.notifier === undefined) return;
    const byComponent: Record<string, number> = Object.create(null);
    for (const [component, counters] of run.metrics.entries()) {
      if (counters.dead_lettered > 0) byComponent[component] = counters.dead_lettered;
    }
    try {
      await options.ports.notifier.publish(spec.name, {
        event: 'dead_letter',
        component: Object.keys(byComponent)[0] ?? spec.name,
        subject: `${spec.name}: ${result.counts.dead_lettered} records dead-lettered`,
        detail: { request_id: run.invocation.requestId, dead_lettered: result.counts.dead_lettered, by_component: byComponent },
      });
    } catch (error) {
      // The letters are stored; a lost notification must not make Lambda process the batch again.
      run.logger.log('error', 'dead-letter notification could not be published', { error: error instanceof Error ? error.message : String(error) });
    }
  };

  const finish = (run: ReturnType<typeof begin>, kind: string, result: InvocationResult, partialBatch: boolean): InvocationSummary => {
    const { logger, metrics } = run;
    const duration = Math.round(performance.now() - run.started);
    const { failures, failedIds } = itemFailures(result.items);
    const failedItems = failures.filter((failure) => failure.retried);
    logger.log('info', 'invocation complete', { event: kind, items: result.items.length, failed_items: failedItems.length, ...result.counts, duration_ms: duration });
    for (const line of metrics.toEmbeddedMetricFormat(spec.name, run.invocation.now.getTime())) (options.write ?? writeStdout)(line);
    const unreconciled = reconciliationErrors(result, metrics, componentKinds);
    if (unreconciled.length > 0) logger.log('error', 'outcome counts do not reconcile: this is a bug in Ingest', { ...result.counts, problems: unreconciled });
    for (const failure of failures) logger.log('warn', failure.retried ? 'batch item failed and will be retried' : 'batch item was dead-lettered whole', { ...failure });
    const response = partialBatch ? { batchItemFailures: failedIds } : undefined;
    return { ...result, response, metrics, failures, unreconciled, ...(run.capture ? { deadLetters: run.capture.letters } : {}) };
  };

  const invoke = async (event: unknown, context: Partial<Context> = {}): Promise<InvocationSummary> => {
    const run = begin(context.awsRequestId ?? randomUUID(), context);
    const dispatched = dispatchEvent(event, spec.sources, options.ports.objects);
    const redelivery: Redelivery = dispatched.kind === 'kinesis' || dispatched.kind === 'dynamodb' ? 'checkpoint' : dispatched.partialBatch ? 'item' : 'whole';
    const result = await runInvocation({ graph, ...run, redelivery }, dispatched.items);
    await notifyDeadLetters(run, result);
    // The sweep, or loads owed to batches this invocation sealed, while time remains.
    let maintenance: Record<string, MaintenanceReport> | undefined;
    if (dispatched.kind === 'schedule') maintenance = await maintain(run, 'schedule');
    else if (result.sealed.length > 0 && run.invocation.deadline - Date.now() > MIN_MAINTENANCE_MS) maintenance = await maintain(run, 'after-writers', result.sealed);
    const summary = { ...finish(run, dispatched.kind, result, dispatched.partialBatch), ...(maintenance ? { maintenance } : {}) };
    const failed = summary.failures.filter((failure) => failure.retried).length;
    if (failed > 0 && (!dispatched.partialBatch || failed === result.items.length)) {
      throw new InvocationFailedError(`${failed} of ${result.items.length} batch items failed (${result.counts.failed} records); the invocation is retried as a whole`, summary);
    }
    return summary;
  };

  const handler = (async (event: unknown, context?: Partial<Context>) => (await invoke(event, context)).response) as IngestHandler;
  handler.invoke = invoke;
  handler.process = async (items, requestId = randomUUID()) => {
    const run = begin(requestId);
    return finish(run, 'records', await runInvocation({ graph, ...run, redelivery: 'item' }, items), true);
  };
  handler.maintain = (reason, context = {}) => maintain(begin(context.awsRequestId ?? randomUUID(), context), reason);
  return handler;
}

/**
 * The items that failed (retried) or were aborted (dead-lettered whole), and the identifiers of
 * those Lambda retries, in one indexed pass: a stream event has an item per record, and
 * `for...of` in code run once per invocation makes an iterator result for each. A function of its
 * own so that V8 optimizes the loop alone; inside the handler's `finish`, whose code after the
 * loop runs once, it was optimized and thrown away again and again
 * (docs/decisions/0061-fewer-objects-per-record.md).
 */
function itemFailures(items: InvocationResult['items']): { failures: ItemFailureReport[]; failedIds: { itemIdentifier: string }[] } {
  const failures: ItemFailureReport[] = [];
  const failedIds: { itemIdentifier: string }[] = [];
  for (let index = 0; index < items.length; index++) {
    const item = items[index]!;
    if (!item.failed && !item.aborted) continue;
    failures.push({ item: item.id, retried: item.failed, reason: item.reason ?? 'a record of the item failed' });
    if (item.failed && item.id !== undefined) failedIds.push({ itemIdentifier: item.id });
  }
  return { failures, failedIds };
}

/** Least time left after the writers for an invocation to start loading the batches it sealed; the sweep loads them otherwise. */
const MIN_MAINTENANCE_MS = 30_000;

/** Time kept back from the Lambda's remaining time, to settle tickets, close writers and answer. */
export const DEADLINE_MARGIN_MS = 10_000;
/** The budget outside Lambda (CLI, tests), where no context says how long is left: Lambda's maximum. */
const DEFAULT_BUDGET_MS = 900_000;

/**
 * When sinks must have settled every ticket: the remaining time less a margin that is at most a
 * fifth of it, so that short timeouts still leave most of the time for work.
 */
export function invocationDeadline(context: Partial<Context>, now = Date.now()): number {
  const remaining = context.getRemainingTimeInMillis?.() ?? DEFAULT_BUDGET_MS;
  return now + remaining - Math.min(DEADLINE_MARGIN_MS, remaining / 5);
}

function writeStdout(line: string): void {
  process.stdout.write(line + '\n');
}

/** What each component id of the spec is, for the reconciliation check. */
function componentKindsOf(spec: ResolvedSpec): Map<string, ComponentKind> {
  const kinds = new Map<string, ComponentKind>();
  for (const id of Object.keys(spec.sources)) kinds.set(id, 'source');
  for (const id of Object.keys(spec.transforms ?? {})) kinds.set(id, 'transform');
  for (const id of Object.keys(spec.sinks)) kinds.set(id, 'sink');
  return kinds;
}

/** Compiles transforms and sinks and wires consumers, in spec order. */
function compileGraph(spec: ResolvedSpec, options: HandlerOptions, parameters: Record<string, string>): CompiledGraph {
  const consumers = new Map<string, Consumer[]>();
  const addConsumer = (input: string, consumer: Consumer) => {
    const list = consumers.get(input) ?? [];
    list.push(consumer);
    consumers.set(input, list);
  };
  const environment = { files: options.files, parameters, ...(options.recordValidators ? { recordValidators: options.recordValidators } : {}) };

  for (const [id, definition] of Object.entries(spec.transforms ?? {})) {
    const transform: CompiledTransform = {
      id,
      steps: definition.steps.map((step) => {
        const [kind, config] = Object.entries(step)[0]!;
        const plugin = STEP_PLUGINS.get(kind);
        if (!plugin) throw new Error(`transform ${id}: unknown step kind ${kind}`);
        return { kind, run: plugin.compile(config, environment) };
      }),
    };
    for (const input of definition.inputs) addConsumer(input, { kind: 'transform', transform });
  }

  const sinks: CompiledSink[] = [];
  for (const [id, config] of Object.entries(spec.sinks)) {
    const sink = options.sinkOverride?.(id, config) ?? buildSink(id, config, options.ports, { pipeline: spec.name, sources: spec.sources });
    const compiled: CompiledSink = {
      id,
      sink,
      onError: config.on_error,
      ...(config.where ? { where: compileExpression(config.where, { expect: 'bool' }) } : {}),
    };
    sinks.push(compiled);
    for (const input of config.inputs) addConsumer(input, { kind: 'sink', sink: compiled });
  }
  return { pipeline: spec.name, consumers, sinks };
}

function buildSink(id: string, config: ResolvedSink, ports: Ports, environment: SinkEnvironment): Sink {
  const plugin = SINK_PLUGINS.get(config.type);
  if (!plugin) throw new Error(`sink ${id}: the ${config.type} sink is not available in this version of the runtime yet`);
  return plugin.create(id, config, ports, environment);
}
