import { gzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import type { StagedFile } from '../../../../engine/ports/ledger.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import { IDENTITY_COLUMNS } from '../../../../engine/sinks/sql/load-transaction.ts';
import type { LoadPlan } from '../../../../engine/sinks/sql/load-transaction.ts';
import { copyData, postgresLoadTransaction, stagedErrorLocation } from '../../../../engine/sinks/sql/postgres-load.ts';
import type { StagedFormat } from '../../../../engine/sinks/sql/postgres-load.ts';
import { stagedRowFormat } from '../../../../engine/staging/staged-row.ts';

const BUCKET = 'staging';
const COLUMNS = ['id', 'name', 'amount', 'active', 'properties'];

function identity(position: number): string[] {
  return ['events', 'bucket/key@etag', `001${position}`, '0'.repeat(23), '2026-12-03 09:00:00.000', '0011' + '0'.repeat(23)];
}

/** One staged row as a JSON line: the sink's columns, then the identity list (0031 §1). */
function jsonLine(row: Record<string, unknown>, position: number): string {
  return JSON.stringify({ ...row, _ingest: identity(position) });
}

/** The same row as a staged CSV line: columns in order, then the six identity fields; null is an unquoted empty field. */
function csvLine(row: Record<string, unknown>, position: number): string {
  const values = COLUMNS.map((column) => {
    const value = row[column];
    if (value === null || value === undefined) return null;
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
  return stringifyCsv([[...values, ...identity(position)]], { quoted_match: /^$/, eof: false });
}

async function stage(objects: MemoryObjectStore, key: string, text: string, gzip = true): Promise<StagedFile> {
  const body = gzip ? gzipSync(text) : Buffer.from(text);
  await objects.put(BUCKET, key, body, { contentType: 'application/octet-stream' });
  return { bucket: BUCKET, key, records: text.split('\n').filter((line) => line.trim() !== '').length, bytes: body.length };
}

async function collect(data: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of data) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads COPY CSV as PostgreSQL does: an unquoted empty field is NULL, a quoted one the empty string. */
function readCopyCsv(text: string): (string | null)[][] {
  return parseCsv(text, { cast: (value, context) => (value === '' && !context.quoting ? null : value) }) as (string | null)[][];
}

const plan: LoadPlan = {
  dialect: 'postgres', scope: 'pipe/db', batch: 3, table: 'analytics.events', columns: COLUMNS,
  mode: 'upsert', keys: ['id'], stateSchema: 'analytics', sealedAt: 1_764_748_800_000, loadedAt: new Date('2026-12-03T09:00:00Z'),
};

describe('postgresLoadTransaction', () => {
  it.each(['jsonl', 'csv'] as const)('copies %s staged files from STDIN as CSV between the staging table and the apply statements', (format) => {
    const load = postgresLoadTransaction(plan, format);

    const copy = load.statements[load.copyStatement]!;
    expect(copy).toBe('COPY "ingest_staged" ("id", "name", "amount", "active", "properties", '
      + IDENTITY_COLUMNS.map((column) => `"${column.name}"`).join(', ') + ') FROM STDIN WITH (FORMAT csv)');
    expect(load.statements[load.copyStatement - 1]).toMatch(/^CREATE TEMP TABLE "ingest_staged"/);
    expect(load.statements[load.copyStatement + 1]).toMatch(/^CREATE TEMP TABLE "ingest_fresh"/);
    expect(load.statements[load.countsStatement]).toMatch(/^SELECT .* AS rows_staged, .* AS rows_written$/);
    expect(load.countsStatement).toBe(load.statements.length - 1);
    // PostgreSQL's COPY has no error limit: there are no rejected rows to read.
    expect(load.errorsStatement).toBeUndefined();
  });

  it('refuses a staged format it cannot read', () => {
    expect(() => postgresLoadTransaction(plan, 'parquet' as StagedFormat)).toThrow(/jsonl or csv/);
  });
});

// Every kind of value a staged row holds, and the COPY text it must become.
const VALUES: { name: string; row: Record<string, unknown>; copied: (string | null)[] }[] = [
  { name: 'plain text and numbers', row: { id: 'a1', name: 'Ada', amount: 12.5, active: true, properties: null }, copied: ['a1', 'Ada', '12.5', 'true', null] },
  { name: 'missing columns as NULL', row: { id: 'a2' }, copied: ['a2', null, null, null, null] },
  { name: 'the empty string apart from NULL', row: { id: 'a3', name: '', amount: null, active: false }, copied: ['a3', '', null, 'false', null] },
  { name: 'nested values as JSON text', row: { id: 'a4', properties: { plan: 'team', seats: [1, 2] } }, copied: ['a4', null, null, null, '{"plan":"team","seats":[1,2]}'] },
  { name: 'delimiters, quotes and newlines inside a value', row: { id: 'a5', name: 'x, "y"\nz\r\nw' }, copied: ['a5', 'x, "y"\nz\r\nw', null, null, null] },
  { name: 'text that looks like a NULL marker', row: { id: 'a6', name: '\\N', amount: 'NULL' }, copied: ['a6', '\\N', 'NULL', null, null] },
  { name: 'an integer beyond 2^53 with every digit', row: { id: 'a7', amount: 12345678901234567890 }, copied: ['a7', null, '12345678901234567890', null, null] },
  { name: 'text beyond ASCII', row: { id: 'a8', name: 'Zoë 日本 🚀' }, copied: ['a8', 'Zoë 日本 🚀', null, null, null] },
];

describe('copyData', () => {
  it.each(['jsonl', 'csv'] as const)('turns every kind of %s staged value into the COPY text PostgreSQL reads back as the same value', async (format) => {
    const objects = new MemoryObjectStore();
    // The big integer reaches the staged file as its exact digits (a JavaScript number cannot hold them).
    const lines = VALUES.map(({ row }, index) => (format === 'csv' ? csvLine(row, index + 1) : jsonLine(row, index + 1)).replace('12345678901234567000', '12345678901234567890'));
    const file = await stage(objects, `files/one.${format}.gz`, lines.join('\n') + '\n');

    const copied = readCopyCsv(await collect(copyData(objects, [file], COLUMNS, format)));

    expect(copied).toEqual(VALUES.map(({ copied: values }, index) => [...values, ...identity(index + 1)]));
  });

  it.each(['jsonl', 'csv'] as const)('reads %s files as the warehouse sink writer stages them, to the same COPY text', async (format) => {
    const objects = new MemoryObjectStore();
    const encode = stagedRowFormat(format, COLUMNS).begin();
    // Records as the engine holds them: an integer beyond 2^53 is its exact digits as text.
    const records = VALUES.map(({ row }) => (row.amount === 12345678901234567890 ? { ...row, amount: '12345678901234567890' } : row));
    const text = records.map((record, index) => {
      const [source, partition, position, subPosition, arrival] = identity(index + 1);
      return encode(record, { source: source!, partition: partition!, position: position!, subPosition: subPosition!, arrival: arrival! }, identity(index + 1)[5]!);
    }).join('');
    const file = await stage(objects, `files/written.${format}.gz`, text);

    const copied = readCopyCsv(await collect(copyData(objects, [file], COLUMNS, format)));

    expect(copied).toEqual(VALUES.map(({ copied: values }, index) => [...values, ...identity(index + 1)]));
  });

  it('concatenates the files in order and reads a staged file that is not compressed', async () => {
    const objects = new MemoryObjectStore();
    const first = await stage(objects, 'files/1.jsonl.gz', `${jsonLine({ id: 'first' }, 1)}\n`);
    const second = await stage(objects, 'files/2.jsonl', `${jsonLine({ id: 'second' }, 2)}\n${jsonLine({ id: 'third' }, 3)}`, false);

    const copied = readCopyCsv(await collect(copyData(objects, [first, second], ['id'], 'jsonl')));

    expect(copied.map((row) => row[0])).toEqual(['first', 'second', 'third']);
  });

  it('streams a large file in many chunks without losing or reordering a row', async () => {
    const objects = new MemoryObjectStore();
    const count = 5_000;
    const file = await stage(objects, 'files/big.jsonl.gz', Array.from({ length: count }, (_, index) => jsonLine({ id: `r${index}`, name: 'x'.repeat(index % 50) }, index + 1)).join('\n'));
    const data = copyData(objects, [file], ['id', 'name'], 'jsonl');

    let chunks = 0;
    const parts: Buffer[] = [];
    for await (const chunk of data) {
      chunks++;
      parts.push(Buffer.from(chunk));
    }

    expect(chunks).toBeGreaterThan(1);
    const ids = readCopyCsv(Buffer.concat(parts).toString('utf8')).map((row) => row[0]);
    expect(ids).toEqual(Array.from({ length: count }, (_, index) => `r${index}`));
  });

  it('locates each COPY record in its staged file and line, past blank lines and values holding newlines', async () => {
    const objects = new MemoryObjectStore();
    const first = await stage(objects, 'files/a.jsonl.gz', [jsonLine({ id: 'a1' }, 1), '', jsonLine({ id: 'a2' }, 2)].join('\n'));
    const second = await stage(objects, 'files/b.csv.gz', [csvLine({ id: 'b1', name: 'two\nlines' }, 1), csvLine({ id: 'b2' }, 2)].join('\n'));
    const third = await stage(objects, 'files/c.jsonl.gz', jsonLine({ id: 'c1' }, 1));
    const jsonData = copyData(objects, [first, third], ['id', 'name', 'amount', 'active', 'properties'], 'jsonl');
    const csvData = copyData(objects, [second], COLUMNS, 'csv');

    await collect(jsonData);
    await collect(csvData);

    expect([1, 2, 3, 4].map((record) => jsonData.locate(record))).toEqual([
      { file: 's3://staging/files/a.jsonl.gz', line: 1 },
      { file: 's3://staging/files/a.jsonl.gz', line: 3 },
      { file: 's3://staging/files/c.jsonl.gz', line: 1 },
      undefined,
    ]);
    expect([1, 2].map((record) => csvData.locate(record))).toEqual([
      { file: 's3://staging/files/b.csv.gz', line: 1 },
      { file: 's3://staging/files/b.csv.gz', line: 3 },
    ]);
  });

  // Every way a staged file can be unreadable: the iteration names the file and the line, and never yields the bad row.
  const BROKEN: { name: string; format: StagedFormat; write: (objects: MemoryObjectStore) => Promise<StagedFile>; error: RegExp }[] = [
    { name: 'a missing file', format: 'jsonl', write: async () => ({ bucket: BUCKET, key: 'files/gone.jsonl.gz', records: 1, bytes: 10 }), error: /^staged file s3:\/\/staging\/files\/gone\.jsonl\.gz is missing$/ },
    { name: 'a truncated gzip body', format: 'jsonl', write: async (objects) => {
      const body = gzipSync(`${jsonLine({ id: 'x' }, 1)}\n`.repeat(50));
      await objects.put(BUCKET, 'files/cut.jsonl.gz', body.subarray(0, body.length - 12), { contentType: 'application/gzip' });
      return { bucket: BUCKET, key: 'files/cut.jsonl.gz', records: 50, bytes: body.length };
    }, error: /^staged file s3:\/\/staging\/files\/cut\.jsonl\.gz line \d+: .*end of file/ },
    { name: 'a line that is not JSON', format: 'jsonl', write: (objects) => stage(objects, 'files/bad.jsonl.gz', `${jsonLine({ id: 'x' }, 1)}\n{"id": "y",\n`), error: /^staged file s3:\/\/staging\/files\/bad\.jsonl\.gz line 2: invalid-json/ },
    { name: 'a row that is a list', format: 'jsonl', write: (objects) => stage(objects, 'files/list.jsonl.gz', '["x"]\n'), error: /line 1: a staged row must be a JSON object/ },
    { name: 'a row without its identity', format: 'jsonl', write: (objects) => stage(objects, 'files/anon.jsonl.gz', '{"id": "x"}\n'), error: /line 1: a staged row must end with _ingest, a list of 6/ },
    { name: 'a row with a short identity', format: 'jsonl', write: (objects) => stage(objects, 'files/short.jsonl.gz', '{"id": "x", "_ingest": ["events"]}\n'), error: /line 1: a staged row must end with _ingest/ },
    { name: 'a CSV row of the wrong width', format: 'csv', write: (objects) => stage(objects, 'files/narrow.csv.gz', `${csvLine({ id: 'a' }, 1)}\nonly,three,fields\n`), error: /^staged file s3:\/\/staging\/files\/narrow\.csv\.gz line 2: a staged CSV row has 11 fields .* not 3$/ },
    { name: 'a CSV quote never closed', format: 'csv', write: (objects) => stage(objects, 'files/quote.csv.gz', `${csvLine({ id: 'a' }, 1)}\n"open,b\n`), error: /^staged file s3:\/\/staging\/files\/quote\.csv\.gz line 2: .*quote/i },
  ];

  it.each(BROKEN)('fails the iteration on $name, naming the staged file and line', async ({ format, write, error }) => {
    const objects = new MemoryObjectStore();
    const file = await write(objects);

    await expect(collect(copyData(objects, [file], COLUMNS, format))).rejects.toThrow(error);
  });
});

describe('stagedErrorLocation', () => {
  it('turns the COPY line of a PostgreSQL error context into the staged file and line', async () => {
    const objects = new MemoryObjectStore();
    const first = await stage(objects, 'files/a.jsonl.gz', jsonLine({ id: 'a1' }, 1));
    const second = await stage(objects, 'files/b.jsonl.gz', [jsonLine({ id: 'b1' }, 1), '', jsonLine({ id: 'b2', amount: 'abc' }, 2)].join('\n'));
    const data = copyData(objects, [first, second], COLUMNS, 'jsonl');
    await collect(data);

    expect(stagedErrorLocation('COPY ingest_staged, line 3, column amount: "abc"', data)).toBe('staged file s3://staging/files/b.jsonl.gz line 3, column amount: "abc"');
    expect(stagedErrorLocation('COPY ingest_staged, line 9', data)).toBeUndefined();
    expect(stagedErrorLocation('SQL statement "..."', data)).toBeUndefined();
    expect(stagedErrorLocation(undefined, data)).toBeUndefined();
    expect(stagedErrorLocation('COPY ingest_staged, line 1', [])).toBeUndefined();
  });
});
