import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { diffLines } from 'diff';
import { createHandler } from '../handler.ts';
import type { InvocationSummary } from '../handler.ts';
import type { DeadLetter } from '../pipeline/dead-letters.ts';
import type { BatchItem } from '../pipeline/pipeline.ts';
import type { Decoded } from '../pipeline/record.ts';
import type { SpecFiles } from '../plugin/checks.ts';
import { MemoryObjectStore } from '../ports/memory-object-store.ts';
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
 * source; `given: {event: file}` runs a raw Lambda event through the source's decoder.
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
  const handler = createHandler(spec, {
    ports: { objects: new MemoryObjectStore() },
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

  const summaries: InvocationSummary[] = [];
  const records: BatchItem[] = [];
  for (const [sourceId, given] of Object.entries(testCase.given ?? {})) {
    const source = spec.sources[sourceId]!;
    if (Array.isArray(given)) {
      given.forEach((value, index) => {
        const decoded: Decoded = { outcome: 'record', value: structuredClone(value), meta: syntheticMeta(sourceId, source, index, TEST_CLOCK.toISOString()), raw: Buffer.from(JSON.stringify(value)) };
        records.push({ id: `${sourceId}:${index}`, records: [decoded] });
      });
    } else {
      const event = JSON.parse(readFileSync(resolve(dirname(specPath), given.event), 'utf8')) as unknown;
      summaries.push(await handler.invoke(event));
    }
  }
  if (records.length > 0) summaries.push(await handler.process(records));

  const failures: string[] = [];
  for (const [sinkId, expected] of Object.entries(testCase.expect ?? {})) {
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
