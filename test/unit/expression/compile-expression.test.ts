import { describe, expect, it } from 'vitest';
import {
  checkExpression,
  compileExpression,
  ExpressionError,
  ExpressionEvaluationError,
} from '../../../engine/expression/index.ts';
import type { RecordValue, S3Meta } from '../../../engine/pipeline/record.ts';

function aRecord(overrides: RecordValue = {}): RecordValue {
  return {
    event_id: 'e1',
    event_type: 'purchase',
    uid: 2,
    amount: 1.5,
    count: 5,
    tags: ['a', 'b'],
    ts: '2026-11-27T10:00:00Z',
    ...overrides,
  };
}

const meta: S3Meta = {
  event: 's3',
  source: 'clicks',
  arrival_time: '2026-11-27T10:05:00Z',
  position: 'acme-raw/clicks/1.json:1',
  bucket: 'acme-raw',
  key: 'clicks/1.json',
  line: 1,
};

function evaluate(source: string, record: RecordValue = aRecord()): unknown {
  return compileExpression(source)(record, meta);
}

function compileError(source: string, options?: { expect?: 'bool' | 'any' }): ExpressionError {
  try {
    compileExpression(source, options);
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
  throw new Error(`expected \`${source}\` not to compile`);
}

function evaluationError(source: string, record: RecordValue = aRecord(), options?: { expect?: 'bool' | 'any' }) {
  try {
    compileExpression(source, options)(record, meta);
  } catch (error) {
    if (error instanceof ExpressionEvaluationError) return error;
    throw error;
  }
  throw new Error(`expected \`${source}\` to fail`);
}

/** True when the value, at any depth, holds a BigInt. */
function holdsBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (Array.isArray(value)) return value.some(holdsBigInt);
  if (value !== null && typeof value === 'object') return Object.values(value).some(holdsBigInt);
  return false;
}

describe('compile errors', () => {
  it('reports a syntax error with its 0-based offset', () => {
    const error = compileError('record.amount *');

    expect(error.code).toBe('invalid-expression');
    expect(error.offset).toBe(15);
    expect(error.message).toMatch(/unexpected token/i);
  });

  it('points at the offending character in the middle of an expression', () => {
    const error = compileError("record.a == 'x' &&& true");

    expect(error.code).toBe('invalid-expression');
    expect(error.offset).toBe(18);
  });

  it('reports a type error found by the type checker', () => {
    const error = compileError('1 + "one"');

    expect(error.code).toBe('invalid-expression');
    expect(error.offset).toBe(0);
    expect(error.message).toContain('int + string');
  });

  it('rejects an empty expression', () => {
    expect(compileError('  ').code).toBe('invalid-expression');
  });

  it('keeps the source on the error for messages', () => {
    expect(compileError('record.').source).toBe('record.');
  });
});

describe('unknown names are rejected at compile time', () => {
  it('rejects a variable other than record and meta, with its offset', () => {
    const error = compileError("record.ok && user.admin");

    expect(error.code).toBe('unknown-variable');
    expect(error.offset).toBe(13);
    expect(error.length).toBe(4);
    expect(error.message).toContain("'user'");
  });

  it('rejects an unknown global function, with its offset', () => {
    const error = compileError('record.count > 3 && lookup(record.id)');

    expect(error.code).toBe('unknown-function');
    expect(error.offset).toBe(20);
    expect(error.message).toContain("'lookup'");
  });

  it('rejects an unknown method', () => {
    const error = compileError('record.name.capitalize()');

    expect(error.code).toBe('unknown-function');
    expect(error.message).toContain("'capitalize'");
  });

  it('rejects now() and says what to use instead', () => {
    const error = compileError('timestamp(record.ts) > now()');

    expect(error.code).toBe('unknown-function');
    expect(error.message).toContain('meta.arrival_time');
  });

  it('reports a known function called with the wrong argument types as invalid, not unknown', () => {
    expect(compileError('size(1)').code).toBe('invalid-expression');
  });

  it('lets macro iteration variables through', () => {
    expect(checkExpression('record.tags.exists(t, t == "a") && record.tags.all(x, size(x) > 0)')).toEqual([]);
  });
});

