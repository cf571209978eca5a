import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { diffLines } from 'diff';
import { parse as parseLossless } from 'lossless-json';
import { createHandler } from '../handler.ts';
import type { InvocationSummary } from '../handler.ts';
import type { DeadLetter } from '../pipeline/dead-letters.ts';
import type { BatchItem } from '../pipeline/pipeline.ts';
import type { Decoded, RecordMeta, RecordValue } from '../pipeline/record.ts';
import type { SpecFiles } from '../plugin/checks.ts';
import { s3ObjectCreatedEvent } from '../local/events.ts';
import { MemoryObjectStore } from '../ports/memory-object-store.ts';
import { dispatchEvent, UnknownEventError } from '../sources/dispatch.ts';
import type { DispatchedEvent } from '../sources/dispatch.ts';
import { compileFilterPatterns } from '../sources/kinesis/filter-pattern.ts';
import type { FilterPatterns } from '../sources/kinesis/filter-pattern.ts';
import type { LoadedSpec } from '../spec/load.ts';
import type { ResolvedSpec, TestCase } from '../spec/resolved-spec.ts';
import { CaptureSink } from './capture-sink.ts';
import { syntheticMeta } from './synthetic-meta.ts';

/** A fixed clock for spec tests, so templates using `now` render the same on every run. */
export const TEST_CLOCK = new Date('2026-01-01T00:00:00.000Z');

export interface TestCaseResult {
  name: string;
  /** 1-based line of the test case in the spec. */
  line: number;
  failures: string[];
}

/**
 * Runs the `tests:` of a validated spec in memory: every sink is replaced by a capture, dead
 * letters are captured, no AWS is touched. `given` records enter as decoded records of their
 * source; `given: {event: file}` runs a raw Lambda event through the source's decoder, and the
 * event must come from that source; `objects` put S3 objects in the memory store first. A case
 * fails, with the reason, when its sinks receive other records, when its dead letters differ,
 * and when the filtered count differs. Dead letters are expected of every spec: without
 * `dead_letter`, production writes them to the bucket the stack creates.
 */
export async function runSpecTests(loaded: LoadedSpec, spec: ResolvedSpec, files: SpecFiles, specPath: string): Promise<TestCaseResult[]> {
  const results: TestCaseResult[] = [];
  for (const [index, testCase] of (spec.tests ?? []).entries()) {
    const line = loaded.locate(['tests', index]).line;
    let failures: string[];
    try {
      failures = await runCase(spec, testCase, files, specPath);
    } catch (error) {
      failures = [`the pipeline failed: ${(error as Error).message}`];
    }
    results.push({ name: testCase.name, line, failures });
  }
  return results;
}

/**
 * Parameters without a default get the value `test-<name>` in spec tests, so steps that need one
 * (a hash salt) compile and give reproducible results without real secrets.
 */
export function testParameters(spec: ResolvedSpec): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, declaration] of Object.entries(spec.parameters ?? {})) {
    if (declaration.default === undefined) values[name] = `test-${name}`;
  }
  return values;
}

