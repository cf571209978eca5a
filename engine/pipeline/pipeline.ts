import type { CompiledExpression } from '../expression/index.ts';
import { InvocationMetrics } from '../observe.ts';
import type { Logger } from '../observe.ts';
import type { Invocation, ItemScope, Sink, SinkFailure, SinkWriter, Step } from '../plugin/types.ts';
import { InjectedCrash, RecordError } from '../plugin/types.ts';
import { classifyStoreError } from '../ports/classify-store-error.ts';
import type { DeadLetterWriter } from './dead-letters.ts';
import { ItemOutcome, LateFailures, RecordTracker, emptyCounts, messageOf } from './outcome.ts';
import type { OutcomeContext, OutcomeCounts } from './outcome.ts';
import { ItemReadError } from './record.ts';
import type { Decoded, FailureCode, RecordMeta, RecordValue } from './record.ts';

export interface CompiledTransform {
  id: string;
  steps: { kind: string; run: Step }[];
}

export interface CompiledSink {
  id: string;
  where?: CompiledExpression;
  onError: 'retry' | 'dead_letter';
  sink: Sink;
}

/** The spec's graph, compiled once per cold start: who consumes each source and transform. */
export interface CompiledGraph {
  pipeline: string;
  /** Consumers of each source or transform id, in spec order. */
  consumers: ReadonlyMap<string, readonly Consumer[]>;
  sinks: readonly CompiledSink[];
}

export type Consumer = { kind: 'transform'; transform: CompiledTransform } | { kind: 'sink'; sink: CompiledSink };

/** One unit of retry (Kinesis record, DynamoDB record, SQS message) and the records decoded from it. */
export interface BatchItem {
  id: string | undefined;
  /**
   * An array when the item was decoded whole before its first record is delivered (stream
   * records): final as it arrives, so sinks are never asked to commit it. An async iterator of
   * chunks when records are read as they are delivered (S3 objects): each chunk holds the next
   * records in order (those decoded from one piece of the input, possibly none), and the pipeline
   * asks for the next chunk only once every record of the one before is routed and every sink
   * write it waited on has resolved, so back-pressure from sinks reaches the reader. Such an item
   * is staged: committed only once the iterator completes, and aborted when it throws
   * (docs/decisions/0010-item-commit-point.md). Chunks rather than single records because a
   * promise per record through the reader's generators cost over a quarter of reading an object
   * (docs/decisions/0060-chunked-object-reading.md).
   */
  records: readonly Decoded[] | AsyncIterable<readonly Decoded[]>;
  /** The source of the item's records when known before reading: an item that fails before its first record is counted under it. */
  source?: string;
}

export interface InvocationResult {
  items: ItemOutcome[];
  counts: OutcomeCounts;
  /** Sinks whose writers sealed a batch while settling: their maintenance is due. */
  sealed: string[];
}

/**
 * Which items Lambda delivers again after this invocation answers:
 * - `checkpoint` (Kinesis, DynamoDB): every item from the first failed one on (the checkpoint);
 * - `item` (SQS, `ingest test`): each failed item alone;
 * - `whole` (a direct invocation): every item when any failed, since the invocation then fails.
 */
export type Redelivery = 'checkpoint' | 'item' | 'whole';

/** What one invocation runs with: writers are per invocation, the graph per cold start. */
export interface RunContext {
  graph: CompiledGraph;
  invocation: Invocation;
  deadLetters: DeadLetterWriter;
  metrics: InvocationMetrics;
  logger: Logger;
  redelivery: Redelivery;
}

/**
 * Runs decoded records through transforms into sinks, and settles every record into exactly one
 * outcome. A failure of one record (bad payload, throwing step or `where`, a sink that throws,
 * a record too deep to copy or serialize) never affects its neighbours: it ends in that record's
 * dead letter or failure. Sinks and dead letters publish an item's output only when the item is
 * committed; an item whose iterator throws is aborted: its output is discarded and it ends in one
 * dead letter (an `ItemReadError`) or fails for retry (anything else). Resolves once every sink
 * and the dead letters are closed; the counts are then final.
 */
