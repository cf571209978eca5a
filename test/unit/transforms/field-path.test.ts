import { describe, expect, it } from 'vitest';
import { deleteField, MISSING, parseFieldPath, readField, writeField } from '../../../engine/transforms/field-path.ts';
import { recordErrorOf } from './factories.ts';

describe('parseFieldPath', () => {
  it('splits a dotted path into its segments', () => {
    expect(parseFieldPath('user.address.city').segments).toEqual(['user', 'address', 'city']);
  });

  it.each(['', 'a..b', '.a', 'a.'])('refuses the path %j with an empty segment', (text) => {
    expect(() => parseFieldPath(text)).toThrow(/empty|non-empty/);
  });

  it.each(['__proto__', 'a.__proto__.b', 'constructor.prototype', 'prototype', 'a.constructor'])('refuses %j, which could reach an object prototype', (text) => {
    expect(() => parseFieldPath(text)).toThrow(/prototype safety/);
  });
});

describe('readField', () => {
  it('reads a nested value', () => {
    expect(readField({ a: { b: 1 } }, parseFieldPath('a.b'))).toBe(1);
  });

  it('reads a present null as null', () => {
    expect(readField({ a: null }, parseFieldPath('a'))).toBeNull();
  });

  it('reads a missing field as MISSING', () => {
    expect(readField({ a: {} }, parseFieldPath('a.b'))).toBe(MISSING);
  });

  it('does not walk into lists', () => {
    expect(readField({ a: [{ b: 1 }] }, parseFieldPath('a.0.b'))).toBe(MISSING);
  });

  it('reads inherited members such as toString as missing', () => {
    expect(readField({}, parseFieldPath('toString'))).toBe(MISSING);
  });
});

describe('writeField', () => {
  it('creates missing parent objects', () => {
    const record = {};
    writeField(record, parseFieldPath('a.b.c'), 1);
    expect(record).toEqual({ a: { b: { c: 1 } } });
  });

  it('replaces a null parent by an object', () => {
    const record = { a: null };
    writeField(record, parseFieldPath('a.b'), 1);
    expect(record).toEqual({ a: { b: 1 } });
  });

  it('fails the record when a parent is a scalar', () => {
    const error = recordErrorOf(() => writeField({ a: 'text' }, parseFieldPath('a.b'), 1));
    expect(error.code).toBe('transform-error');
    expect(error.message).toContain('`a` is a string');
  });
});

describe('deleteField', () => {
  it('removes a nested field and reports it was present', () => {
    const record = { a: { b: 1, c: 2 } };
    expect(deleteField(record, parseFieldPath('a.b'))).toBe(true);
    expect(record).toEqual({ a: { c: 2 } });
  });

  it('leaves a record without the field unchanged', () => {
    const record = { a: 1 };
    expect(deleteField(record, parseFieldPath('b.c'))).toBe(false);
    expect(record).toEqual({ a: 1 });
  });
});