describe('checkExpression', () => {
  it('returns no problem for a valid expression', () => {
    expect(checkExpression("record.event_type != 'heartbeat'", { expect: 'bool' })).toEqual([]);
  });

  it('returns every unknown function, not only the first', () => {
    const problems = checkExpression('foo(record.a) + bar(record.b)');

    expect(problems.map((problem) => [problem.code, problem.offset])).toEqual([
      ['unknown-function', 0],
      ['unknown-function', 16],
    ]);
  });

  it('returns problems as data instead of throwing', () => {
    expect(checkExpression('((')).toEqual([
      expect.objectContaining({ code: 'invalid-expression', offset: expect.any(Number) }),
    ]);
  });
});

describe('numbers from JSON records', () => {
  it('compares a JSON integer equal to a CEL int literal', () => {
    expect(evaluate('record.uid == 2')).toBe(true);
  });

  it('compares a JSON number with an int literal', () => {
    expect(evaluate('record.count > 3')).toBe(true);
  });

  it('multiplies a JSON number by a double literal', () => {
    expect(evaluate('record.amount * 100.0')).toBe(150);
  });

  it('converts a computed double to an int with int()', () => {
    expect(evaluate('int(record.amount * 100.0)')).toBe(150);
  });

  it('truncates in int(), and math.round rounds first', () => {
    const record = aRecord({ amount: 0.29 });

    expect(evaluate('int(record.amount * 100.0)', record)).toBe(28);
    expect(evaluate('int(math.round(record.amount * 100.0))', record)).toBe(29);
  });

  it('rounds halves away from zero in math.round, as cel-go does', () => {
    expect(evaluate('[math.round(2.5), math.round(-2.5), math.floor(-0.5), math.ceil(0.2), math.trunc(-1.7)]')).toEqual([
      3, -3, -1, 1, -1,
    ]);
  });

  it('adds an int literal to a JSON number', () => {
    expect(evaluate('record.count + 1')).toBe(6);
    expect(evaluate('1 + record.count')).toBe(6);
  });

  it('divides a JSON number by an int literal as doubles', () => {
    expect(evaluate('record.count / 2')).toBe(2.5);
  });

  it('takes a JSON number modulo an int literal, for sampling filters', () => {
    expect(evaluate('record.count % 2 == 1')).toBe(true);
  });

  it('keeps integer arithmetic between int literals exact', () => {
    expect(evaluate('7 / 2')).toBe(3);
  });

  it('finds a JSON number in a list of int literals', () => {
    expect(evaluate('record.uid in [1, 2, 3]')).toBe(true);
  });
});

