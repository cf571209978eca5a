import { describe, expect, it } from 'vitest';
import { ExpressionError } from '../../../engine/expression/index.ts';
import { dedupeStep } from '../../../engine/transforms/dedupe/step.ts';
import { anInvocation, compile, recordErrorOf, run } from './factories.ts';

const anEvent = (id: unknown, extra: Record<string, unknown> = {}) => ({ event_id: id, ...extra });
const dedupeBy = (key: string) => compile(dedupeStep, { key });

describe('dedupe', () => {
  it('has the YAML key as its kind', () => {
    expect(dedupeStep.kind).toBe('dedupe');
  });

  it('passes the first record with a key', () => {
    const record = anEvent('e1');
    expect(run(dedupeBy('record.event_id'), record)).toBe(record);
  });

  it('filters a later record with the same key in the same invocation', () => {
    const step = dedupeBy('record.event_id');
    const invocation = anInvocation();
    run(step, anEvent('e1'), invocation);
    expect(run(step, anEvent('e1', { retry: true }), invocation)).toBeUndefined();
  });

  it('passes records with different keys', () => {
    const step = dedupeBy('record.event_id');
    const invocation = anInvocation();
    run(step, anEvent('e1'), invocation);
    expect(run(step, anEvent('e2'), invocation)).toEqual(anEvent('e2'));
  });

  it('starts empty in a new invocation', () => {
    const step = dedupeBy('record.event_id');
    run(step, anEvent('e1'), anInvocation());
    expect(run(step, anEvent('e1'), anInvocation())).toEqual(anEvent('e1'));
  });

  it('keeps the seen keys of two dedupe steps apart', () => {
    const [first, second] = [dedupeBy('record.event_id'), dedupeBy('record.event_id')];
    const invocation = anInvocation();
    run(first, anEvent('e1'), invocation);
    expect(run(second, anEvent('e1'), invocation)).toEqual(anEvent('e1'));
  });

  it('tells a number key from the same digits as a string', () => {
    const step = dedupeBy('record.event_id');
    const invocation = anInvocation();
    run(step, anEvent(1), invocation);
    expect(run(step, anEvent('1'), invocation)).toEqual(anEvent('1'));
  });

  it('compares map keys whatever their key order', () => {
    const step = dedupeBy('record.event_id');
    const invocation = anInvocation();
    run(step, anEvent({ a: 1, b: 2 }), invocation);
    expect(run(step, anEvent({ b: 2, a: 1 }), invocation)).toBeUndefined();
  });

  it('dedupes by a composite key built in CEL', () => {
    const step = dedupeBy('[record.user, record.day]');
    const invocation = anInvocation();
    run(step, { user: 'u', day: 'd1' }, invocation);
    expect(run(step, { user: 'u', day: 'd1' }, invocation)).toBeUndefined();
  });

  it('fails the record when the key cannot be evaluated', () => {
    const error = recordErrorOf(() => run(dedupeBy('record.event_id'), {}));
    expect(error.code).toBe('transform-error');
    expect(error.message).toMatch(/^key `record.event_id`: /);
  });

  it('throws ExpressionError when compiling an invalid key', () => {
    expect(() => dedupeBy('record.(')).toThrow(ExpressionError);
  });
});
