import { describe, expect, it } from 'vitest';
import { renameStep } from '../../../engine/transforms/rename/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

const rename = (config: Record<string, string>) => compile(renameStep, config);

describe('rename', () => {
  it('has the YAML key as its kind', () => {
    expect(renameStep.kind).toBe('rename');
  });

  it('moves a field to its new name', () => {
    expect(run(rename({ uid: 'user_id' }), { uid: 7, x: 1 })).toEqual({ user_id: 7, x: 1 });
  });

  it('moves between dotted paths and creates missing parents', () => {
    expect(run(rename({ 'a.b': 'c.d' }), { a: { b: 1, keep: 2 } })).toEqual({ a: { keep: 2 }, c: { d: 1 } });
  });

  it('is a no-op for a missing source field', () => {
    expect(run(rename({ missing: 'target' }), { target: 'kept' })).toEqual({ target: 'kept' });
  });

  it('moves a source holding null', () => {
    expect(run(rename({ a: 'b' }), { a: null })).toEqual({ b: null });
  });

  it('overwrites an existing target', () => {
    expect(run(rename({ a: 'b' }), { a: 1, b: 2 })).toEqual({ b: 1 });
  });

  it('swaps two fields because all renames happen at once', () => {
    expect(run(rename({ a: 'b', b: 'a' }), { a: 1, b: 2 })).toEqual({ a: 2, b: 1 });
  });

  it('mutates and returns the same record object', () => {
    const record = { a: 1 };
    expect(run(rename({ a: 'b' }), record)).toBe(record);
  });

  it('refuses two entries with the same target', () => {
    expect(() => rename({ a: 'c', b: 'c' })).toThrow(/two fields are renamed to `c`/);
  });

  it('fails the record when the target runs through a scalar', () => {
    expect(recordErrorOf(() => run(rename({ a: 'b.c' }), { a: 1, b: 'text' })).code).toBe('transform-error');
  });

  it.each(['{"__proto__": "x"}', '{"a": "__proto__.polluted"}', '{"constructor.prototype": "x"}'])('refuses prototype paths when compiling (%s)', (json) => {
    expect(() => rename(JSON.parse(json) as Record<string, string>)).toThrow(/prototype safety/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
