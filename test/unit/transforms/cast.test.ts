import { describe, expect, it } from 'vitest';
import { castStep } from '../../../engine/transforms/cast/step.ts';
import type { CastType } from '../../../engine/transforms/cast/step.ts';
import { compile, recordErrorOf, run } from './factories.ts';

/** Casts `{ v: value }` to `type` and returns the new `v`. */
function castValue(type: CastType, value: unknown): unknown {
  return (run(compile(castStep, { v: type }), { v: value }) as { v: unknown }).v;
}

function castError(type: CastType, value: unknown) {
  return recordErrorOf(() => castValue(type, value));
}

describe('cast', () => {
  it('has the YAML key as its kind', () => {
    expect(castStep.kind).toBe('cast');
  });

  it('leaves a missing field missing', () => {
    expect(run(compile(castStep, { ts: 'timestamp' }), { id: 1 })).toEqual({ id: 1 });
  });

  it.each<CastType>(['string', 'int', 'double', 'bool', 'timestamp', 'json'])('keeps null as null when casting to %s', (type) => {
    expect(castValue(type, null)).toBeNull();
  });

  it('casts a nested field by its dotted path', () => {
    expect(run(compile(castStep, { 'order.amount': 'double' }), { order: { amount: '1.5' } })).toEqual({ order: { amount: 1.5 } });
  });

  it('refuses an unknown type when compiling', () => {
    expect(() => compile(castStep, { v: 'float' as CastType })).toThrow(/unknown type "float"/);
  });

  it('refuses a prototype path when compiling', () => {
    expect(() => compile(castStep, { 'a.prototype': 'int' })).toThrow(/prototype safety/);
  });

  it('names the field, the value and the type when a value does not cast', () => {
    const error = recordErrorOf(() => run(compile(castStep, { amount: 'int' }), { amount: 'abc' }));
    expect(error.code).toBe('transform-error');
    expect(error.message).toBe('field `amount` holds "abc", which cannot be cast to int: not a decimal number');
  });
});

describe('cast to string', () => {
  it.each([
    ['text', 'text'],
    [1.5, '1.5'],
    [100, '100'],
    [true, 'true'],
  ])('turns %j into %j', (value, expected) => {
    expect(castValue('string', value)).toBe(expected);
  });

  it.each([[{ a: 1 }], [[1]]])('refuses %j and points at json', (value) => {
    expect(castError('string', value).message).toContain('cast it to json');
  });
});

describe('cast to int', () => {
  it.each([
    [42, 42],
    ['42', 42],
    [' -7 ', -7],
    ['4.0', 4],
    ['1e3', 1000],
    [true, 1],
    [false, 0],
  ])('turns %j into %j', (value, expected) => {
    expect(castValue('int', value)).toBe(expected);
  });

  it.each([[4.5], ['4.5']])('refuses the non-integral %j instead of truncating it', (value) => {
    expect(castError('int', value).message).toContain('not an integral value');
  });

  it.each([['12345678901234567890'], [2 ** 60]])('refuses %j, beyond the exact integer range', (value) => {
    expect(castError('int', value).message).toContain('2^53');
  });

  it.each([[''], ['0x10'], ['Infinity'], ['12abc'], [{}]])('refuses %j', (value) => {
    expect(castError('int', value).code).toBe('transform-error');
  });
});

describe('cast to double', () => {
  it.each([
    [1.5, 1.5],
    ['1.5', 1.5],
    ['-.5', -0.5],
    ['2E-3', 0.002],
    [true, 1],
  ])('turns %j into %j', (value, expected) => {
    expect(castValue('double', value)).toBe(expected);
  });

  it.each([['NaN'], ['1,5'], [''], [[1]]])('refuses %j', (value) => {
    expect(castError('double', value).code).toBe('transform-error');
  });
});

describe('cast to bool', () => {
  it.each([
    [true, true],
    [false, false],
    ['true', true],
    ['FALSE', false],
    [' True ', true],
    ['1', true],
    ['0', false],
    [1, true],
    [0, false],
  ])('turns %j into %j', (value, expected) => {
    expect(castValue('bool', value)).toBe(expected);
  });

  it.each([['yes'], [''], [2], [{}]])('refuses %j', (value) => {
    expect(castError('bool', value).message).toContain('expected true, false, 1 or 0');
  });
});

