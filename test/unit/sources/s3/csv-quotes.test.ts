import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import type { S3SourceConfig } from '../../../../engine/sources/s3/config.ts';
import { readObjectRecords } from '../../../../engine/sources/s3/read.ts';
import { collect, objectRef, summary, text } from './fixtures.ts';

// A quote out of place in one CSV row must cost that row alone: wherever it sits (start, middle
// or end of a field; first, middle or last field; last row, with or without a final line break),
// the rows around it are read as if it were not there. A quoted field that spans lines is legal
// and stays one record.

const config: S3SourceConfig = {
  bucket: 'raw',
  prefix: '',
  suffix: '',
  format: 'csv',
  compression: 'none',
  csv: { header: true, delimiter: ',', quote: '"' },
  max_record_bytes: 1024 * 1024,
  max_depth: 256,
} as S3SourceConfig;

async function read(body: string, chunkBytes: number, csv: Partial<NonNullable<S3SourceConfig['csv']>> = {}) {
  const store = new MemoryObjectStore({ chunkBytes });
  store.set('raw', 'in/people.csv', body);
  return collect(readObjectRecords(store, objectRef('in/people.csv'), 'people', { ...config, csv: { ...config.csv!, ...csv } }));
}

const HEADER = 'id,height,note\n';
const row = (id: number) => ({ id: String(id), height: `${id}ft`, note: 'ok' });

/** [what, rows after the header, the line each bad row is on, the good rows' ids and their lines]. */
const placements: [string, string, number[], [number, number][]][] = [
  ['a stray quote at the end of a field', `1,5'11",ok\n2,2ft,ok\n3,3ft,ok\n`, [2], [[2, 3], [3, 4]]],
  ['a stray quote at the start of a field, never closed', `1,"5'11,ok\n2,2ft,ok\n3,3ft,ok\n`, [2], [[2, 3], [3, 4]]],
  ['a stray quote in the middle of a field', `1,5'1"1,ok\n2,2ft,ok\n3,3ft,ok\n`, [2], [[2, 3], [3, 4]]],
  ['a stray quote in the first field', `1",1ft,ok\n2,2ft,ok\n3,3ft,ok\n`, [2], [[2, 3], [3, 4]]],
  ['a stray quote at the end of the last field', `1,1ft,ok"\n2,2ft,ok\n3,3ft,ok\n`, [2], [[2, 3], [3, 4]]],
  ['a quote opened at the start of the last field, never closed', `1,1ft,"ok\n2,2ft,ok\n3,3ft,ok\n`, [2], [[2, 3], [3, 4]]],
  ['text after a closing quote', `1,"1ft"x,ok\n2,2ft,ok\n3,3ft,ok\n`, [2], [[2, 3], [3, 4]]],
  ['a stray quote that a later quote seems to close', `1,"1ft,ok\n2,2ft,ok\n3,"3ft",ok\n`, [2], [[2, 3], [3, 4]]],
  ['a stray quote in the last row', `2,2ft,ok\n3,3ft,ok\n1,5'11",ok\n`, [4], [[2, 2], [3, 3]]],
  ['a stray quote in the last row, without a final line break', `2,2ft,ok\n3,3ft,ok\n1,5'11",ok`, [4], [[2, 2], [3, 3]]],
  ['a quote opened in the last row, never closed', `2,2ft,ok\n3,3ft,ok\n1,"5'11,ok`, [4], [[2, 2], [3, 3]]],
  ['two bad rows in a row', `1,5'11",ok\n1,"5'11,ok\n2,2ft,ok\n3,3ft,ok\n`, [2, 3], [[2, 4], [3, 5]]],
  ['a bad row before a quoted field spanning lines', `1,"5'11,ok\n2,2ft,"two\nlines"\n3,3ft,ok\n`, [2], [[2, 3], [3, 5]]],
];

describe.each([1, 7, 64 * 1024])('csv rows with a quote out of place, read in %i-byte chunks', (chunkBytes) => {
  it.each(placements)('%s: only that row is dead-lettered', async (_what, rows, badLines, good) => {
    const items = await read(HEADER + rows, chunkBytes);

    const letters = items.filter((item) => item.outcome === 'dead_letter');
    const records = summary(items).filter((item) => item.value !== undefined);
    expect(letters.map((item) => [item.meta.event === 's3' && item.meta.line, item.outcome === 'dead_letter' && item.code])).toEqual(badLines.map((line) => [line, 'invalid-csv']));
    expect(records.map((item) => [(item.value as { id: string }).id, item.line])).toEqual(good.map(([id, line]) => [String(id), line]));
    expect(items).toHaveLength(badLines.length + good.length);
  });

  it('keeps each bad row whole, and nothing else, as the dead letter\'s raw', async () => {
    const items = await read(`${HEADER}1,5'11",ok\r\n2,2ft,ok\r\n1,"5'11,ok\r\n3,3ft,ok\r\n`, chunkBytes);

    const raws = items.filter((item) => item.outcome === 'dead_letter').map((item) => text(item.raw));
    expect(raws).toEqual([`1,5'11",ok`, `1,"5'11,ok`]);
  });

  it('reads the three rows of the report as 3 in, 2 written, 1 dead-lettered', async () => {
    const items = await read(`1,5'11"\n2,6ft\n3,7ft\n`, chunkBytes, { header: false, columns: ['id', 'height'] });

    expect(summary(items)).toEqual([
      { line: 1, code: 'invalid-csv' },
      { line: 2, value: { id: '2', height: '6ft' } },
      { line: 3, value: { id: '3', height: '7ft' } },
    ]);
    expect(text(items[0]!.raw)).toBe(`1,5'11"`);
  });

  it('reads a legal quoted field with a line break and doubled quotes as one record', async () => {
    const items = await read(`${HEADER}1,1ft,"says ""hi""\nthen leaves"\n2,2ft,ok\n`, chunkBytes);

    expect(summary(items)).toEqual([
      { line: 2, value: { id: '1', height: '1ft', note: 'says "hi"\nthen leaves' } },
      { line: 4, value: row(2) },
    ]);
  });
});