export async function runInvocation(context: RunContext, items: Iterable<BatchItem> | AsyncIterable<BatchItem>): Promise<InvocationResult> {
  const { graph, invocation, metrics, logger, deadLetters } = context;
  const writers = new Map<CompiledSink, SinkWriter>();
  for (const sink of graph.sinks) writers.set(sink, sink.sink.open(invocation));
  const outcomeContext: OutcomeContext = { deadLetters, logger };
  const router = new Router(context, writers);

  let lastTracker: RecordTracker | undefined;
  let lastDecoded: Decoded | undefined;
  const settle = (decoded: Decoded, item: ItemOutcome): Promise<void> | void => {
    const tracker = new RecordTracker(item, outcomeContext, decoded.meta, decoded.raw);
    lastTracker = tracker;
    lastDecoded = decoded;
    try {
      const pending = router.settle(decoded, tracker);
      if (pending) return pending.then(() => tracker.doneRouting(), (error: unknown) => tracker.unexpected(error));
      tracker.doneRouting();
    } catch (error) {
      tracker.unexpected(error);
    }
  };

  const results: ItemOutcome[] = [];
  // Stream items, and each chunk of an object's records, are arrays: iterated synchronously, waiting only for sink writes.
  const settleArray = (records: readonly Decoded[], item: ItemOutcome, from = 0): Promise<void> | void => {
    for (let index = from; index < records.length; index++) {
      const pending = settle(records[index]!, item);
      if (pending) return pending.then(() => settleArray(records, item, index + 1));
    }
  };
  // Objects stream: records arrive a chunk at a time as they are read, so memory stays bounded by the sinks' batches.
  const settleStream = async (chunks: AsyncIterable<readonly Decoded[]>, item: ItemOutcome, source: string | undefined): Promise<void> => {
    let last: RecordMeta | undefined;
    try {
      for await (const chunk of chunks) {
        if (chunk.length === 0) continue;
        last = chunk[chunk.length - 1]!.meta;
        const pending = settleArray(chunk, item);
        if (pending) await pending;
      }
    } catch (error) {
      await abort(item, error, last, source);
      return;
    }
    await commit(item);
  };

  const commit = (item: ItemOutcome): Promise<void> | void => {
    if (item.scope.staged) {
      metrics.merge(item.metrics);
      item.metrics = metrics;
    }
    let pending: Promise<void>[] | undefined;
    for (const [sink, writer] of writers) {
      let promise: Promise<void> | void;
      try {
        promise = writer.commit(item.scope, new LateFailures(item, outcomeContext, sink.id, sink.onError));
      } catch (error) {
        commitFailed(item, `sink ${sink.id}`, error);
        continue;
      }
      if (promise) (pending ??= []).push(promise.catch((error: unknown) => commitFailed(item, `sink ${sink.id}`, error)));
    }
    let promise: Promise<void> | void = undefined;
    try {
      promise = deadLetters.commit(item.scope);
    } catch (error) {
      commitFailed(item, 'the dead-letter writer', error);
    }
    item.committed();
    if (promise) (pending ??= []).push(promise.catch((error: unknown) => commitFailed(item, 'the dead-letter writer', error)));
    return whenAll(pending);
  };

  const abort = async (item: ItemOutcome, error: unknown, last: RecordMeta | undefined, declared: string | undefined): Promise<void> => {
    const readError = error instanceof ItemReadError ? error : undefined;
    const reason = readError ? `${readError.code}: ${readError.message}` : describeItemError(error);
    item.abort(reason, metrics);
    for (const [sink, writer] of writers) {
      await guarded(() => writer.abort(item.scope), (abortError) => logger.log('error', 'sink could not discard an aborted item', { sink: sink.id, error: messageOf(abortError) }));
    }
    await guarded(() => deadLetters.abort(item.scope), (abortError) => logger.log('error', 'dead letters could not discard an aborted item', { error: messageOf(abortError) }));
    const meta = readError?.meta ?? last;
    if (readError && meta) {
      logger.log('warn', 'batch item is unreadable; its records were discarded and it is dead-lettered as a whole', { item: item.id, code: readError.code, error: readError.message });
      const tracker = new RecordTracker(item, outcomeContext, meta, readError.raw);
      const counters = metrics.counters(meta.source);
      counters.records_in++;
      counters.bytes += readError.raw.byteLength;
      await tracker.deadLetter('decode', readError.code, readError.message, meta.source);
      tracker.doneRouting();
      return;
    }
    // Not a bad record but a failure to read the item at all: retry the whole item.
    logger.log('error', 'batch item could not be read; it will be retried', { item: item.id, error: reason });
    item.counts.records_in++;
    item.counts.failed++;
    item.fail(reason);
    const source = meta?.source ?? declared;
    if (source !== undefined) {
      metrics.count(source, 'records_in');
      metrics.count(source, 'failed');
    } else {
      item.unattributed = true;
    }
  };

  /** Settles the records of one item and commits it; returns a promise only when it has to wait. */
  const runItem = (batchItem: BatchItem): Promise<void> | void => {
    const staged = !Array.isArray(batchItem.records);
    const item = new ItemOutcome(batchItem.id, results.length, staged, staged ? new InvocationMetrics() : metrics);
    results.push(item);
    if (staged) return settleStream(batchItem.records as AsyncIterable<readonly Decoded[]>, item, batchItem.source);
    const pending = settleArray(batchItem.records as readonly Decoded[], item);
    // An item decoded whole is final once routed: sinks treat its records as committed on arrival.
    return pending;
  };

  if (Symbol.iterator in items) {
    // Stream events: no await per item (a microtask each, for thousands of items) unless one waits.
    for (const item of items) {
      const pending = runItem(item);
      if (pending) await pending;
    }
  } else {
    for await (const item of items) {
      const pending = runItem(item);
      if (pending) await pending;
    }
  }

  for (const [sink, writer] of writers) {
    const started = performance.now();
    await writer.close();
    metrics.count(sink.id, 'duration_ms', performance.now() - started);
  }
  await deadLetters.close();
  // A staged item's letters settled as the writer took them; one that could not then be stored
  // fails its item before any sink registers the item's output. Only S3 objects are staged, and
  // they are redelivered per item or as a whole invocation, never from a checkpoint.
  for (const { item, reason } of deadLetters.failedItems()) results[item.index]?.fail(`the dead-letter writer: ${reason}`);
  const sealed = await settleWriters(context, writers, results);
  const counts = emptyCounts();
  for (const item of results) {
    for (const outcome of OUTCOME_COUNTERS) counts[outcome] += item.counts[outcome];
  }
  // The writers are done: each sink decides what of its writer outlives the invocation (a
  // warehouse writer holds its stored files), so the retained router keeps none of them.
  writers.clear();
  retained = { router, item: results[results.length - 1], tracker: lastTracker, decoded: lastDecoded };
  return { items: results, counts, sealed };
}

