/**
 * The check that every record is accounted for, in the headline counts, per item and per
 * component (docs/decisions/0008-record-outcomes.md). The handler logs what it finds as a bug;
 * tests assert it finds nothing, on every invocation they run.
 */
import type { ComponentCounters, InvocationMetrics } from '../observe.ts';
import type { InvocationResult } from './pipeline.ts';

export type ComponentKind = 'source' | 'transform' | 'sink';

/**
 * What does not add up, as sentences; empty when everything reconciles. Checked:
 * - headline and every item: in = written + filtered + dead-lettered + failed;
 * - every source and sink: in = out + filtered + dead-lettered + failed (a sink's "out" is
 *   written; its "filtered" are records its `where` did not select);
 * - every transform: the records that passed (in − filtered − dead-lettered − failed) are
 *   between 0 and out (an `explode` step makes more than one of one), and none pass when none
 *   come out;
 * - the sources' records in, plus items that failed before naming a source, equal the
 *   headline's records in;
 * - every record written, dead-lettered or failed in the headline was so at some component:
 *   the components' written, dead-lettered and failed counts are at least the headline's (more
 *   when fan-out takes a record to several sinks).
 */
export function reconciliationErrors(result: InvocationResult, metrics: InvocationMetrics, kinds: ReadonlyMap<string, ComponentKind>): string[] {
  const errors: string[] = [];
  const { counts } = result;
  const settled = (value: { written: number; filtered: number; dead_lettered: number; failed: number }) => value.written + value.filtered + value.dead_lettered + value.failed;
  if (settled(counts) !== counts.records_in) errors.push(`headline: ${counts.records_in} in but ${settled(counts)} settled (${JSON.stringify(counts)})`);
  // Indexed: a stream event has an item per record, and `for...of` in code run once per invocation makes an iterator result for each.
  for (let index = 0; index < result.items.length; index++) {
    const item = result.items[index]!;
    if (settled(item.counts) !== item.counts.records_in) errors.push(`item ${item.id ?? '(event)'}: ${item.counts.records_in} in but ${settled(item.counts)} settled (${JSON.stringify(item.counts)})`);
  }

  let sourcesIn = result.items.filter((item) => item.unattributed).length;
  let sinksOut = 0;
  let deadLettered = 0;
  let failed = sourcesIn;
  for (const [component, counters] of metrics.entries()) {
    const kind = kinds.get(component);
    if (kind === undefined) {
      errors.push(`component ${component} reported counts but is not in the spec`);
      continue;
    }
    const problem = componentProblem(kind, counters);
    if (problem) errors.push(`${kind} ${component}: ${problem} (${describe(counters)})`);
    if (kind === 'source') sourcesIn += counters.records_in;
    if (kind === 'sink') sinksOut += counters.records_out;
    deadLettered += counters.dead_lettered;
    failed += counters.failed;
  }
  if (sourcesIn !== counts.records_in) errors.push(`sources: ${sourcesIn} records in, the headline ${counts.records_in}`);
  if (sinksOut < counts.written) errors.push(`sinks: ${sinksOut} records written, fewer than the headline's ${counts.written}`);
  if (deadLettered < counts.dead_lettered) errors.push(`components: ${deadLettered} records dead-lettered, fewer than the headline's ${counts.dead_lettered}`);
  if (failed < counts.failed) errors.push(`components: ${failed} records failed, fewer than the headline's ${counts.failed}`);
  return errors;
}

function componentProblem(kind: ComponentKind, counters: Readonly<ComponentCounters>): string | undefined {
  const { records_in: recordsIn, records_out: out, filtered, dead_lettered: deadLettered, failed } = counters;
  if (kind !== 'transform') {
    const total = out + filtered + deadLettered + failed;
    return total === recordsIn ? undefined : `${recordsIn} in but ${total} settled`;
  }
  const passed = recordsIn - filtered - deadLettered - failed;
  if (passed < 0) return `${recordsIn} in but more filtered, dead-lettered or failed`;
  if (passed > out) return `${passed} records passed but only ${out} came out`;
  if (out > 0 && passed === 0) return `${out} records came out but none passed`;
  return undefined;
}

function describe(counters: Readonly<ComponentCounters>): string {
  return `in ${counters.records_in}, out ${counters.records_out}, filtered ${counters.filtered}, dead-lettered ${counters.dead_lettered}, failed ${counters.failed}`;
}