describe('cast to timestamp', () => {
  it.each([
    ['2026-11-27T10:00:00Z', '2026-11-27T10:00:00Z'],
    ['2026-11-27T10:00:00.000Z', '2026-11-27T10:00:00Z'],
    ['2026-11-27T10:00:00.250Z', '2026-11-27T10:00:00.25Z'],
    ['2026-11-27T10:00:00.123456789Z', '2026-11-27T10:00:00.123456789Z'],
    ['2026-11-27T12:00:00+02:00', '2026-11-27T10:00:00Z'],
    ['2026-11-27T05:30:00-0430', '2026-11-27T10:00:00Z'],
    ['2026-11-27 10:00:00', '2026-11-27T10:00:00Z'],
    ['2026-11-27t10:00z', '2026-11-27T10:00:00Z'],
    ['2026-11-27', '2026-11-27T00:00:00Z'],
    ['0099-01-01T00:00:00Z', '0099-01-01T00:00:00Z'],
    ['2024-02-29T23:59:59.5Z', '2024-02-29T23:59:59.5Z'],
  ])('turns the ISO string %j into %j', (value, expected) => {
    expect(castValue('timestamp', value)).toBe(expected);
  });

  it.each([
    [1_795_773_600, 'seconds', '2026-11-27T10:00:00Z'],
    [1_795_773_600.5, 'fractional seconds', '2026-11-27T10:00:00.5Z'],
    [1_795_773_600_250, 'milliseconds', '2026-11-27T10:00:00.25Z'],
    [1_795_773_600_000_001, 'microseconds', '2026-11-27T10:00:00.000001Z'],
    [1.795_773_6e18, 'nanoseconds', '2026-11-27T10:00:00Z'],
    [0, 'seconds', '1970-01-01T00:00:00Z'],
    [-86_400, 'negative seconds', '1969-12-31T00:00:00Z'],
    ['1795773600', 'seconds in a string', '2026-11-27T10:00:00Z'],
  ])('turns the epoch %j (%s) into %j', (value, _unit, expected) => {
    expect(castValue('timestamp', value)).toBe(expected);
  });

  it('gives each timestamp of a sequence its own date across midnight, the epoch and a leap day', () => {
    const cast = compile(castStep, { ts: 'timestamp' });
    const epochs = [1_795_773_600, 1_795_823_999, 1_795_824_000, -1, 0, 1_709_251_199, 1_709_164_800, 1_795_773_600];

    const formatted = epochs.map((ts) => (run(cast, { ts }) as { ts: unknown }).ts);

    expect(formatted).toEqual([
      '2026-11-27T10:00:00Z',
      '2026-11-27T23:59:59Z',
      '2026-11-28T00:00:00Z',
      '1969-12-31T23:59:59Z',
      '1970-01-01T00:00:00Z',
      '2024-02-29T23:59:59Z',
      '2024-02-29T00:00:00Z',
      '2026-11-27T10:00:00Z',
    ]);
  });

  it('reads 10^11 as milliseconds, the first value past the seconds band', () => {
    expect(castValue('timestamp', 1e11)).toBe('1973-03-03T09:46:40Z');
  });

  it.each([['2026-02-30'], ['2026-02-29T00:00:00Z'], ['2100-02-29T00:00:00Z'], ['2026-04-31T00:00:00Z'], ['2026-00-10T00:00:00Z'], ['2026-13-01T00:00:00Z'], ['2026-11-27T24:00:00Z'], ['2026-11-27T23:59:60Z'], ['27/11/2026'], ['yesterday'], [true], [{}]])('refuses %j', (value) => {
    expect(castError('timestamp', value).code).toBe('transform-error');
  });

  it.each([[3e20], [-7e10]])('refuses the epoch %j, outside years 0000–9999', (value) => {
    expect(castError('timestamp', value).message).toContain('0000–9999');
  });

  it('refuses an epoch string too large to be a finite number', () => {
    expect(castError('timestamp', '1e18000').message).toContain('not a finite number');
  });
});

describe('cast to json', () => {
  it.each([
    [{ a: [1, 'x'] }, '{"a":[1,"x"]}'],
    ['text', '"text"'],
    [1.5, '1.5'],
    [false, 'false'],
  ])('serializes %j to %j', (value, expected) => {
    expect(castValue('json', value)).toBe(expected);
  });
});
