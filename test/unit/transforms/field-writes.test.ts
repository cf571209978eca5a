import { describe, expect, it } from 'vitest';
import type { Step } from '../../../engine/plugin/types.ts';
import { castStep } from '../../../engine/transforms/cast/step.ts';
import { defaultStep } from '../../../engine/transforms/default/step.ts';
import { explodeStep } from '../../../engine/transforms/explode/step.ts';
import { flattenStep } from '../../../engine/transforms/flatten/step.ts';
import { parseJsonStep } from '../../../engine/transforms/parse_json/step.ts';
import { renameStep } from '../../../engine/transforms/rename/step.ts';
import { setStep } from '../../../engine/transforms/set/step.ts';
import { templateStep } from '../../../engine/transforms/template/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

// Every step that writes a field, given a record where that field already holds a value
// (docs/decisions/0024-field-writes.md). A step whose purpose is the field's new value replaces
// it; a step that moves or joins fields fails the record with `field-collision` rather than
// destroy the value it would land on. (`hash` replaces the fields it digests, in place; its own
// tests hold that.)

type Expectation = { replaces: unknown } | { keeps: unknown } | { collides: true };

const TABLE: Array<{ step: string; compiled: Step; record: Record<string, unknown>; expected: Expectation }> = [
  { step: 'set (computes the field)', compiled: compile(setStep, { b: 'record.a + 1.0' }), record: { a: 1, b: 'old' }, expected: { replaces: { a: 1, b: 2 } } },
  { step: 'template (renders the field)', compiled: compile(templateStep, { b: 'x-{{record.a}}' }), record: { a: 1, b: 'old' }, expected: { replaces: { a: 1, b: 'x-1' } } },
  { step: 'cast (converts the field in place)', compiled: compile(castStep, { b: 'string' }), record: { b: 7 }, expected: { replaces: { b: '7' } } },
  { step: 'parse_json (parses the field in place)', compiled: compile(parseJsonStep, 'b'), record: { b: '[1]' }, expected: { replaces: { b: [1] } } },
  { step: 'explode (puts each element in the field)', compiled: compile(explodeStep, 'b'), record: { b: ['x', 'y'] }, expected: { replaces: [{ b: 'x' }, { b: 'y' }] } },
  { step: 'default (fills only a missing or null field)', compiled: compile(defaultStep, { b: 0 }), record: { b: 'kept' }, expected: { keeps: { b: 'kept' } } },
  { step: 'rename (moves a field)', compiled: compile(renameStep, { a: 'b' }), record: { a: 1, b: 'old' }, expected: { collides: true } },
  { step: 'rename with overwrite', compiled: compile(renameStep, { a: { to: 'b', overwrite: true } }), record: { a: 1, b: 'old' }, expected: { replaces: { b: 1 } } },
  { step: 'rename into a nested field', compiled: compile(renameStep, { a: 'x.b' }), record: { a: 1, x: { b: 'old' } }, expected: { collides: true } },
  { step: 'flatten of the whole record (joins keys)', compiled: compile(flattenStep, {}), record: { a_b: 'old', a: { b: 1 } }, expected: { collides: true } },
  { step: 'flatten of one field (joins keys)', compiled: compile(flattenStep, { field: 'a' }), record: { a_b: 'old', a: { b: 1 } }, expected: { collides: true } },
];

describe('writing onto a field that holds a value', () => {
  for (const { step, compiled, record, expected } of TABLE) {
    if ('collides' in expected) {
      it(`${step} fails the record with field-collision`, () => {
        expect(recordErrorOf(() => run(compiled, structuredClone(record))).code).toBe('field-collision');
      });
    } else {
      const outcome = 'replaces' in expected ? expected.replaces : expected.keeps;
      it(`${step} ${'replaces' in expected ? 'replaces the value' : 'keeps the value'}`, () => {
        expect(run(compiled, structuredClone(record))).toEqual(outcome);
      });
    }
  }
});
