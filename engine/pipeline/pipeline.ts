import type { CompiledExpression } from '../expression/index.ts';
import type { InvocationMetrics, Logger } from '../observe.ts';
import type { Invocation, Sink, SinkWriter, Step } from '../plugin/types.ts';
import { RecordError } from '../plugin/types.ts';
import type { DeadLetterWriter } from './dead-letters.ts';
import { ItemOutcome, RecordTracker, emptyCounts } from './outcome.ts';
import type { Outcome, OutcomeCounts } from './outcome.ts';
import type { Decoded, FailureCode, RecordValue } from './record.ts';

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
  records: Iterable<Decoded> | AsyncIterable<Decoded>;
}

export interface InvocationResult {
  items: ItemOutcome[];
  counts: OutcomeCounts;
}

/** What one invocation runs with: writers are per invocation, the graph per cold start. */
export interface RunContext {
  graph: CompiledGraph;
  invocation: Invocation;
  deadLetters: DeadLetterWriter;
  metrics: InvocationMetrics;
  logger: Logger;
}

/**
 * Runs decoded records through transforms into sinks, and settles every record into exactly one
 * outcome. A failure of one record (bad payload, throwing step, rejected write) never affects its
 * neighbours. An item whose decoding fails outright (the object store is unreachable) is marked
 * failed as a whole. Resolves once every sink and the dead letters are closed.
 */
export async function runInvocation(context: RunContext, items: Iterable<BatchItem> | AsyncIterable<BatchItem>): Promise<InvocationResult> {
  const { graph, invocation, metrics, logger } = context;
  const writers = new Map<CompiledSink, SinkWriter>();
  for (const sink of graph.sinks) writers.set(sink, sink.sink.open(invocation));
  const counts = emptyCounts();
  const outcomeContext = {
    deadLetters: context.deadLetters,
    metrics,
    logger,
    onFinal: (outcome: Outcome) => {
      counts[outcome]++;
    },
  };

  const router = new Router(context, writers);
  const settle = (decoded: Decoded, outcome: ItemOutcome): Promise<void> | void => {
    counts.records_in++;
    const tracker = new RecordTracker(outcome, outcomeContext, decoded.meta, decoded.raw);
    const source = decoded.meta.source;
    const sourceCounters = metrics.counters(source);
    sourceCounters.records_in++;
    sourceCounters.bytes += decoded.raw.byteLength;
    if (decoded.outcome === 'record') {
      sourceCounters.records_out++;
      const pending = router.route(source, decoded.value, tracker);
      if (pending) return pending.then(() => tracker.doneRouting());
    } else if (decoded.outcome === 'filtered') {
      sourceCounters.filtered++;
    } else {
      sourceCounters.dead_lettered++;
      const pending = tracker.deadLetter('decode', decoded.code, decoded.message, source);
      if (pending) return pending.then(() => tracker.doneRouting());
    }
    tracker.doneRouting();
  };

  const results: ItemOutcome[] = [];
  const unreadable = (item: BatchItem, outcome: ItemOutcome, error: unknown) => {
    // Not a bad record but a failure to read the item at all: retry the whole item.
    outcome.failed = true;
    logger.log('error', 'batch item could not be read; it will be retried', { item: item.id, error: (error as Error).message });
  };
  // Stream sources decode to arrays: iterated synchronously, waiting only for sink writes.
  const settleArray = (records: readonly Decoded[], outcome: ItemOutcome, from = 0): Promise<void> | void => {
    for (let index = from; index < records.length; index++) {
      const pending = settle(records[index]!, outcome);
      if (pending) return pending.then(() => settleArray(records, outcome, index + 1));
    }
  };
  // Objects stream: records arrive as they are read, so memory stays bounded by the sinks' batches.
  const settleStream = async (records: Iterable<Decoded> | AsyncIterable<Decoded>, outcome: ItemOutcome): Promise<void> => {
    for await (const decoded of records) {
      const pending = settle(decoded, outcome);
      if (pending) await pending;
    }
  };
  /** Settles the records of one item; returns a promise only when it has to wait. */
  const runItem = (item: BatchItem): Promise<void> | void => {
    const outcome = new ItemOutcome(item.id);
    results.push(outcome);
    try {
      const pending = Array.isArray(item.records) ? settleArray(item.records, outcome) : settleStream(item.records, outcome);
      return pending?.catch((error: unknown) => unreadable(item, outcome, error));
    } catch (error) {
      unreadable(item, outcome, error);
    }
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
  await context.deadLetters.close();
  return { items: results, counts };
}

/**
 * Moves records through the compiled graph for one invocation. Every method returns a promise
 * only when a sink write is in flight, so the common path stays synchronous.
 */
class Router {
  constructor(
    private readonly context: RunContext,
    private readonly writers: Map<CompiledSink, SinkWriter>,
  ) {}

  /** Offers a record to every consumer of `from`. Fan-out hands each consumer its own copy (steps mutate records in place); the last consumer gets the original. */
  route(from: string, record: RecordValue, tracker: RecordTracker): Promise<void> | void {
    const consumers = this.context.graph.consumers.get(from);
    if (!consumers) return;
    let pending: Promise<void>[] | undefined;
    const last = consumers.length - 1;
    for (let index = 0; index <= last; index++) {
      const consumer = consumers[index]!;
      const own = index === last ? record : structuredClone(record);
      const promise = consumer.kind === 'transform' ? this.transform(consumer.transform, own, tracker) : this.deliver(consumer.sink, own, tracker);
      if (promise) (pending ??= []).push(promise);
    }
    return whenAll(pending);
  }

  private transform(compiled: CompiledTransform, record: RecordValue, tracker: RecordTracker): Promise<void> | void {
    const { metrics, invocation } = this.context;
    const { meta } = tracker;
    const counters = metrics.counters(compiled.id);
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
        counters.dead_lettered++;
        const code: FailureCode = error instanceof RecordError ? error.code : 'transform-error';
        const message = `step ${index + 1} (${step.kind}) of transform ${compiled.id}: ${(error as Error).message}`;
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
    if (sink.where) {
      let selected: unknown;
      try {
        selected = sink.where(record, meta);
      } catch (error) {
        return tracker.deadLetter('transform', 'transform-error', `\`where\` of sink ${sink.id}: ${(error as Error).message}`, sink.id, record);
      }
      if (selected !== true) return;
    }
    this.context.metrics.count(sink.id, 'records_in');
    const ticket = tracker.sinkTicket(sink.id, sink.onError, record);
    const pending = this.writers.get(sink)!.add({ record, meta, ticket });
    ticket.accepted();
    return pending;
  }
}

function whenAll(pending: Promise<void>[] | undefined): Promise<void> | undefined {
  return pending && Promise.all(pending).then(() => undefined);
}
