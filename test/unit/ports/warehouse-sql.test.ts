import { describe, expect, it } from 'vitest';
import { quoteIdentifier, quoteQualifiedName } from '../../../engine/sinks/sql/identifier.ts';
import { isSafeLiteral, quoteLiteral } from '../../../engine/sinks/sql/literal.ts';
import { toPositionalParameters } from '../../../engine/sinks/sql/named-parameters.ts';
import { jsonPathsDocument, redshiftLoadTransaction } from '../../../engine/sinks/sql/load-transaction.ts';
import type { LoadPlan, RedshiftCopyPlan } from '../../../engine/sinks/sql/load-transaction.ts';
import { checkTableSink } from '../../../engine/sinks/sql/check.ts';
import { stagedPosition, stagedSubPosition } from '../../../engine/staging/record-identity.ts';
import type { CheckContext } from '../../../engine/plugin/checks.ts';

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

describe('load transaction statements', () => {
  const plan: LoadPlan = {
    dialect: 'redshift', scope: 'shop/warehouse', batch: 7, table: 'public.purchases', columns: ['event_id', 'amount'], mode: 'upsert', keys: ['event_id'],
    stateSchema: 'public', sealedAt: 1_764_748_800_000, loadedAt: new Date('2026-12-03T08:00:00.123Z'),
  };
  const copy: RedshiftCopyPlan = { manifestUrl: 's3://staging/shop/warehouse/manifests/0000000007.json', format: 'jsonl', jsonPathsUrl: 's3://staging/shop/warehouse/jsonpaths.json' };

  it('quotes every identifier and writes only engine-made literals', () => {
    const { statements } = redshiftLoadTransaction(plan, { ...copy, iamRole: 'arn:aws:iam::123456789012:role/Copy', copy: { max_error: 5, truncate_columns: true } });

    expect(statements[0]).toBe('LOCK "public"."ingest_loads"');
    expect(statements[2]).toBe(`COPY "ingest_staged" ("event_id", "amount", "_ingest_source", "_ingest_partition", "_ingest_position", "_ingest_sub_position", "_ingest_arrival", "_ingest_file") `
      + `FROM 's3://staging/shop/warehouse/manifests/0000000007.json' IAM_ROLE 'arn:aws:iam::123456789012:role/Copy' MANIFEST `
      + `FORMAT AS JSON 's3://staging/shop/warehouse/jsonpaths.json' GZIP TIMEFORMAT 'auto' DATEFORMAT 'auto' MAXERROR 5 TRUNCATECOLUMNS`);
    expect(statements.join('\n')).toContain("'2026-12-03 08:00:00'");
  });

  it('reports where the rejected rows and the counts are', () => {
    const withErrors = redshiftLoadTransaction(plan, { ...copy, copy: { max_error: 1 } });
    const without = redshiftLoadTransaction(plan, copy);

    expect(withErrors.statements[withErrors.errorsStatement!]).toMatch(/FROM sys_load_error_detail WHERE query_id = pg_last_copy_id\(\)/);
    expect(without.errorsStatement).toBeUndefined();
    expect(without.statements[without.countsStatement]).toMatch(/^SELECT \(SELECT COUNT\(\*\) FROM "ingest_staged"\) AS rows_staged/);
  });

  it.each([
    ['a table name with a quote', { table: 'public.x"; drop table y; --' }, {}],
    ['a column that is not an identifier', { columns: ['ok', 'a b'] }, {}],
    ['a manifest URL with a quote', {}, { manifestUrl: "s3://b/k'; drop table y; --" }],
    ['an IAM role with a backslash', {}, { iamRole: 'arn:aws:iam::1:role/x\\' }],
    ['a time format with a quote', {}, { copy: { timeformat: "YYYY'" } }],
    ['a batch that is not a positive integer', { batch: 1.5 }, {}],
  ])('refuses %s', (_, planChange, copyChange) => {
    expect(() => redshiftLoadTransaction({ ...plan, ...planChange } as LoadPlan, { ...copy, ...copyChange } as RedshiftCopyPlan)).toThrow(TypeError);
  });

  it('maps staged JSON rows by column name, then the identity list', () => {
    expect(jsonPathsDocument(['event_id', 'amount']).jsonpaths).toEqual([
      "$['event_id']", "$['amount']", "$['_ingest'][0]", "$['_ingest'][1]", "$['_ingest'][2]", "$['_ingest'][3]", "$['_ingest'][4]", "$['_ingest'][5]",
    ]);
  });
});

describe('SQL sink checks', () => {
  function problems(columns: string[]): string[] {
    const reported: string[] = [];
    checkTableSink({ table: 'public.t', columns }, 'redshift', { report: (path, code, message) => reported.push(`${path.join('.')} ${code} ${message}`), files: {} as CheckContext['files'] });
    return reported;
  }

  it.each(['_ingest', '_ingest_source', '_INGEST_x'])('refuses the reserved column name %s', (column) => {
    expect(problems(['id', column])).toEqual([expect.stringMatching(/^columns\.1 invalid-identifier .*reserves/)]);
  });

  it('accepts a column that only contains ingest', () => {
    expect(problems(['id', 'last_ingest'])).toEqual([]);
  });
});

describe('staged record identity', () => {
  it('orders positions of any length as numbers when compared as text', () => {
    const positions = ['9', '10', '49590338271490256608559692538361571095921575989136588898', '49590338271490256608559692538361571095921575989136588899', '100000000000000000000000000000000000000000000000000000000'];
    const staged = positions.map(stagedPosition);

    expect([...staged].sort()).toEqual(staged);
    expect(stagedPosition('007')).toBe(stagedPosition(7));
  });

  it('orders sub-positions by aggregate index, then line, then ordinal', () => {
    const ordered = [stagedSubPosition(0, 0, 0), stagedSubPosition(0, 0, 1), stagedSubPosition(0, 1, 0), stagedSubPosition(1, 0, 0), stagedSubPosition(1_048_575, 1_048_575, 999_999_999)];

    expect([...ordered].sort()).toEqual(ordered);
    expect(ordered[0]).toHaveLength(23);
  });

  it.each([['-1'], ['1.5'], [''], ['12a']])('refuses the position %j', (position) => {
    expect(() => stagedPosition(position)).toThrow(RangeError);
  });

  it('refuses a sub-position field wider than its digits', () => {
    expect(() => stagedSubPosition(10_000_000, 0, 0)).toThrow(RangeError);
  });
});