async function runCase(spec: ResolvedSpec, testCase: TestCase, files: SpecFiles, specPath: string): Promise<string[]> {
  const captures = new Map<string, CaptureSink>();
  const store = new MemoryObjectStore();
  const handler = createHandler(spec, {
    ports: { objects: store },
    files,
    parameters: testParameters(spec),
    sinkOverride: (id) => {
      const capture = new CaptureSink();
      captures.set(id, capture);
      return capture;
    },
    captureDeadLetters: true,
    write: () => {},
    clock: () => TEST_CLOCK,
  });

  const failures: string[] = [];
  const summaries: InvocationSummary[] = [];
  const records: BatchItem[] = [];
  for (const [sourceId, given] of Object.entries(testCase.given ?? {})) {
    const source = spec.sources[sourceId]!;
    if (Array.isArray(given)) {
      const filter = source.type === 'kinesis' && source.filter !== undefined ? compileFilterPatterns(source.filter) : undefined;
      given.forEach((value, index) => {
        const meta = syntheticMeta(sourceId, source, index, TEST_CLOCK.toISOString());
        const raw = Buffer.from(JSON.stringify(value));
        records.push({ id: `${sourceId}:${index}`, records: [givenRecord(structuredClone(value), meta, raw, filter, source.type === 'kinesis' && source.format === 'json')] });
      });
      continue;
    }
    const input = await givenEvent(sourceId, source, given, store, specPath);
    if (typeof input === 'string') {
      failures.push(input);
      continue;
    }
    let dispatched: DispatchedEvent;
    try {
      // The event must come from the source the case names, as it would in production.
      dispatched = dispatchEvent(input, spec.sources, store, { source: sourceId });
    } catch (error) {
      if (!(error instanceof UnknownEventError)) throw error;
      failures.push(`\`given.${sourceId}\`: the event does not belong to source \`${sourceId}\`: ${error.message}`);
      continue;
    }
    summaries.push(await handler.process(dispatched.items));
  }
  if (records.length > 0) summaries.push(await handler.process(records));
  // Every case also checks that each record is accounted for, per component too (ADR 0008): a gap is a bug in Ingest.
  for (const summary of summaries) for (const problem of summary.unreconciled) failures.push(`outcome counts do not reconcile (a bug in Ingest): ${problem}`);

  for (const [sinkId, given] of Object.entries(testCase.expect ?? {})) {
    // As plain JSON, like what the sinks captured: the resolved spec holds its maps without prototypes.
    const expected = JSON.parse(JSON.stringify(given)) as RecordValue[];
    const actual = captures.get(sinkId)?.records ?? [];
    const matches = testCase.expect_subset
      ? actual.length === expected.length && expected.every((record, index) => isSubset(record, actual[index]))
      : isDeepStrictEqual(actual, expected);
    if (!matches) {
      const how = testCase.expect_subset ? ' (each expected record a subset of the actual one, in order)' : '';
      failures.push(`sink \`${sinkId}\` received other records than expected${how}:\n${renderDiff(expected, actual)}`);
    }
  }

  const letters = summaries.flatMap((summary) => summary.deadLetters ?? []);
  const expectedLetters = testCase.expect_dead_letter ?? [];
  if (!lettersMatch(expectedLetters, letters)) {
    const actual = letters.map(({ stage, code, component }) => ({ stage, code, component }));
    const details = letters.map((letter) => `  ${letter.stage} ${letter.code} at ${letter.component}: ${letter.message}`).join('\n');
    failures.push(`dead letters differ from \`expect_dead_letter\`:\n${renderDiff(expectedLetters, actual)}${details ? `\n  reasons:\n${details}` : ''}`);
  }

  if (testCase.expect_filtered !== undefined) {
    const filtered = summaries.reduce((total, summary) => total + summary.counts.filtered, 0);
    if (filtered !== testCase.expect_filtered) failures.push(`expected ${testCase.expect_filtered} filtered records, got ${filtered}`);
  }
  return failures;
}

/**
 * A `given` record as its source delivers it: a Kinesis source's `filter` patterns see it as the
 * record's data (JSON only for `format: json`), as Lambda would, and drop it when none matches.
 */
function givenRecord(value: RecordValue, meta: RecordMeta, raw: Uint8Array, filter: FilterPatterns | undefined, dataIsJson: boolean): Decoded {
  if (filter !== undefined && meta.event === 'kinesis' && !filter.matches({ partitionKey: meta.partition_key, sequenceNumber: meta.sequence, data: value }, dataIsJson)) {
    return { outcome: 'filtered', meta, raw, reason: 'matches none of the source\'s filter patterns: Lambda would not deliver it' };
  }
  return { outcome: 'record', value, meta, raw };
}