/**
 * One object of each layout the last invocation made, alive until the next one ends: its
 * router (and through it the run context, invocation and metrics), its last item, and its
 * last record's tracker and decoded value. V8 collects a hidden class once no object has it, and
 * deoptimizes every function compiled against it; a full collection between two invocations
 * (Lambda's idle-time GC, the runtime benchmark's `gc()`) then made the next invocation run the
 * hot path unoptimized and compile it again (docs/decisions/0057-stable-layouts.md).
 */
let retained: unknown;

const OUTCOME_COUNTERS = ['records_in', 'written', 'filtered', 'dead_lettered', 'failed'] as const;

/**
 * Once every outcome is final, lets each batching sink publish what it holds of the items that
 * will not be delivered again (docs/decisions/0031-exactly-once-warehouse-loads.md, section 2).
 * An item a sink could not publish fails, and with `checkpoint` redelivery so does every later
 * item, so that the checkpoint never moves past an unpublished record. Sinks settle one after
 * another, each seeing the failures of the ones before. A sink that rejects (a bug) fails every
 * item; an injected crash ends the invocation.
 */
async function settleWriters(context: RunContext, writers: Map<CompiledSink, SinkWriter>, items: readonly ItemOutcome[]): Promise<string[]> {
  const sealed: string[] = [];
  const { redelivery, logger } = context;
  const firstFailed = () => items.findIndex((item) => item.failed);
  const redelivered = (scope: ItemScope): boolean => {
    const item = items[scope.index];
    if (item === undefined) return true;
    if (redelivery === 'item') return item.failed;
    const first = firstFailed();
    return first !== -1 && (redelivery === 'whole' || scope.index >= first);
  };
  for (const [sink, writer] of writers) {
    if (!writer.settle) continue;
    let failed: { item: ItemScope; reason: string }[];
    try {
      const result = await writer.settle({ redelivered });
      failed = result.failed;
      if ((result.sealed?.length ?? 0) > 0) sealed.push(sink.id);
    } catch (error) {
      if (error instanceof InjectedCrash) throw error;
      logger.log('error', 'sink could not settle the invocation; every item is retried', { sink: sink.id, error: messageOf(error) });
      failed = items.map((item) => ({ item: item.scope, reason: `sink ${sink.id} could not settle: ${messageOf(error)}` }));
    }
    for (const { item, reason } of failed) items[item.index]?.fail(`sink ${sink.id}: ${reason}`);
    if (redelivery === 'checkpoint' && failed.length > 0) {
      const first = Math.min(...failed.map(({ item }) => item.index));
      for (const item of items.slice(first + 1)) item.fail(`an earlier item of the batch could not be published by sink ${sink.id}`);
    }
  }
  return sealed;
}

