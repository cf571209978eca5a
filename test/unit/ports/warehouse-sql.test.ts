import { describe, expect, it } from 'vitest';
import { quoteIdentifier, quoteQualifiedName } from '../../../engine/sinks/sql/identifier.ts';
import { isSafeLiteral, quoteLiteral } from '../../../engine/sinks/sql/literal.ts';
import { toPositionalParameters } from '../../../engine/sinks/sql/named-parameters.ts';

describe('toPositionalParameters', () => {
  it.each([
    ['a parameter', 'select * from t where a = :a', { a: '1' }, 'select * from t where a = $1', ['1']],
    ['a parameter used twice', 'select :a, :b, :a', { a: 'x', b: 'y' }, 'select $1, $2, $1', ['x', 'y']],
    ['a cast', 'select :a::int', { a: '5' }, 'select $1::int', ['5']],
    ['a colon in a string literal', "select ':a', 'it''s :a', :a", { a: 'v' }, "select ':a', 'it''s :a', $1", ['v']],
    ['a colon in a quoted identifier', 'select "x:a" from t where b = :b', { b: '2' }, 'select "x:a" from t where b = $1', ['2']],
    ['a colon in comments', 'select 1 -- :a\n/* :a */ where c = :c', { c: '3' }, 'select 1 -- :a\n/* :a */ where c = $1', ['3']],
    ['a dollar-quoted string', 'select $q$ :a $q$, :b', { b: '4' }, 'select $q$ :a $q$, $1', ['4']],
    ['unused parameters', 'select 1', { a: '1' }, 'select 1', []],
  ])('rewrites %s', (_, sql, parameters, text, values) => {
    expect(toPositionalParameters(sql, parameters)).toEqual({ text, values });
  });

  it('refuses a statement that uses a parameter not given, naming it', () => {
    expect(() => toPositionalParameters('select :missing', {})).toThrow(':missing');
  });

  it('does not take a parameter from the prototype chain', () => {
    expect(() => toPositionalParameters('select :toString', {})).toThrow(':toString');
  });
});

describe('quoteLiteral', () => {
  it.each([
    ['an S3 URL', 's3://staging/pipeline/sink/manifests/0000000007.json'],
    ['an IAM role ARN', 'arn:aws:iam::123456789012:role/RedshiftCopy'],
    ['a time format', 'YYYY-MM-DDTHH:MI:SS'],
  ])('quotes %s', (_, value) => {
    expect(quoteLiteral(value)).toBe(`'${value}'`);
  });

  it.each([
    ['a quote', "x'; drop table t; --"],
    ['a backslash', 'x\\'],
    ['a newline', 'a\nb'],
    ['a non-ASCII character', 'café'],
    ['a NUL', 'a\0b'],
  ])('refuses a value with %s', (_, value) => {
    expect(isSafeLiteral(value)).toBe(false);
    expect(() => quoteLiteral(value)).toThrow(TypeError);
  });
});

describe('quoteQualifiedName', () => {
  it('quotes a schema and a table', () => {
    expect(quoteQualifiedName('public.purchases', 'redshift')).toBe('"public"."purchases"');
    expect(quoteQualifiedName('purchases', 'postgres')).toBe('"purchases"');
  });

  it.each(['a.b.c', 'public."x"', 'public.x;drop', '', 'public.'])('refuses %j', (name) => {
    expect(() => quoteQualifiedName(name, 'postgres')).toThrow(TypeError);
  });

  it('refuses identifiers longer than the dialect allows', () => {
    expect(() => quoteIdentifier('a'.repeat(64), 'postgres')).toThrow(TypeError);
    expect(quoteIdentifier('a'.repeat(64), 'redshift')).toBe(`"${'a'.repeat(64)}"`);
  });
});
