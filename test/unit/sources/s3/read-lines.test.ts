import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import type { S3Source } from '../../../../engine/spec/spec-types.ts';
import { readObjectRecords } from '../../../../engine/sources/s3/read.ts';
import { resolvedSource } from '../../../support/resolved-config.ts';
import { collect, objectRef, summary, text } from './fixtures.ts';

const jsonl: S3Source = { type: 's3', bucket: 'raw', format: 'jsonl', compression: 'auto' };
const textSource: S3Source = { type: 's3', bucket: 'raw', format: 'text', compression: 'auto' };

async function read(body: string | Uint8Array, config: S3Source, chunkBytes = 64 * 1024) {
  const store = new MemoryObjectStore({ chunkBytes });
  store.set('raw', 'in/data', body);
  return collect(readObjectRecords(store, objectRef('in/data'), 'clicks', resolvedSource(config)));
}

describe('jsonl objects', () => {
  it('yields one record per line with its S3 meta and raw bytes', async () => {
    const store = new MemoryObjectStore();
    const { etag } = store.set('raw', 'in/data', '{"a":1}\n{"a":2}\n');

    const items = await collect(readObjectRecords(store, objectRef('in/data'), 'clicks', resolvedSource(jsonl)));

    expect(items).toHaveLength(2);
    expect(items[1]).toEqual({
      outcome: 'record',
      value: { a: 2 },
      meta: {
        event: 's3',
        source: 'clicks',
        arrival_time: '2026-11-27T10:00:00.000Z',
        position: expect.stringMatching(/^raw\/in\/data@[0-9a-f]{32}:2$/),
        bucket: 'raw',
        key: 'in/data',
        line: 2,
        etag,
      },
      raw: expect.any(Uint8Array),
    });
    expect(text(items[1]!.raw)).toBe('{"a":2}');
  });

  it('skips blank lines but keeps counting them', async () => {
    const items = await read('{"a":1}\n\n   \n{"a":2}', jsonl);

    expect(summary(items)).toEqual([{ line: 1, value: { a: 1 } }, { line: 4, value: { a: 2 } }]);
  });

  it('accepts CRLF line ends and a byte-order mark', async () => {
    const items = await read('\ufeff{"a":1}\r\n{"a":2}\r\n', jsonl);

    expect(summary(items)).toEqual([{ line: 1, value: { a: 1 } }, { line: 2, value: { a: 2 } }]);
    expect(text(items[0]!.raw)).toBe('{"a":1}');
  });

  it('dead-letters an invalid JSON line with its line number and leaves its neighbours alone', async () => {
    const items = await read('{"a":1}\n{"a":\n{"a":3}\n', jsonl);

    expect(summary(items)).toEqual([{ line: 1, value: { a: 1 } }, { line: 2, code: 'invalid-json' }, { line: 3, value: { a: 3 } }]);
    expect(items[1]).toMatchObject({ meta: { position: expect.stringMatching(/^raw\/in\/data@[0-9a-f]{32}:2$/) }, message: expect.stringContaining('line 2 is not valid JSON') });
    expect(text(items[1]!.raw)).toBe('{"a":');
  });

  it('dead-letters JSON values that are not objects', async () => {
    const items = await read('[1,2]\n"text"\nnull\n{"ok":true}\n', jsonl);

    expect(summary(items)).toEqual([
      { line: 1, code: 'not-an-object' },
      { line: 2, code: 'not-an-object' },
      { line: 3, code: 'not-an-object' },
      { line: 4, value: { ok: true } },
    ]);
  });

  it('dead-letters a line that is not UTF-8', async () => {
    const body = Buffer.concat([Buffer.from('{"a":1}\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n{"a":3}\n')]);

    const items = await read(body, jsonl);

    expect(summary(items)).toEqual([{ line: 1, value: { a: 1 } }, { line: 2, code: 'invalid-utf8' }, { line: 3, value: { a: 3 } }]);
  });

  it('reassembles lines and multi-byte characters split across chunks', async () => {
    const lines = Array.from({ length: 20 }, (_, index) => JSON.stringify({ index, word: 'été ✓' }));

    const items = await read(lines.join('\n'), jsonl, 5);

    expect(items.map((item) => item.outcome === 'record' && item.value.index)).toEqual(lines.map((_, index) => index));
    expect(items[19]).toMatchObject({ value: { word: 'été ✓' } });
  });

  it('dead-letters a line longer than max_record_bytes, keeping only its first bytes', async () => {
    const long = JSON.stringify({ blob: 'x'.repeat(5000) });

    const items = await read(`{"a":1}\n${long}\n{"a":3}\n`, { ...jsonl, max_record_bytes: 100 }, 256);

    expect(summary(items)).toEqual([{ line: 1, value: { a: 1 } }, { line: 2, code: 'record-too-large' }, { line: 3, value: { a: 3 } }]);
    expect(items[1]!.raw.byteLength).toBe(100);
    expect(items[1]).toMatchObject({ message: expect.stringContaining(`line 2 is ${long.length} bytes`) });
  });
});

describe('text objects', () => {
  it('yields { message } per line, without line breaks, skipping empty lines', async () => {
    const items = await read('first line\r\n\n  indented\nlast', textSource);

    expect(summary(items)).toEqual([
      { line: 1, value: { message: 'first line' } },
      { line: 3, value: { message: '  indented' } },
      { line: 4, value: { message: 'last' } },
    ]);
  });

  it('dead-letters binary lines as invalid UTF-8, one per line', async () => {
    const body = Buffer.concat([Buffer.from('ok\n'), Buffer.from([0x00, 0xff, 0xfe, 0x89]), Buffer.from('\nstill ok\n')]);

    const items = await read(body, textSource);

    expect(summary(items)).toEqual([
      { line: 1, value: { message: 'ok' } },
      { line: 2, code: 'invalid-utf8' },
      { line: 3, value: { message: 'still ok' } },
    ]);
    expect([...items[1]!.raw]).toEqual([0x00, 0xff, 0xfe, 0x89]);
  });

  it('dead-letters a line longer than max_record_bytes', async () => {
    const items = await read(`short\n${'y'.repeat(300)}\nshort again`, { ...textSource, max_record_bytes: 64 }, 16);

    expect(summary(items)).toEqual([
      { line: 1, value: { message: 'short' } },
      { line: 2, code: 'record-too-large' },
      { line: 3, value: { message: 'short again' } },
    ]);
  });
});
