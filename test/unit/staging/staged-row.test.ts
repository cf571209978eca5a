import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { RecordValue } from '../../../engine/pipeline/record.ts';
import { IDENTITY_COLUMNS, IDENTITY_FIELD, jsonPathsDocument } from '../../../engine/sinks/sql/load-transaction.ts';
import type { StagedIdentity } from '../../../engine/staging/record-identity.ts';
import { STAGED_IDENTITY_FIELD, stagedFileId, stagedRowFormat } from '../../../engine/staging/staged-row.ts';

const IDENTITY: StagedIdentity = {
  source: 'orders',
  partition: 'orders/shardId-000000000000',
  position: '05649590338271490256608559692538361571095921575989136588898',
  subPosition: '00000030000000000000002',
  arrival: '2026-11-27 10:00:00.000',
};
const FILE = stagedFileId(IDENTITY);
const COLUMNS = ['event_id', 'user_id', 'amount', 'paid', 'tags', 'address', 'note'];

/** What the load's COPY reads for each jsonpath of `jsonPathsDocument`: `$['column']` or `$['_ingest'][n]`. */
function readJsonPath(document: Record<string, unknown>, path: string): unknown {
  const column = /^\$\['([^']+)'\]$/.exec(path);
  if (column) return document[column[1]!];
  const identity = /^\$\['([^']+)'\]\[(\d+)\]$/.exec(path);
  if (identity) return (document[identity[1]!] as unknown[])[Number(identity[2])];
  throw new Error(`unexpected jsonpath ${path}`);
}

/** The staged row of `record` parsed back into the values COPY loads: the columns, then the identity columns. */
function loadedValues(format: 'jsonl' | 'csv', record: RecordValue, columns = COLUMNS): unknown[] {
  const text = stagedRowFormat(format, columns).begin()(record, IDENTITY, FILE);
  if (format === 'jsonl') {
    const document = JSON.parse(text) as Record<string, unknown>;
    return jsonPathsDocument(columns).jsonpaths.map((path) => readJsonPath(document, path));
  }
  const rows = parseCsv(text) as string[][];
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe('staged rows', () => {
  it('use the identity field and hidden column names the load transaction expects', () => {
    expect(STAGED_IDENTITY_FIELD).toBe(IDENTITY_FIELD);
    expect(IDENTITY_COLUMNS).toHaveLength(6);
  });

  it('name a file after its first row: position then sub-position', () => {
    expect(FILE).toBe(IDENTITY.position + IDENTITY.subPosition);
  });

  const record: RecordValue = {
    event_id: 'e1',
    user_id: 42,
    amount: 1.5,
    paid: false,
    tags: ['a', 'b'],
    address: { city: 'Oslo' },
    note: 'line one\nline "two", with comma',
    ignored: 'not a column',
  };

  const cases: { format: 'jsonl' | 'csv'; expected: unknown[] }[] = [
    {
      format: 'jsonl',
      expected: ['e1', 42, 1.5, false, ['a', 'b'], { city: 'Oslo' }, 'line one\nline "two", with comma', IDENTITY.source, IDENTITY.partition, IDENTITY.position, IDENTITY.subPosition, IDENTITY.arrival, FILE],
    },
    {
      format: 'csv',
      expected: ['e1', '42', '1.5', 'false', '["a","b"]', '{"city":"Oslo"}', 'line one\nline "two", with comma', IDENTITY.source, IDENTITY.partition, IDENTITY.position, IDENTITY.subPosition, IDENTITY.arrival, FILE],
    },
  ];

  it.each(cases)('parse back in $format to the columns in order, then the six identity values', ({ format, expected }) => {
    expect(loadedValues(format, record)).toEqual(expected);
  });

  it.each([
    { format: 'jsonl' as const, missing: null, arrival: null },
    { format: 'csv' as const, missing: '', arrival: '' },
  ])('write a missing field and a missing arrival time as null in $format', ({ format, missing, arrival }) => {
    const text = stagedRowFormat(format, ['event_id', 'absent']).begin()({ event_id: 'e1' }, { ...IDENTITY, arrival: null }, FILE);
    const values = format === 'jsonl' ? jsonPathsDocument(['event_id', 'absent']).jsonpaths.map((path) => readJsonPath(JSON.parse(text), path)) : (parseCsv(text) as string[][])[0]!;

    expect(values[1]).toBe(missing);
    expect(values[2 + 4]).toBe(arrival);
  });

  it('tell an empty string from a null in CSV, as COPY reads them: quoted and unquoted empty fields', () => {
    const text = stagedRowFormat('csv', ['empty', 'absent', 'nothing']).begin()({ empty: '', nothing: null }, IDENTITY, FILE);

    const [fields] = parseCsv(text, { cast: (value, context) => (value === '' && !context.quoting ? null : value) }) as (string | null)[][];

    expect(fields!.slice(0, 3)).toEqual(['', null, null]);
  });

  it('keep the identity list as the last key of a JSON row, after every column', () => {
    const text = stagedRowFormat('jsonl', ['b', 'a']).begin()({ a: 1, b: 2 }, IDENTITY, FILE);

    expect(Object.keys(JSON.parse(text))).toEqual(['b', 'a', '_ingest']);
    expect(text.endsWith(`,"${FILE}"]}\n`)).toBe(true);
  });

  it.each(['jsonl', 'csv'] as const)('read only own fields in %s, so columns named like Object members load null', (format) => {
    const columns = ['constructor', 'toString', '__proto__'];
    const record = JSON.parse('{"__proto__": "kept"}') as RecordValue;

    const values = loadedValues(format, record, columns);

    const empty = format === 'jsonl' ? null : '';
    expect(values.slice(0, 3)).toEqual([empty, empty, 'kept']);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
  });

  it('refuses a value that has no JSON text, so the record fails instead of being staged wrong', () => {
    const encode = stagedRowFormat('jsonl', ['big']).begin();

    expect(() => encode({ big: 12345678901234567890n }, IDENTITY, FILE)).toThrow(TypeError);
  });

  it.each(['jsonl', 'csv'] as const)('refuses a %s sink column that starts with _ingest', (format) => {
    expect(() => stagedRowFormat(format, ['id', '_Ingest_x'])).toThrow(/reserves/);
  });

  it.each(['jsonl', 'csv'] as const)('move a %s row to another file by changing its file id only', (format) => {
    const rows = stagedRowFormat(format, COLUMNS);
    const text = rows.begin()(record, IDENTITY, FILE);
    const other = '003123' + '0'.repeat(23);

    const moved = rows.moveRow(text, FILE, other);

    expect(moved).toBe(rows.begin()(record, IDENTITY, other));
    expect(() => rows.moveRow(text, other, FILE)).toThrow(RangeError);
  });
});
