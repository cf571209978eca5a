import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import type { S3Source } from '../../../../engine/spec/spec-types.ts';
import { readObjectRecords } from '../../../../engine/sources/s3/read.ts';
import { resolvedSource } from '../../../support/resolved-config.ts';
import { collect, objectRef, summary, text } from './fixtures.ts';

const csv: S3Source = { type: 's3', bucket: 'raw', format: 'csv', compression: 'auto', csv: { header: true, delimiter: ',', quote: '"' } };

async function read(body: string | Uint8Array, config: S3Source = csv, chunkBytes = 64 * 1024) {
  const store = new MemoryObjectStore({ chunkBytes });
  store.set('raw', 'in/data.csv', body);
  return collect(readObjectRecords(store, objectRef('in/data.csv'), 'orders', resolvedSource(config)));
}

describe('csv objects', () => {
  it('names fields by the header row and keeps values as strings, with the line and exact bytes', async () => {
    const items = await read('id,name,amount\n1,Ada,1.50\n2,"Lovelace, Ada",2\n');

    expect(summary(items)).toEqual([
      { line: 2, value: { id: '1', name: 'Ada', amount: '1.50' } },
      { line: 3, value: { id: '2', name: 'Lovelace, Ada', amount: '2' } },
    ]);
    expect(text(items[1]!.raw)).toBe('2,"Lovelace, Ada",2');
    expect(items[1]!.meta).toMatchObject({ position: expect.stringMatching(/^raw\/in\/data\.csv@[0-9a-f]{32}:3$/), line: 3 });
  });

  it('dead-letters only the row with the wrong number of fields', async () => {
    const items = await read('a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n');

    expect(summary(items)).toEqual([
      { line: 2, value: { a: '1', b: '2', c: '3' } },
      { line: 3, code: 'invalid-csv' },
      { line: 4, code: 'invalid-csv' },
      { line: 5, value: { a: '10', b: '11', c: '12' } },
    ]);
    expect(items[1]).toMatchObject({ message: 'CSV record at line 3 has 2 fields; expected 3 (one per column: a, b, c)' });
    expect(text(items[2]!.raw)).toBe('6,7,8,9');
  });

  it('reads a quoted field spanning lines as one record starting on its first line', async () => {
    const items = await read('id,note\r\n1,"two\r\nlines"\r\n\r\n2,"say ""hi"""\r\n');

    expect(summary(items)).toEqual([
      { line: 2, value: { id: '1', note: 'two\r\nlines' } },
      { line: 5, value: { id: '2', note: 'say "hi"' } },
    ]);
    expect(text(items[0]!.raw)).toBe('1,"two\r\nlines"');
  });

  it('uses columns instead of the header names when both are given', async () => {
    const items = await read('ID,Name\n1,Ada\n', { ...csv, csv: { ...csv.csv, columns: ['id', 'name'] } });

    expect(summary(items)).toEqual([{ line: 2, value: { id: '1', name: 'Ada' } }]);
  });

  it('reads objects without a header row by columns, or as field_1, field_2...', async () => {
    const named = await read('1,Ada\n2,Grace\n', { ...csv, csv: { header: false, columns: ['id', 'name'] } });
    const unnamed = await read('1,Ada\n2,Grace,extra\n', { ...csv, csv: { header: false } });

    expect(summary(named)).toEqual([{ line: 1, value: { id: '1', name: 'Ada' } }, { line: 2, value: { id: '2', name: 'Grace' } }]);
    expect(summary(unnamed)).toEqual([{ line: 1, value: { field_1: '1', field_2: 'Ada' } }, { line: 2, code: 'invalid-csv' }]);
  });

  it('honours another delimiter and quote character', async () => {
    const items = await read("id;text\n1;'a;b'\n2;'it''s'\n", { ...csv, csv: { header: true, delimiter: ';', quote: "'" } });

    expect(summary(items)).toEqual([{ line: 2, value: { id: '1', text: 'a;b' } }, { line: 3, value: { id: '2', text: "it's" } }]);
  });

  it('decodes UTF-8 values and names, and drops a byte-order mark', async () => {
    const items = await read('\ufeffnom,ville\nÉlodie,Montréal ✓\n');

    expect(summary(items)).toEqual([{ line: 2, value: { nom: 'Élodie', ville: 'Montréal ✓' } }]);
  });

  it('dead-letters a row that is not UTF-8 and keeps its neighbours', async () => {
    const body = Buffer.concat([Buffer.from('a,b\n1,x\n2,'), Buffer.from([0xe9, 0x00, 0xff]), Buffer.from('\n3,z\n')]);

    const items = await read(body);

    expect(summary(items)).toEqual([{ line: 2, value: { a: '1', b: 'x' } }, { line: 3, code: 'invalid-utf8' }, { line: 4, value: { a: '3', b: 'z' } }]);
  });

  it('dead-letters a row with malformed quotes and resumes on the next line', async () => {
    const items = await read('a,b\n1,x\n"2"oops,y\n3,z\n4,"w"\n', csv, 4);

    expect(summary(items)).toEqual([
      { line: 2, value: { a: '1', b: 'x' } },
      { line: 3, code: 'invalid-csv' },
      { line: 4, value: { a: '3', b: 'z' } },
      { line: 5, value: { a: '4', b: 'w' } },
    ]);
    expect(text(items[1]!.raw)).toBe('"2"oops,y');
    expect(items[1]).toMatchObject({ message: expect.stringContaining('CSV record starting at line 3 is malformed (CSV_INVALID_CLOSING_QUOTE)') });
  });

  it('dead-letters only the line of a quote left open at the end of the object', async () => {
    const items = await read('a,b\n1,x\n2,"never closed\n3,z\n');

    expect(summary(items)).toEqual([{ line: 2, value: { a: '1', b: 'x' } }, { line: 3, code: 'invalid-csv' }, { line: 4, value: { a: '3', b: 'z' } }]);
    expect(text(items[1]!.raw)).toBe('2,"never closed');
  });

  it('dead-letters a record larger than max_record_bytes and resumes after the next line break', async () => {
    const config = { ...csv, max_record_bytes: 64 };

    const items = await read(`a,b\n1,x\n2,${'y'.repeat(500)}\n3,z\n`, config, 16);

    expect(summary(items)).toEqual([{ line: 2, value: { a: '1', b: 'x' } }, { line: 3, code: 'record-too-large' }, { line: 4, value: { a: '3', b: 'z' } }]);
    expect(items[1]!.raw.byteLength).toBe(64);
  });

  it('bounds a quote that never closes by max_record_bytes', async () => {
    const lines = Array.from({ length: 40 }, (_, index) => `${index},fine`).join('\n');

    const items = await read(`a,b\n1,"open\n${lines}\n`, { ...csv, max_record_bytes: 100 }, 32);

    expect(items[0]).toMatchObject({ outcome: 'dead_letter', code: 'record-too-large', meta: { line: 2 } });
    expect(items.slice(1).every((item) => item.outcome === 'record')).toBe(true);
  });

  it('keeps line numbers right across chunks, blank lines and restarts after errors', async () => {
    const body = 'a,b\n\n1,x\n"bad"q,1\n\n2,y\n3\n4,"multi\nline"\n5,v';

    const items = await read(body, csv, 3);

    expect(summary(items)).toEqual([
      { line: 3, value: { a: '1', b: 'x' } },
      { line: 4, code: 'invalid-csv' },
      { line: 6, value: { a: '2', b: 'y' } },
      { line: 7, code: 'invalid-csv' },
      { line: 8, value: { a: '4', b: 'multi\nline' } },
      { line: 10, value: { a: '5', b: 'v' } },
    ]);
  });

  it('ends the object when the header row is not UTF-8', async () => {
    const body = Buffer.concat([Buffer.from([0xff, 0x2c, 0x62]), Buffer.from('\n1,2\n')]);

    expect(summary(await read(body))).toEqual([{ line: 1, code: 'invalid-utf8' }]);
  });

  it('ends the object when the header row is malformed, rather than take a record for the header', async () => {
    const items = await read('"a"x,b\n1,2\n3,4\n');

    expect(summary(items)).toEqual([{ line: 1, code: 'invalid-csv' }]);
    expect(items[0]).toMatchObject({ message: expect.stringContaining('CSV header row starting at line 1 is malformed') });
  });

  it('yields nothing for an object holding only its header', async () => {
    expect(await read('a,b\n')).toEqual([]);
  });

  it.each([
    ['a name given twice', 'id,name,id\n1,Ada,2\n3,Grace,4\n', 'id', 1, 3],
    ['an empty name given twice', 'id,,\n1,a,b\n', '', 2, 3],
    ['a name given twice after a byte-order mark', '\uFEFFid,id\n1,2\n', 'id', 1, 2],
  ])('dead-letters the whole object once when its header row has %s, writing nothing from it', async (_what, body, name, first, second) => {
    const items = await read(body);

    expect(summary(items)).toEqual([{ line: 1, code: 'invalid-csv' }]);
    expect(items[0]).toMatchObject({
      message: `the CSV header row (line 1) names column ${JSON.stringify(name)} twice (fields ${first} and ${second}), so no record of the object is read; give csv.columns to name the columns`,
    });
  });

  it('reads an object whose header row repeats a name when columns name the fields', async () => {
    const items = await read('id,name,id\n1,Ada,2\n', { ...csv, csv: { ...csv.csv, columns: ['id', 'name', 'parent_id'] } });

    expect(summary(items)).toEqual([{ line: 2, value: { id: '1', name: 'Ada', parent_id: '2' } }]);
  });
});