/** A writer that throws on `commit` has a bug; the item is retried rather than its output assumed published. */
function commitFailed(item: ItemOutcome, writer: string, error: unknown): void {
  item.fail(`${writer} could not commit the item: ${messageOf(error)}`);
}

/** Runs a sink's or the dead-letter writer's item hook; a throw or rejection goes to `onError` instead of the invocation. */
function guarded(hook: () => Promise<void> | void, onError: (error: unknown) => void): Promise<void> | undefined {
  try {
    return hook()?.catch(onError);
  } catch (error) {
    onError(error);
    return undefined;
  }
}

/** The reason an item could not be read, as summaries show it: the store's error name and message. */
function describeItemError(error: unknown): string {
  const { reason } = classifyStoreError(error);
  const message = messageOf(error);
  return message.startsWith(reason) ? message : `${reason}: ${message}`;
}

/**
 * Moves records through the compiled graph for one invocation. Every method returns a promise
 * only when a sink write is in flight, so the common path stays synchronous. Counts go to the
 * metrics of the record's item (`RecordTracker.metrics`).
 */
class Router {
  constructor(
    private readonly context: RunContext,
    private readonly writers: Map<CompiledSink, SinkWriter>,
  ) {}

  /** Counts one decoded item at its source and routes it: a record onward, a decode failure to the dead letters. */
  settle(decoded: Decoded, tracker: RecordTracker): Promise<void> | void {
    const source = decoded.meta.source;
    const sourceCounters = tracker.metrics.counters(source);
    sourceCounters.records_in++;
    sourceCounters.bytes += decoded.raw.byteLength;
    if (decoded.outcome === 'record') {
      sourceCounters.records_out++;
      return this.route(source, decoded.value, tracker);
    }
    if (decoded.outcome === 'filtered') {
      sourceCounters.filtered++;
      return;
    }
    return tracker.deadLetter('decode', decoded.code, decoded.message, source);
  }

