import { describe, expect, it } from 'vitest';
import type { RecordValue } from '../../../engine/pipeline/record.ts';
import { explodeStep } from '../../../engine/transforms/explode/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

const anOrder = (items: unknown): RecordValue => ({ order_id: 'o1', customer: { id: 7 }, items });

describe('explode', () => {
  it('has the YAML key as its kind', () => {
    expect(explodeStep.kind).toBe('explode');
  });

  it('makes one record per element, in order, with the field replaced by the element', () => {
    expect(run(compile(explodeStep, 'items'), anOrder(['a', 'b']))).toEqual([
      { order_id: 'o1', customer: { id: 7 }, items: 'a' },
      { order_id: 'o1', customer: { id: 7 }, items: 'b' },
    ]);
  });

  it('explodes a nested list by its dotted path', () => {
    expect(run(compile(explodeStep, 'order.lines'), { order: { id: 1, lines: [10, 20] } })).toEqual([{ order: { id: 1, lines: 10 } }, { order: { id: 1, lines: 20 } }]);
  });

  it('filters the record when the list is empty', () => {
    expect(run(compile(explodeStep, 'items'), anOrder([]))).toBeUndefined();
  });

  it('gives every output its own nested objects', () => {
    const [first, second] = run(compile(explodeStep, 'items'), anOrder([1, 2])) as [RecordValue, RecordValue];
    (first.customer as { id: number }).id = 99;
    expect(second.customer).toEqual({ id: 7 });
  });

  it('reuses the input object for the first output', () => {
    const record = anOrder([1, 2]);
    expect((run(compile(explodeStep, 'items'), record) as RecordValue[])[0]).toBe(record);
  });

  it.each([
    [undefined, 'is missing'],
    [null, 'holds null'],
    ['a,b', 'holds a string'],
    [{ a: 1 }, 'holds an object'],
  ])('fails the record when the field is %j', (items, description) => {
    const record = items === undefined ? { order_id: 'o1' } : anOrder(items);
    const error = recordErrorOf(() => run(compile(explodeStep, 'items'), record));
    expect(error.code).toBe('transform-error');
    expect(error.message).toBe(`field \`items\` ${description}; expected a list`);
  });

  it('keeps a __proto__ key of the record as a plain field in the copies', () => {
    const record = JSON.parse('{"__proto__": {"x": 1}, "items": [1, 2]}') as RecordValue;
    const [, second] = run(compile(explodeStep, 'items'), record) as [RecordValue, RecordValue];
    expect(Object.getPrototypeOf(second)).toBe(Object.prototype);
    expect(Object.hasOwn(second, '__proto__')).toBe(true);
  });

  it('refuses a __proto__ field path when compiling', () => {
    expect(() => compile(explodeStep, '__proto__')).toThrow(/prototype safety/);
  });
});
