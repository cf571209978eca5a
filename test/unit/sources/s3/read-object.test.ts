import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ItemReadError } from '../../../../engine/pipeline/record.ts';
import type { Decoded } from '../../../../engine/pipeline/record.ts';
import type { ObjectStore, StoredObject } from '../../../../engine/ports/object-store.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import { parseS3Event } from '../../../../engine/sources/s3/event.ts';
import { readObjectRecords } from '../../../../engine/sources/s3/read.ts';
import { resolvedSource } from '../../../support/resolved-config.ts';
import { collect, loadEvent, objectRef, summary } from './fixtures.ts';

const jsonl = resolvedSource({ type: 's3', bucket: 'raw', format: 'jsonl', compression: 'auto' });
const lines = (count: number) => Array.from({ length: count }, (_, id) => `${JSON.stringify({ id })}\n`).join('');

/** A store whose single object is served by `open`, for bodies a real store would send. */
function storeServing(open: () => StoredObject | undefined): ObjectStore {
  return { get: async () => open(), put: async () => {}, stage: () => Promise.reject(new Error('reading never stages')) };
}

/** The records an object's iterator yields before it throws, and the `ItemReadError` it throws. */
async function collectUntilUnreadable(chunks: AsyncIterable<readonly Decoded[]>): Promise<{ items: Decoded[]; error: ItemReadError }> {
  const items: Decoded[] = [];
  try {
    for await (const chunk of chunks) items.push(...chunk);
  } catch (error) {
    if (error instanceof ItemReadError) return { items, error };
    throw error;
  }
  throw new Error(`expected an ItemReadError after ${items.length} items`);
}

/** A body that yields `chunks`, then fails the way a dropped connection does. */
function failingBody(chunks: Uint8Array[]): Readable {
  return Readable.from((async function* () {
    yield* chunks;
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  })());
}

