import { describe, expect, it } from 'vitest';
import { ExpressionError } from '../../../engine/expression/index.ts';
import { setStep } from '../../../engine/transforms/set/step.ts';
import { aMeta, compile, recordErrorOf, run } from './factories.ts';

const set = (config: Record<string, string>) => compile(setStep, config);

describe('set', () => {
  it('has the YAML key as its kind', () => {
    expect(setStep.kind).toBe('set');
  });

  it('assigns a computed value', () => {
    expect(run(set({ amount_cents: 'int(record.amount * 100.0)' }), { amount: 1.5 })).toEqual({ amount: 1.5, amount_cents: 150 });
  });

  it('evaluates every expression against the record as it was before the step', () => {
    expect(run(set({ a: 'record.b', b: '1' }), { b: 2 })).toEqual({ a: 2, b: 1 });
  });

  it('gives the same result whatever the order of the entries', () => {
    expect(run(set({ b: '1', a: 'record.b' }), { b: 2 })).toEqual({ a: 2, b: 1 });
  });

  it('creates missing parents of a dotted target', () => {
    expect(run(set({ 'source.name': 'meta.source' }), {}, undefined, aMeta({ source: 'clicks' }))).toEqual({ source: { name: 'clicks' } });
  });

  it('assigns a copy, never an alias of another field', () => {
    const record = run(set({ copy: 'record.original' }), { original: { a: 1 } }) as { copy: { a: number }; original: { a: number } };
    record.copy.a = 2;
    expect(record.original.a).toBe(1);
  });

  it('fails the record, naming the field, when an expression fails', () => {
    const error = recordErrorOf(() => run(set({ total: 'record.price * 2.0' }), {}));
    expect(error.code).toBe('transform-error');
    expect(error.message).toMatch(/^field `total`: /);
  });

  it('leaves the record unchanged when one expression fails', () => {
    const record = { b: 1 };
    recordErrorOf(() => run(set({ a: '1', c: 'record.missing' }), record));
    expect(record).toEqual({ b: 1 });
  });

  it('fails the record when a target runs through a scalar', () => {
    expect(recordErrorOf(() => run(set({ 'a.b': '1' }), { a: 'text' })).code).toBe('transform-error');
  });

  it('throws ExpressionError when compiling an invalid expression', () => {
    expect(() => set({ a: 'record.' })).toThrow(ExpressionError);
  });

  it('refuses a __proto__ target when compiling', () => {
    expect(() => set({ '__proto__.polluted': 'true' })).toThrow(/prototype safety/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
