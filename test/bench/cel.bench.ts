/**
 * CEL evaluation cost over JSON records, as Ingest runs it. Prints figures; asserts nothing.
 *
 *   npx tsx test/bench/cel.bench.ts [records]
 *
 * Compares, for a realistic `filter` and `set` expression: a hand-written JavaScript function
 * (the floor), the raw @marcbachmann/cel-js call, Ingest's compiled expression (which adds
 * error mapping and the conversion of results to plain JSON), and the alternative we rejected,
 * deep-copying each record to turn integral numbers into BigInt before evaluation. The
 * comparison with the `cel-js` package is in docs/decisions/0003-cel-implementation.md; it
 * needs that package, which the project does not install.
 */
import { Environment } from '@marcbachmann/cel-js';
import { compileExpression } from '../../engine/expression/index.ts';
import type { RecordValue } from '../../engine/pipeline/record.ts';

const count = Number(process.argv[2] ?? 100_000);
const FILTER = "record.event_type != 'heartbeat' && record.count > 3 && record.tags.exists(t, t == 'promo')";
const SET = 'int(record.amount * 100.0)';

function makeRecords(): RecordValue[] {
  const types = ['purchase', 'view', 'heartbeat', 'click', 'heartbeat'];
  const records: RecordValue[] = [];
  for (let index = 0; index < count; index++) {
    const line = JSON.stringify({
      event_id: `e${index}`,
      event_type: types[index % types.length],
      uid: index % 977,
      amount: (index % 1000) / 7,
      count: index % 11,
      tags: index % 3 ? ['a', 'promo'] : ['b'],
      ts: new Date(1_700_000_000_000 + index * 1000).toISOString(),
      debug: { x: index },
    });
    records.push(JSON.parse(line) as RecordValue);
  }
  return records;
}

interface Variant {
  label: string;
  run: () => unknown;
}

/**
 * Runs the variants round-robin (so JIT warm-up and GC pressure fall on all of them alike) and
 * prints the median time of each, with its cost per operation. Returns the medians in order.
 */
function compare(operations: number, variants: Variant[], rounds = 9): number[] {
  const times: number[][] = variants.map(() => []);
  const results: unknown[] = [];
  for (let round = 0; round < rounds; round++) {
    variants.forEach((variant, index) => {
      const start = process.hrtime.bigint();
      results[index] = variant.run();
      times[index]!.push(Number(process.hrtime.bigint() - start) / 1e6);
    });
  }
  return variants.map((variant, index) => {
    const sorted = times[index]!.sort((a, b) => a - b);
    const median = sorted[Math.floor(rounds / 2)]!;
    const perOperation = ((median * 1e6) / operations).toFixed(0).padStart(6);
    console.log(`  ${variant.label.padEnd(48)} ${median.toFixed(1).padStart(8)} ms  ${perOperation} ns/op  (${String(results[index])})`);
    return median;
  });
}

function toBigIntCopy(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toBigIntCopy);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, toBigIntCopy(entry)]));
  }
  return value;
}

const records = makeRecords();
const meta = { source: 'clicks', arrival_time: '2026-11-27T10:00:00Z', position: 'bucket/key:1' };
const raw = new Environment({ homogeneousAggregateLiterals: false })
  .registerVariable('record', 'map')
  .registerVariable('meta', 'map');

console.log(`node ${process.version}, ${count} records`);

console.log(`filter: ${FILTER}`);
const rawFilter = raw.parse(FILTER);
rawFilter.check();
const filter = compileExpression(FILTER, { expect: 'bool' });
const jsFilter = (record: RecordValue): boolean =>
  record.event_type !== 'heartbeat' && (record.count as number) > 3 && (record.tags as string[]).some((tag) => tag === 'promo');
const [filterJs, filterRaw, filterIngest, filterCopy] = compare(count, [
  { label: 'hand-written JavaScript', run: () => records.filter(jsFilter).length },
  { label: '@marcbachmann/cel-js, raw call', run: () => records.filter((record) => rawFilter({ record, meta })).length },
  { label: 'compileExpression (Ingest)', run: () => records.filter((record) => filter(record, meta)).length },
  {
    label: 'raw call on a BigInt deep copy of each record',
    run: () => records.filter((record) => rawFilter({ record: toBigIntCopy(record), meta })).length,
  },
]) as [number, number, number, number];
console.log(
  `  ratios: Ingest/JavaScript ${(filterIngest / filterJs).toFixed(1)}x, Ingest/raw ${(filterIngest / filterRaw).toFixed(2)}x, deep copy/raw ${(filterCopy / filterRaw).toFixed(1)}x`,
);

console.log(`set: ${SET}`);
const rawSet = raw.parse(SET);
rawSet.check();
const set = compileExpression(SET);
const sum = (values: Iterable<unknown>): number => {
  let total = 0;
  for (const value of values) total += Number(value);
  return total;
};
const [setJs, setRaw, setIngest] = compare(count, [
  { label: 'hand-written JavaScript', run: () => sum(records.map((record) => Math.trunc((record.amount as number) * 100))) },
  { label: '@marcbachmann/cel-js, raw call (returns BigInt)', run: () => sum(records.map((record) => rawSet({ record, meta }))) },
  { label: 'compileExpression (Ingest, returns number)', run: () => sum(records.map((record) => set(record, meta))) },
]) as [number, number, number];
console.log(`  ratios: Ingest/JavaScript ${(setIngest / setJs).toFixed(1)}x, Ingest/raw ${(setIngest / setRaw).toFixed(2)}x`);

const compilations = 2_000;
console.log(`compile: parse + type-check, ${compilations} times each expression`);
compare(compilations * 2, [
  {
    label: 'compileExpression',
    run: () => {
      for (let index = 0; index < compilations; index++) {
        compileExpression(FILTER, { expect: 'bool' });
        compileExpression(SET);
      }
      return compilations * 2;
    },
  },
], 5);