describe('results are plain JavaScript values', () => {
  it('returns CEL ints as numbers, never BigInt', () => {
    const result = evaluate('{"size": size(record.tags), "list": [1, 2, int(record.amount)], "n": 42}');

    expect(result).toEqual({ size: 2, list: [1, 2, 1], n: 42 });
    expect(holdsBigInt(result)).toBe(false);
  });

  it('returns an int beyond 2^53 as its exact decimal string', () => {
    expect(evaluate('9007199254740993')).toBe('9007199254740993');
    expect(evaluate('-9223372036854775807 - 1')).toBe('-9223372036854775808');
  });

  it('returns the largest safe integer as a number', () => {
    expect(evaluate('9007199254740991')).toBe(9007199254740991);
  });

  it('returns uints as numbers', () => {
    expect(evaluate('5u')).toBe(5);
  });

  it('returns maps as objects with string keys', () => {
    expect(evaluate('{1: "one", "two": 2}')).toEqual({ 1: 'one', two: 2 });
  });

  it('returns timestamps as RFC 3339 strings in UTC', () => {
    expect(evaluate('timestamp("2026-11-27T11:00:00+01:00")')).toBe('2026-11-27T10:00:00Z');
    expect(evaluate('timestamp("2026-11-27T10:00:00.250Z")')).toBe('2026-11-27T10:00:00.250Z');
  });

  it('returns durations in their JSON form', () => {
    expect(evaluate('duration("90m")')).toBe('5400s');
  });

  it('returns bytes as base64', () => {
    expect(evaluate('b"hi"')).toBe('aGk=');
  });

  it('returns a copy of a nested value, never the record object itself', () => {
    const record = aRecord({ nested: { list: [1, 2] } });

    const result = evaluate('record.nested', record);

    expect(result).toEqual({ list: [1, 2] });
    expect(result).not.toBe(record.nested);
  });

  it('keeps a __proto__ field of a record as a plain field of the result', () => {
    const record = JSON.parse('{"inner": {"__proto__": {"polluted": true}}}') as RecordValue;

    const result = evaluate('record.inner', record) as Record<string, unknown>;

    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(result)).toEqual(['__proto__']);
  });

  it('does not change the record it reads', () => {
    const record = aRecord();
    const before = structuredClone(record);

    evaluate('record.tags.map(t, t + "!")', record);

    expect(record).toEqual(before);
  });
});

describe('strings, has() and macros', () => {
  it('compares strings', () => {
    expect(evaluate("record.event_type != 'heartbeat'")).toBe(true);
  });

  it('offers the standard string functions', () => {
    expect(evaluate('record.event_type.startsWith("pur") && record.event_type.upperAscii() == "PURCHASE"')).toBe(true);
  });

  it('replaces substrings with replace()', () => {
    expect(evaluate('"a-b-c".replace("-", "_")')).toBe('a_b_c');
    expect(evaluate('"a-b-c".replace("-", "_", 1)')).toBe('a_b-c');
  });

  it('tells whether a field is present with has()', () => {
    expect(evaluate('has(record.uid)')).toBe(true);
    expect(evaluate('has(record.x)')).toBe(false);
  });

  it('treats a field holding undefined as absent', () => {
    expect(evaluate('has(record.x)', aRecord({ x: undefined }))).toBe(false);
  });

  it('supports exists, all, exists_one, filter and map', () => {
    expect(evaluate("record.tags.exists(t, t == 'a')")).toBe(true);
    expect(evaluate("record.tags.all(t, t != '')")).toBe(true);
    expect(evaluate("record.tags.exists_one(t, t == 'b')")).toBe(true);
    expect(evaluate("record.tags.filter(t, t != 'a')")).toEqual(['b']);
    expect(evaluate('record.tags.map(t, t + "!")')).toEqual(['a!', 'b!']);
  });

  it('reads an optional field with a default', () => {
    expect(evaluate('record.?discount.orValue(0.0)')).toBe(0);
    expect(evaluate('record.?amount.orValue(0.0)')).toBe(1.5);
  });

  it('reads meta', () => {
    expect(evaluate("meta.source == 'clicks' && meta.line == 1")).toBe(true);
  });

  it('never exposes JavaScript prototype properties', () => {
    expect(evaluate('has(record.constructor)')).toBe(false);
    expect(evaluationError('record.constructor').code).toBe('missing-field');
    expect(evaluationError('record.tags.length').code).toBe('missing-field');
  });
});

describe('timestamps', () => {
  it('parses RFC 3339 strings with timestamp()', () => {
    expect(evaluate('timestamp(record.ts) > timestamp("2026-01-01T00:00:00Z")')).toBe(true);
  });

  it('adds durations to timestamps', () => {
    expect(evaluate('timestamp(record.ts) + duration("1h")')).toBe('2026-11-27T11:00:00Z');
  });

  it('compares a record time with its arrival time, deterministically', () => {
    expect(evaluate('timestamp(meta.arrival_time) - timestamp(record.ts) < duration("10m")')).toBe(true);
  });

  it('reads timestamp parts in UTC', () => {
    expect(evaluate('timestamp(record.ts).getHours()')).toBe(10);
  });

  it('fails the record for a string that is not a timestamp', () => {
    expect(evaluationError('timestamp(record.event_type)').code).toBe('invalid-argument');
  });
});

