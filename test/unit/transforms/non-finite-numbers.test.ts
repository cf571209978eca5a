import { describe, expect, it } from 'vitest';
import type { Step } from '../../../engine/plugin/types.ts';
import { castStep } from '../../../engine/transforms/cast/step.ts';
import { dedupeStep } from '../../../engine/transforms/dedupe/step.ts';
import { parseJsonStep } from '../../../engine/transforms/parse_json/step.ts';
import { setStep } from '../../../engine/transforms/set/step.ts';
import { templateStep } from '../../../engine/transforms/template/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

// JSON has no NaN or Infinity: JSON.stringify writes them as null, so a value that becomes one
// would change silently on its way to a sink. Every step that computes or converts a number fails
// the record with `non-finite-number` instead. (Decoders: test/unit/sources/json-record-values.test.ts.)

const CASES: Array<{ name: string; step: Step; record: Record<string, unknown> }> = [
  { name: 'set dividing by a zero double', step: compile(setStep, { ratio: 'record.a / record.b' }), record: { a: 1, b: 0 } },
  { name: 'set computing 0.0 / 0.0', step: compile(setStep, { ratio: 'record.b / record.b' }), record: { b: 0 } },
  { name: 'set nesting an infinity in a list', step: compile(setStep, { list: '[1.0, record.a / record.b]' }), record: { a: -1, b: 0 } },
  { name: 'set overflowing a double', step: compile(setStep, { big: 'record.a * 1e308' }), record: { a: 10 } },
  { name: 'dedupe keyed by an infinity', step: compile(dedupeStep, { key: 'record.a / record.b' }), record: { a: 1, b: 0 } },
  { name: 'cast of an overflowing decimal string to double', step: compile(castStep, { f: 'double' }), record: { f: '1e400' } },
  { name: 'cast of an overflowing decimal string to int', step: compile(castStep, { f: 'int' }), record: { f: '-1e400' } },
  { name: 'cast of an overflowing decimal string to timestamp', step: compile(castStep, { f: 'timestamp' }), record: { f: '1e400' } },
  { name: 'cast of an infinity to string', step: compile(castStep, { f: 'string' }), record: { f: Infinity } },
  { name: 'cast of a list holding NaN to json', step: compile(castStep, { f: 'json' }), record: { f: [1, Number.NaN] } },
  { name: 'template printing an infinity', step: compile(templateStep, { t: 'v={{record.f}}' }), record: { f: Infinity } },
  { name: 'template passing NaN to a helper', step: compile(templateStep, { t: '{{upper record.f}}' }), record: { f: Number.NaN } },
  { name: 'template dating an infinity', step: compile(templateStep, { t: "{{date record.f 'yyyy'}}" }), record: { f: -Infinity } },
  { name: 'parse_json of an overflowing number', step: compile(parseJsonStep, 'payload'), record: { payload: '{"f":1e400}' } },
];

describe('non-finite numbers', () => {
  for (const { name, step, record } of CASES) {
    it(`fail the record with non-finite-number: ${name}`, () => {
      const error = recordErrorOf(() => run(step, record));

      expect(error.code).toBe('non-finite-number');
    });
  }

  it('leave finite results of the same steps alone', () => {
    const record = run(compile(setStep, { ratio: 'record.a / record.b' }), { a: 1, b: 4 });

    expect(record).toEqual({ a: 1, b: 4, ratio: 0.25 });
  });
});
