import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import type { S3Source } from '../../../../engine/spec/spec-types.ts';
import { readObjectRecords } from '../../../../engine/sources/s3/read.ts';
import { resolvedSource } from '../../../support/resolved-config.ts';
import { collect, objectRef, summary, text } from './fixtures.ts';

const json: S3Source = { type: 's3', bucket: 'raw', format: 'json', compression: 'none' };

async function read(body: string | Uint8Array, config: S3Source = json, chunkBytes = 64 * 1024) {
  const store = new MemoryObjectStore({ chunkBytes });
  store.set('raw', 'in/doc.json', body);
  return collect(readObjectRecords(store, objectRef('in/doc.json'), 'docs', resolvedSource(config)));
}

describe('json objects', () => {
  it('yields a single top-level object as one record at index 0', async () => {
    const items = await read('{"id": 1, "tags": ["a", "b"], "nested": {"ok": true, "n": null}}');

    expect(summary(items)).toEqual([{ line: 0, value: { id: 1, tags: ['a', 'b'], nested: { ok: true, n: null } } }]);
    expect(items[0]!.meta).toMatchObject({ position: expect.stringMatching(/^raw\/in\/doc\.json@[0-9a-f]{32}:0$/) });
  });

  it('yields each element of a top-level array, indexed from 0, with its JSON as raw', async () => {
    const items = await read('[{"id": 1}, {"id": 2.5e1, "s": "x\\"y\\u00e9"}]');

    expect(summary(items)).toEqual([{ line: 0, value: { id: 1 } }, { line: 1, value: { id: 25, s: 'x"yé' } }]);
    expect(text(items[1]!.raw)).toBe('{"id":25,"s":"x\\"yé"}');
  });

  it('assembles elements split across many small chunks', async () => {
    const elements = Array.from({ length: 50 }, (_, id) => ({ id, text: `value ${id} é ✓`, list: [id, -id - 0.5, 1.5], flag: id % 2 === 0, none: null }));

    const items = await read(JSON.stringify(elements, null, 2), json, 3);

    expect(items.map((item) => item.outcome === 'record' && item.value)).toEqual(elements);
  });

  it('dead-letters elements that are not objects and keeps the others', async () => {
    const items = await read('[{"id": 1}, 2, "three", [4], null, {"id": 6}]');

    expect(summary(items)).toEqual([
      { line: 0, value: { id: 1 } },
      { line: 1, code: 'not-an-object' },
      { line: 2, code: 'not-an-object' },
      { line: 3, code: 'not-an-object' },
      { line: 4, code: 'not-an-object' },
      { line: 5, value: { id: 6 } },
    ]);
  });

  it('dead-letters a top-level value that is not an object', async () => {
    expect(summary(await read('42'))).toEqual([{ line: 0, code: 'not-an-object' }]);
  });

  it('yields nothing for an empty array or an empty document', async () => {
    expect(await read('[ ]')).toEqual([]);
    expect(await read('  \n')).toEqual([]);
  });

  it('dead-letters an element larger than max_record_bytes and keeps its neighbours', async () => {
    const body = `[{"id": 1}, {"id": 2, "blob": "${'z'.repeat(10_000)}", "more": [1, {"deep": "${'q'.repeat(500)}"}]}, {"id": 3}]`;

    const items = await read(body, { ...json, max_record_bytes: 1000 }, 512);

    expect(summary(items)).toEqual([{ line: 0, value: { id: 1 } }, { line: 1, code: 'record-too-large' }, { line: 2, value: { id: 3 } }]);
  });

  it('ends with one invalid-json dead letter after the elements read before malformed JSON', async () => {
    const padding = 'p'.repeat(2048);
    const items = await read(`[{"id": 1}, {"id": 2}, {"id": 3, "padding": "${padding}",, "x": 1}, {"id": 4}]`);

    expect(summary(items)).toEqual([{ line: 0, value: { id: 1 } }, { line: 1, value: { id: 2 } }, { line: 2, code: 'invalid-json' }]);
    expect(items[2]).toMatchObject({ message: expect.stringContaining('in element 2') });
  });

  it.each([1, 5, 64 * 1024])('keeps the elements before malformed JSON and dead-letters the rest from the failing element, in chunks of %i bytes', async (chunkBytes) => {
    const items = await read('[{"a":1},{"b":2,,},{"c":3}]', json, chunkBytes);

    expect(summary(items)).toEqual([{ line: 0, value: { a: 1 } }, { line: 1, code: 'invalid-json' }]);
    expect(items[1]).toMatchObject({ message: expect.stringContaining('in element 1, at byte 16 of the document') });
    expect(text(items[1]!.raw)).toBe('{"b":2,,},{"c":3}]');
    expect(items[1]!.meta).toMatchObject({ line: 1, position: expect.stringMatching(/:1$/) });
  });

  it('ends with invalid-json when the document stops inside an element', async () => {
    const items = await read('[{"id": 1}, {"id": 2');

    expect(summary(items)).toEqual([{ line: 0, value: { id: 1 } }, { line: 1, code: 'invalid-json' }]);
  });

  it('ends with invalid-utf8 when the document is not UTF-8', async () => {
    const padding = 'p'.repeat(2048);
    const body = Buffer.concat([Buffer.from(`[{"id": 1}, {"padding": "${padding}", "s": "`), Buffer.from([0xff]), Buffer.from('"}]')]);

    expect(summary(await read(body))).toEqual([{ line: 0, value: { id: 1 } }, { line: 1, code: 'invalid-utf8' }]);
  });

  it('keeps a "__proto__" key as an own property, as JSON.parse does', async () => {
    const [item] = await read('[{"__proto__": {"polluted": true}, "id": 1}]');

    expect(item?.outcome).toBe('record');
    const value = item?.outcome === 'record' ? item.value : {};
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'id']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('dead-letters a top-level document nested deeper than max_depth as too-deep', async () => {
    const deep = `{"x":${'['.repeat(4999)}${']'.repeat(4999)}}`;

    expect(summary(await read(deep, json, 512))).toEqual([{ line: 0, code: 'too-deep' }]);
  });

  it('skips a too-deep element as soon as it passes the bound and keeps reading after it', async () => {
    const items = await read(`[{"id": 1}, {"a": {"b": {"c": 1}}}, {"id": 3}]`, { ...json, max_depth: 2 });

    expect(summary(items)).toEqual([{ line: 0, value: { id: 1 } }, { line: 1, code: 'too-deep' }, { line: 2, value: { id: 3 } }]);
    expect(items[1]).toMatchObject({ message: expect.stringContaining('max_depth (2)') });
  });
});