describe('bool expectation', () => {
  it('returns the bool of a condition', () => {
    expect(compileExpression('record.uid == 2', { expect: 'bool' })(aRecord(), meta)).toBe(true);
  });

  it('rejects at compile time a condition whose type is known not to be bool', () => {
    const error = compileError('record.event_type + "x"', { expect: 'bool' });

    expect(error.code).toBe('invalid-expression');
    expect(error.message).toContain('bool');
  });

  it('throws at run time when a dynamic condition yields something else', () => {
    const error = evaluationError('record.event_type', aRecord(), { expect: 'bool' });

    expect(error.code).toBe('not-a-bool');
    expect(error.message).toContain('"purchase"');
  });

  it('accepts a dynamic condition that yields a bool', () => {
    expect(compileExpression('record.flag', { expect: 'bool' })(aRecord({ flag: true }), meta)).toBe(true);
  });
});

describe('evaluation errors', () => {
  it('reports a missing field with its name and the offset of that name', () => {
    const error = evaluationError('record.amount * record.rate');

    expect(error).toBeInstanceOf(ExpressionEvaluationError);
    expect(error.code).toBe('missing-field');
    expect(error.message).toContain('rate');
    expect(error.message).toContain('record.amount * record.rate');
    expect(error.offset).toBe(23);
  });

  it('reports a type mismatch', () => {
    const error = evaluationError('record.uid + "x"');

    expect(error.code).toBe('type-mismatch');
    expect(error.message).toContain('double + string');
  });

  it('reports an integer overflow', () => {
    expect(evaluationError('9223372036854775807 + int(record.uid)').code).toBe('overflow');
  });

  it('reports a list index out of range as a missing field', () => {
    expect(evaluationError('record.tags[5]').code).toBe('missing-field');
  });

  it('reports a value with no JSON form', () => {
    expect(evaluationError('type(record.uid)').code).toBe('evaluation-error');
  });

  it('keeps the library error as the cause', () => {
    expect(evaluationError('record.missing').cause).toBeInstanceOf(Error);
  });

  it.each(['record.uid / 0.0', '0.0 / 0.0', '{"r": [record.uid / 0.0]}'])('reports %s, which JSON cannot hold, as non-finite-number', (source) => {
    expect(evaluationError(source).code).toBe('non-finite-number');
  });

  it('reports timestamp() of an infinity as an invalid argument', () => {
    expect(evaluationError('timestamp(record.uid / 0.0)').code).toBe('invalid-argument');
  });
});

describe('timestamp() of a record number', () => {
  it.each([
    [1772360000, '2026-03-01T10:13:20Z'],
    [1772360000250, '2026-03-01T10:13:20.250Z'],
    [1772360000000000, '2026-03-01T10:13:20Z'],
  ])('reads %s by its magnitude as %s', (ts, expected) => {
    expect(evaluate('timestamp(record.ts)', aRecord({ ts }))).toBe(expected);
  });

  it('keeps CEL\'s seconds for an int', () => {
    expect(evaluate('timestamp(1772360000)')).toBe('2026-03-01T10:13:20Z');
  });
});

describe('compiled expressions are reusable', () => {
  it('evaluates one compiled expression over many records', () => {
    const isPurchase = compileExpression("record.event_type == 'purchase'", { expect: 'bool' });
    const records = [aRecord(), aRecord({ event_type: 'heartbeat' }), aRecord()];

    expect(records.map((record) => isPurchase(record, meta))).toEqual([true, false, true]);
  });

  it('is not affected by a failure on a previous record', () => {
    const rate = compileExpression('record.amount * 2.0');

    expect(() => rate(aRecord({ amount: 'x' }), meta)).toThrow(ExpressionEvaluationError);
    expect(rate(aRecord(), meta)).toBe(3);
  });
});