describe('readObjectRecords on whole objects', () => {
  it('gunzips an object that starts with the gzip magic bytes when compression is auto', async () => {
    const store = new MemoryObjectStore({ chunkBytes: 7 });
    store.set('raw', 'in/data.gz', gzipSync(lines(100)));

    const items = await collect(readObjectRecords(store, objectRef('in/data.gz'), 'clicks', jsonl));

    expect(items).toHaveLength(100);
    expect(items[99]).toMatchObject({ outcome: 'record', value: { id: 99 }, meta: { line: 100 } });
  });

  it('detects gzip when its two magic bytes arrive in separate chunks', async () => {
    const store = new MemoryObjectStore({ chunkBytes: 1 });
    store.set('raw', 'in/data.gz', gzipSync(lines(3)));

    expect(await collect(readObjectRecords(store, objectRef('in/data.gz'), 'clicks', jsonl))).toHaveLength(3);
  });

  it('reads a plain object as is when compression is auto', async () => {
    const store = new MemoryObjectStore();
    store.set('raw', 'in/data.json.gz', lines(3));

    expect(await collect(readObjectRecords(store, objectRef('in/data.json.gz'), 'clicks', jsonl))).toHaveLength(3);
  });

  it('does not gunzip when compression is none', async () => {
    const store = new MemoryObjectStore();
    store.set('raw', 'in/data', gzipSync('{"a":1}\n'));

    const items = await collect(readObjectRecords(store, objectRef('in/data'), 'clicks', { ...jsonl, compression: 'none' }));

    expect(items.every((item) => item.outcome === 'dead_letter')).toBe(true);
  });

  it('reports invalid-gzip for an object that must be gzip but is not', async () => {
    const store = new MemoryObjectStore();
    store.set('raw', 'in/data', '{"a":1}\n');

    const { items, error } = await collectUntilUnreadable(readObjectRecords(store, objectRef('in/data'), 'clicks', { ...jsonl, compression: 'gzip' }));

    expect(items).toEqual([]);
    expect(error).toMatchObject({ code: 'invalid-gzip', meta: { line: 0 } });
  });

  it('throws one invalid-gzip ItemReadError after the records read before corrupt gzip data', async () => {
    const good = gzipSync(lines(2000));
    const corrupt = Buffer.from(good);
    corrupt.fill(0x55, Math.floor(corrupt.byteLength / 2), Math.floor(corrupt.byteLength / 2) + 64);
    const store = new MemoryObjectStore({ chunkBytes: 256 });
    store.set('raw', 'in/data.gz', corrupt);

    const { items, error } = await collectUntilUnreadable(readObjectRecords(store, objectRef('in/data.gz'), 'clicks', jsonl));

    // Deflate notices some damage only later (at worst at the CRC check), so the lines just
    // before the error may already be garbage: the pipeline discards them all (ADR 0010).
    expect(error).toMatchObject({ code: 'invalid-gzip', message: expect.stringMatching(/gzip data is corrupt .*; stopped in line \d+/) });
    expect(items.slice(0, 500).every((item, index) => item.outcome === 'record' && item.value.id === index)).toBe(true);
  });

  it('reports gzip data that stops before its end marker as invalid-gzip', async () => {
    const whole = gzipSync(lines(500));
    const store = new MemoryObjectStore();
    store.set('raw', 'in/data.gz', whole.subarray(0, whole.byteLength - 100));

    const { items, error } = await collectUntilUnreadable(readObjectRecords(store, objectRef('in/data.gz'), 'clicks', jsonl));

    expect(error).toMatchObject({ code: 'invalid-gzip', message: expect.stringContaining('ends before its end marker') });
    expect(items.every((item) => item.outcome === 'record')).toBe(true);
  });

  it('throws one truncated-object ItemReadError, with the partial line as raw, after the records read before the body fails', async () => {
    const store = storeServing(() => ({ body: failingBody([Buffer.from('{"a":1}\n{"a":2}\n{"a":')]), size: 1000 }));

    const { items, error } = await collectUntilUnreadable(readObjectRecords(store, objectRef('in/data'), 'clicks', jsonl));

    expect(summary(items)).toEqual([{ line: 1, value: { a: 1 } }, { line: 2, value: { a: 2 } }]);
    expect(error).toMatchObject({ code: 'truncated-object', message: expect.stringContaining('reading the object failed after 21 of its 1000 bytes: socket hang up; stopped in line 3') });
    expect(Buffer.from(error.raw).toString()).toBe('{"a":');
  });

  it('reports a gzip body that fails mid-way as truncated-object, not invalid-gzip', async () => {
    const whole = gzipSync(lines(5000));
    const store = storeServing(() => ({ body: failingBody([whole.subarray(0, 4000)]), size: whole.byteLength }));

    const { error } = await collectUntilUnreadable(readObjectRecords(store, objectRef('in/data.gz'), 'clicks', jsonl));

    expect(error).toMatchObject({ code: 'truncated-object' });
  });

  it('reports a body that ends short of the announced size as truncated-object', async () => {
    const store = storeServing(() => ({ body: Readable.from([Buffer.from('{"a":1}\n')]), size: 50 }));

    const { items, error } = await collectUntilUnreadable(readObjectRecords(store, objectRef('in/data'), 'clicks', jsonl));

    expect(summary(items)).toEqual([{ line: 1, value: { a: 1 } }]);
    expect(error).toMatchObject({ code: 'truncated-object', message: expect.stringContaining('ended after 8 of its 50 bytes') });
  });

  it('dead-letters a missing object once, as object-not-found', async () => {
    const store = new MemoryObjectStore();

    const items = await collect(readObjectRecords(store, objectRef('in/gone', { etag: 'abc' }), 'clicks', jsonl));

    expect(items).toEqual([{
      outcome: 'dead_letter',
      code: 'object-not-found',
      message: expect.stringContaining('s3://raw/in/gone does not exist'),
      raw: new Uint8Array(0),
      meta: expect.objectContaining({ position: 'raw/in/gone@abc:0', line: 0, etag: 'abc' }),
    }]);
  });

  it('rejects when the store fails, so the batch item is retried', async () => {
    const store: ObjectStore = { get: async () => { throw new Error('AccessDenied'); }, put: async () => {}, stage: () => Promise.reject(new Error('reading never stages')) };

    await expect(collect(readObjectRecords(store, objectRef('in/data'), 'clicks', jsonl))).rejects.toThrow('AccessDenied');
  });

  it('reads the object named by an event key with spaces, + and UTF-8 escapes', async () => {
    const event = loadEvent('sqs-s3.json');
    const body = JSON.parse(event.Records[0].body);
    body.Records[0].s3.bucket.name = 'raw';
    body.Records[0].s3.object.key = 'in/r%C3%A9sum%C3%A9+2026+%2B+notes.jsonl';
    event.Records[0].body = JSON.stringify(body);
    const store = new MemoryObjectStore();
    store.set('raw', 'in/résumé 2026 + notes.jsonl', '{"ok":true}\n');
    const [ref] = parseS3Event(event)[0]!.objects!;

    const items = await collect(readObjectRecords(store, ref!, 'clicks', jsonl));

    expect(summary(items)).toEqual([{ line: 1, value: { ok: true } }]);
    expect(items[0]!.meta).toMatchObject({ key: 'in/résumé 2026 + notes.jsonl', position: expect.stringMatching(/^raw\/in\/résumé 2026 \+ notes\.jsonl@[0-9a-f]{32}:1$/) });
  });

  it('uses the ETag of the content read, without quotes, and the event time as arrival time', async () => {
    const store = new MemoryObjectStore();
    const { etag } = store.set('raw', 'in/data', '{"a":1}\n');

    const [item] = await collect(readObjectRecords(store, objectRef('in/data', { etag: 'stale', eventTime: '2024-03-14T19:02:45.087Z' }), 'clicks', jsonl));

    expect(item!.meta).toMatchObject({ etag, arrival_time: '2024-03-14T19:02:45.087Z' });
  });

  it('closes the body of a gzip object when the consumer stops early', async () => {
    const body = Readable.from([gzipSync(lines(10_000))]);
    const store = storeServing(() => ({ body }));

    for await (const chunk of readObjectRecords(store, objectRef('in/data.gz'), 'clicks', jsonl)) {
      expect(chunk[0]!.outcome).toBe('record');
      break;
    }

    expect(body.destroyed).toBe(true);
  });

  it('closes the body when the consumer stops early', async () => {
    const body = Readable.from(lines(10_000).match(/[^]{1,1000}/g)!.map((part) => Buffer.from(part)));
    const store = storeServing(() => ({ body }));

    for await (const chunk of readObjectRecords(store, objectRef('in/data'), 'clicks', jsonl)) {
      expect(chunk[0]!.outcome).toBe('record');
      break;
    }

    expect(body.destroyed).toBe(true);
  });
});
