import { describe, expect, it } from 'vitest';
import { flattenStep } from '../../../engine/transforms/flatten/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

describe('flatten', () => {
  it('has the YAML key as its kind', () => {
    expect(flattenStep.kind).toBe('flatten');
  });

  it('joins nested keys with an underscore by default', () => {
    expect(run(compile(flattenStep, {}), { a: { b: { c: 1 } }, d: 2 })).toEqual({ a_b_c: 1, d: 2 });
  });

  it('joins nested keys with the configured separator', () => {
    expect(run(compile(flattenStep, { separator: '.' }), { a: { b: 1 } })).toEqual({ 'a.b': 1 });
  });

  it('keeps lists as values', () => {
    expect(run(compile(flattenStep, {}), { a: { list: [{ x: 1 }] } })).toEqual({ a_list: [{ x: 1 }] });
  });

  it('keeps an empty object as a value', () => {
    expect(run(compile(flattenStep, {}), { a: {}, b: { c: 1 } })).toEqual({ a: {}, b_c: 1 });
  });

  it('returns a record with no nested object unchanged', () => {
    const record = { a: 1, b: [1] };
    expect(run(compile(flattenStep, {}), record)).toBe(record);
  });

  it('flattens one field into prefixed keys beside it', () => {
    expect(run(compile(flattenStep, { field: 'geo' }), { id: 1, geo: { lat: 1, pos: { x: 2 } } })).toEqual({ id: 1, geo_lat: 1, geo_pos_x: 2 });
  });

  it('leaves the other nested objects alone when flattening one field', () => {
    expect(run(compile(flattenStep, { field: 'geo' }), { geo: { lat: 1 }, user: { id: 2 } })).toEqual({ user: { id: 2 }, geo_lat: 1 });
  });

  it('flattens records of ever new keys, past the keys a step remembers, as records of one shape', () => {
    const step = compile(flattenStep, { field: 'geo' });
    const whole = compile(flattenStep, {});
    for (let index = 0; index < 3000; index++) {
      const key = `k${index % 1500}`;
      expect(run(step, { geo: { [key]: { x: index }, lat: 1 } })).toEqual({ [`geo_${key}_x`]: index, geo_lat: 1 });
      expect(run(whole, { [key]: { y: { z: index } }, a: { b: 2 } })).toEqual({ [`${key}_y_z`]: index, a_b: 2 });
    }
  });

  it('flattens a dotted field inside its parent object', () => {
    expect(run(compile(flattenStep, { field: 'event.geo' }), { event: { id: 1, geo: { lat: 1 } } })).toEqual({ event: { id: 1, geo_lat: 1 } });
  });

  it('leaves a field holding an empty object alone', () => {
    expect(run(compile(flattenStep, { field: 'geo' }), { geo: {} })).toEqual({ geo: {} });
  });

  it('fails the record, leaving it unchanged, when a flattened field collides with a sibling', () => {
    const record = { geo_lat: 0, geo: { lat: 1 } };
    expect(recordErrorOf(() => run(compile(flattenStep, { field: 'geo' }), record)).message).toContain('`geo_lat`');
    expect(record).toEqual({ geo_lat: 0, geo: { lat: 1 } });
  });

  it('leaves a missing field missing', () => {
    expect(run(compile(flattenStep, { field: 'payload' }), { id: 1 })).toEqual({ id: 1 });
  });

  it('fails the record when the field is not an object', () => {
    expect(recordErrorOf(() => run(compile(flattenStep, { field: 'payload' }), { payload: [1] })).message).toContain('holds a list, not an object');
  });

  it('fails the record when two paths flatten to the same key', () => {
    const error = recordErrorOf(() => run(compile(flattenStep, {}), { a_b: 1, a: { b: 2 } }));
    expect(error.code).toBe('field-collision');
    expect(error.message).toContain('`a_b`');
  });

  it('keeps a __proto__ key of the record as a plain field', () => {
    const record = JSON.parse('{"__proto__": [1], "a": {"b": 1}}') as Record<string, unknown>;
    const flat = run(compile(flattenStep, {}), record) as Record<string, unknown>;
    expect(Object.getPrototypeOf(flat)).toBe(Object.prototype);
    expect(Object.hasOwn(flat, '__proto__')).toBe(true);
    expect(flat.a_b).toBe(1);
  });

  it('refuses an empty separator when compiling', () => {
    expect(() => compile(flattenStep, { separator: '' })).toThrow(/separator/);
  });

  it('refuses a prototype field path when compiling', () => {
    expect(() => compile(flattenStep, { field: 'a.prototype' })).toThrow(/prototype safety/);
  });
});