type GivenEvent = Exclude<NonNullable<TestCase['given']>[string], unknown[]>;

/**
 * The Lambda event a `given: { event?, objects? }` stands for, with its objects put in the store;
 * or why it cannot be had, as the case's failure. Without `event`, the objects are announced the
 * way the generated stack announces them (EventBridge through SQS).
 */
async function givenEvent(sourceId: string, source: ResolvedSpec['sources'][string], given: GivenEvent, store: MemoryObjectStore, specPath: string): Promise<unknown> {
  const at = `\`given.${sourceId}\``;
  const objects = Object.entries(given.objects ?? {});
  if (objects.length > 0 && source.type !== 's3') return `${at}: \`objects\` supply S3 objects, but source \`${sourceId}\` is a ${source.type} source`;
  const announced: { bucket: string; key: string; size: number; etag: string }[] = [];
  for (const [location, file] of objects) {
    const slash = location.indexOf('/');
    const [bucket, key] = [location.slice(0, slash), location.slice(slash + 1)];
    let bytes: Buffer;
    try {
      bytes = readFileSync(resolve(dirname(specPath), file));
    } catch (error) {
      return `${at}: cannot read the file of object s3://${location}, ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    }
    const stored = store.set(bucket, key, bytes);
    announced.push({ bucket, key, size: bytes.byteLength, etag: stored.etag });
  }
  if (given.event === undefined) return s3ObjectCreatedEvent(announced, { time: TEST_CLOCK });

  let text: string;
  try {
    text = readFileSync(resolve(dirname(specPath), given.event), 'utf8');
  } catch (error) {
    return `${at}: cannot read the event file ${given.event}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return `${at}: the event file ${given.event} is not JSON: ${describeJsonError(error as Error, text)}`;
  }
}

/**
 * Why `text` is not JSON, with a line and column. V8's messages quote the start of the input
 * ("Unexpected token 's', ...\"rds\": [ secret-tok\"... is not valid JSON") and give no position;
 * lossless-json's say where parsing stopped and quote one character at most.
 */
export function describeJsonError(error: Error, text: string): string {
  try {
    parseLossless(text);
  } catch (detailed) {
    const message = (detailed as Error).message;
    const position = /at position (\d+)$/.exec(message);
    if (position === null) return message;
    const offset = Number(position[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    return `${message.slice(0, position.index).trimEnd()} at line ${line}, column ${offset - before.lastIndexOf('\n')}`;
  }
  return error.message.replace(/, (\.\.\.)?".*$/s, '');
}


/** True when every field of `expected` is in `actual` with the same value; nested objects compare the same way. */
function isSubset(expected: unknown, actual: unknown): boolean {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([field, value]) => Object.hasOwn(actual, field) && isSubset(value, (actual as Record<string, unknown>)[field]));
  }
  return isDeepStrictEqual(expected, actual);
}

type ExpectedLetter = NonNullable<TestCase['expect_dead_letter']>[number];

/** Each expected letter matches a distinct actual one (fields it leaves out match anything), and none is left over. */
function lettersMatch(expected: readonly ExpectedLetter[], actual: readonly DeadLetter[]): boolean {
  if (expected.length !== actual.length) return false;
  const unmatched = [...actual];
  return expected.every((want) => {
    const index = unmatched.findIndex((letter) => letter.stage === want.stage && (want.code === undefined || letter.code === want.code) && (want.component === undefined || letter.component === want.component));
    if (index < 0) return false;
    unmatched.splice(index, 1);
    return true;
  });
}

function renderDiff(expected: unknown, actual: unknown): string {
  return diffLines(JSON.stringify(expected, null, 2) + '\n', JSON.stringify(actual, null, 2) + '\n')
    .flatMap((part) => part.value.replace(/\n$/, '').split('\n').map((line) => `${part.added ? '+ ' : part.removed ? '- ' : '  '}${line}`))
    .map((line) => `    ${line}`)
    .join('\n');
}