  /** Offers a record to every consumer of `from`. Fan-out hands each consumer its own copy (steps mutate records in place); the last consumer gets the original. */
  route(from: string, record: RecordValue, tracker: RecordTracker): Promise<void> | void {
    const consumers = this.context.graph.consumers.get(from);
    if (!consumers) return;
    let pending: Promise<void>[] | undefined;
    const last = consumers.length - 1;
    for (let index = 0; index <= last; index++) {
      const consumer = consumers[index]!;
      let own = record;
      if (index !== last) {
        try {
          own = structuredClone(record);
        } catch (error) {
          // A record too deep (or too odd) to copy fails for this consumer alone.
          const id = consumer.kind === 'transform' ? consumer.transform.id : consumer.sink.id;
          tracker.metrics.count(id, 'records_in');
          const promise = tracker.deadLetter('transform', 'transform-error', `the record could not be copied for ${id}: ${messageOf(error)}`, id, record);
          if (promise) (pending ??= []).push(promise);
          continue;
        }
      }
      const promise = consumer.kind === 'transform' ? this.transform(consumer.transform, own, tracker) : this.deliver(consumer.sink, own, tracker);
      if (promise) (pending ??= []).push(promise);
    }
    return whenAll(pending);
  }

  private transform(compiled: CompiledTransform, record: RecordValue, tracker: RecordTracker): Promise<void> | void {
    const { invocation } = this.context;
    const { meta } = tracker;
    const counters = tracker.metrics.counters(compiled.id);
    counters.records_in++;
    // One record in, one record out is the common case: no arrays until a step explodes.
    let single: RecordValue | undefined = record;
    let many: RecordValue[] | undefined;
    const steps = compiled.steps;
    for (let index = 0; index < steps.length; index++) {
      const step = steps[index]!;
      try {
        if (many === undefined) {
          const result = step.run(single!, meta, invocation);
          if (Array.isArray(result)) many = result;
          else single = result;
        } else {
          const next: RecordValue[] = [];
          for (const input of many) {
            single = input;
            const result = step.run(input, meta, invocation);
            if (Array.isArray(result)) next.push(...result);
            else if (result !== undefined) next.push(result);
          }
          many = next;
        }
      } catch (error) {
        const code: FailureCode = error instanceof RecordError ? error.code : 'transform-error';
        const message = `step ${index + 1} (${step.kind}) of transform ${compiled.id}: ${messageOf(error)}`;
        return tracker.deadLetter('transform', code, message, compiled.id, single);
      }
      if (many === undefined ? single === undefined : many.length === 0) {
        counters.filtered++;
        return;
      }
    }
    if (many === undefined) {
      counters.records_out++;
      return this.route(compiled.id, single!, tracker);
    }
    counters.records_out += many.length;
    let pending: Promise<void>[] | undefined;
    for (const output of many) {
      const promise = this.route(compiled.id, output, tracker);
      if (promise) (pending ??= []).push(promise);
    }
    return whenAll(pending);
  }

  private deliver(sink: CompiledSink, record: RecordValue, tracker: RecordTracker): Promise<void> | void {
    const { meta } = tracker;
    const counters = tracker.metrics.counters(sink.id);
    counters.records_in++;
    if (sink.where) {
      let selected: unknown;
      try {
        selected = sink.where(record, meta);
      } catch (error) {
        return tracker.deadLetter('transform', 'transform-error', `\`where\` of sink ${sink.id}: ${messageOf(error)}`, sink.id, record);
      }
      if (selected !== true) {
        counters.filtered++;
        return;
      }
    }
    const ticket = tracker.sinkTicket(sink.id, sink.onError, record);
    let pending: Promise<void> | void;
    try {
      pending = this.writers.get(sink)!.add({ record, meta, ticket, item: tracker.scope, raw: tracker.raw, ordinal: tracker.ordinal });
    } catch (error) {
      ticket.failIfOpen(sinkThrew(sink, error));
      return;
    }
    ticket.accepted();
    // No closure per record: only a write in flight needs one.
    return pending?.catch((error: unknown) => ticket.failIfOpen(sinkThrew(sink, error)));
  }
}

/** A sink that throws on a record (instead of failing its ticket) fails that record alone. */
function sinkThrew(sink: CompiledSink, error: unknown): SinkFailure {
  return { code: 'sink-rejected', message: `sink ${sink.id} failed on the record: ${messageOf(error)}`, retryable: false };
}

function whenAll(pending: Promise<void>[] | undefined): Promise<void> | undefined {
  return pending && Promise.all(pending).then(() => undefined);
}
