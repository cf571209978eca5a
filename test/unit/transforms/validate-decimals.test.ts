import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordValidator } from '../../../engine/plugin/types.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { applyDefaults } from '../../../engine/spec/resolve.ts';
import { runSpecTests } from '../../../engine/testing/run-spec-tests.ts';
import { isDecimalMultiple } from '../../../engine/transforms/validate/decimal-multiple.ts';
import { validateStep } from '../../../engine/transforms/validate/step.ts';
import { packageFunction } from '../../../generator/package-function.ts';
import { anEnvironment, compile, recordErrorOf, run } from './factories.ts';

// `multipleOf: 0.01` must judge amounts as a person would (issue: 0.07, 0.29 and 19.99 were
// dead-lettered), in all three places a validate step's schema is compiled: the step as
// `ingest run` and `ingest test` compile it, a spec's tests, and the standalone validators that
// `ingest package` ships.

const SCHEMA = JSON.stringify({
  type: 'object',
  properties: { amount: { type: 'number', multipleOf: 0.01 }, weight: { type: 'number', multipleOf: 0.25 }, count: { type: 'integer', multipleOf: 5 } },
});

const VALID: Array<Record<string, number>> = [
  { amount: 0.07 },
  { amount: 0.29 },
  { amount: 19.99 },
  { amount: 1.1 },
  { amount: 0.5 },
  { amount: -4.35 },
  { amount: 0 },
  { amount: 123456789.01 },
  { amount: 1e21 },
  { weight: 2.75 },
  { count: 35 },
];

const INVALID: Array<Record<string, number>> = [
  { amount: 0.005 },
  { amount: 19.999 },
  { amount: 0.30000000000000004 },
  { amount: 1e-7 },
  { weight: 0.1 },
  { count: 7 },
];

const folder = mkdtempSync(join(tmpdir(), 'ingest-decimals-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('multipleOf on decimals', () => {
  it.each([
    [0.07, 0.01, true],
    [19.99, 0.01, true],
    [4.35, 0.05, true],
    [1e21, 0.01, true],
    [0.3, 0.1, true],
    [0.30000000000000004, 0.01, false],
    [0.005, 0.01, false],
    [7, 5, false],
    [5, 0, false],
    [Infinity, 1, false],
  ])('isDecimalMultiple(%s, %s) is %s', (value, divisor, expected) => {
    expect(isDecimalMultiple(value, divisor)).toBe(expected);
  });

  describe('in a validate step, as ingest run and ingest test compile it', () => {
    const step = compile(validateStep, { schema: 'amounts.json' }, anEnvironment({ files: { 'amounts.json': SCHEMA } }));

    it.each(VALID)('passes %o', (record) => {
      expect(run(step, { ...record })).toEqual(record);
    });

    it.each(INVALID)('rejects %o with ajv\'s message', (record) => {
      const error = recordErrorOf(() => run(step, { ...record }));
      expect(error.code).toBe('invalid-record');
      expect(error.message).toMatch(/must be multiple of/);
    });
  });

  it('in the tests of a spec, writes valid amounts and dead-letters the rest', async () => {
    writeFileSync(join(folder, 'amounts.json'), SCHEMA);
    const yaml = `version: 1
name: amounts
dead_letter: { bucket: errors }
sources:
  orders: { type: kinesis, stream: orders }
transforms:
  checked: { inputs: [orders], steps: [{ validate: { schema: amounts.json } }] }
sinks:
  out: { type: s3, inputs: [checked], bucket: out, key: "orders/" }
tests:
  - name: decimals
    given:
      orders: ${JSON.stringify([...VALID, ...INVALID])}
    expect:
      out: ${JSON.stringify(VALID)}
    expect_dead_letter: ${JSON.stringify(INVALID.map(() => ({ stage: 'transform', code: 'invalid-record' })))}
`;
    const loaded = loadSpec('spec.yaml', Buffer.from(yaml));
    if (!loaded.ok) throw new Error(loaded.diagnostics[0]!.message);
    const files = { exists: () => true, read: (path: string) => (path === 'amounts.json' ? SCHEMA : undefined) };

    const [result] = await runSpecTests(loaded.spec, applyDefaults(loaded.spec.value), files, join(folder, 'spec.yaml'));

    expect(result!.failures).toEqual([]);
  });

  describe('in the validators ingest package ships', () => {
    let validator: RecordValidator;

    it('are bundled for the validate step', async () => {
      writeFileSync(join(folder, 'amounts.json'), SCHEMA);
      writeFileSync(
        join(folder, 'spec.yaml'),
        `version: 1
name: amounts
dead_letter: { bucket: errors }
sources:
  orders: { type: kinesis, stream: orders }
transforms:
  checked: { inputs: [orders], steps: [{ validate: { schema: amounts.json } }] }
sinks:
  out: { type: s3, inputs: [checked], bucket: out, key: "orders/" }
`,
      );
      await packageFunction(join(folder, 'spec.yaml'), join(folder, 'package'));
      const module = (await import(pathToFileURL(join(folder, 'package', 'validators.mjs')).href)) as { validators: Record<string, RecordValidator> };
      validator = module.validators['amounts.json']!;

      expect(typeof validator).toBe('function');
    });

    it.each(VALID)('pass %o', (record) => {
      expect(validator(record)).toBe(true);
    });

    it.each(INVALID)('reject %o', (record) => {
      expect(validator(record)).toBe(false);
      expect(validator.errors?.[0]?.keyword).toBe('multipleOf');
    });
  });
});
