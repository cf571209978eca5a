// The reconciliation every test of the handler asserts: shared so that no test can forget it.
import { expect } from 'vitest';
import { COUNTERS } from '../../engine/observe.ts';
import { InvocationFailedError } from '../../engine/handler.ts';
import type { IngestHandler, InvocationSummary } from '../../engine/handler.ts';

const METRIC_NAMES = { records_in: 'RecordsIn', records_out: 'RecordsOut', filtered: 'RecordsFiltered', dead_lettered: 'RecordsDeadLettered', failed: 'RecordsFailed', bytes: 'Bytes' } as const;

/**
 * Asserts that `summary` reconciles (headline, items, components: `reconciliationErrors`) and
 * that the EMF documents among `lines` (the log lines of this invocation alone) say exactly what
 * the component counters say, component by component.
 */
export function expectReconciled(summary: InvocationSummary, lines: readonly string[]): void {
  expect(summary.unreconciled, 'outcome counts reconcile').toEqual([]);
  const documents = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry._aws !== undefined);
  const fromEmf = Object.fromEntries(documents.map((document) => [document.Component as string, Object.fromEntries(COUNTERS.map((counter) => [counter, document[METRIC_NAMES[counter]]]))]));
  const fromCounters = Object.fromEntries([...summary.metrics.entries()].map(([component, counters]) => [component, Object.fromEntries(COUNTERS.map((counter) => [counter, counters[counter]]))]));
  expect(fromEmf, 'EMF metrics agree with the component counters').toEqual(fromCounters);
}

/**
 * Wraps a handler so that every invocation through it (the handler itself, `invoke`, `process`,
 * and invocations that fail as a whole) asserts `expectReconciled` on the lines it logged.
 */
export function reconciling(handler: IngestHandler, lines: string[]): IngestHandler {
  const checked = async (run: () => Promise<InvocationSummary>): Promise<InvocationSummary> => {
    const from = lines.length;
    try {
      const summary = await run();
      expectReconciled(summary, lines.slice(from));
      return summary;
    } catch (error) {
      if (error instanceof InvocationFailedError) expectReconciled(error.summary, lines.slice(from));
      throw error;
    }
  };
  const invoke: IngestHandler['invoke'] = (event, context) => checked(() => handler.invoke(event, context));
  const wrapped = (async (event: unknown, context?: Parameters<IngestHandler>[1]) => (await invoke(event, context)).response) as IngestHandler;
  wrapped.invoke = invoke;
  wrapped.process = (items, requestId) => checked(() => handler.process(items, requestId));
  wrapped.maintain = (reason, context) => handler.maintain(reason, context);
  return wrapped;
}
