import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsObjectStore, InvalidObjectPathError } from '../../../engine/ports/fs-object-store.ts';

async function read(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts).toString();
}

describe('FsObjectStore', () => {
  let root: string;
  let store: FsObjectStore;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ingest-fs-store-'));
    store = new FsObjectStore(root);
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('lays an object out as <root>/<bucket>/<key>', async () => {
    await store.put('raw', 'clicks/2026/11/27/a b+é.jsonl', Buffer.from('{"a":1}\n'), { contentType: 'application/x-ndjson' });

    expect(readFileSync(join(root, 'raw', 'clicks', '2026', '11', '27', 'a b+é.jsonl'), 'utf8')).toBe('{"a":1}\n');
  });

  it('returns a put object with its size and an ETag', async () => {
    await store.put('raw', 'k.txt', Readable.from([Buffer.from('hello '), Buffer.from('world')]), { contentType: 'text/plain' });

    const object = await store.get('raw', 'k.txt');

    expect(object?.size).toBe(11);
    expect(object?.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(await read(object!.body)).toBe('hello world');
  });

  it('reads files users dropped into the tree', async () => {
    mkdirSync(join(root, 'raw', 'in'), { recursive: true });
    writeFileSync(join(root, 'raw', 'in', 'data.csv'), 'a,b\n');

    expect(await read((await store.get('raw', 'in/data.csv'))!.body)).toBe('a,b\n');
  });

  it('resolves to undefined for a missing object, bucket, or a key that is a folder', async () => {
    await store.put('raw', 'dir/k', Buffer.from('x'), { contentType: 'text/plain' });

    expect(await store.get('raw', 'missing')).toBeUndefined();
    expect(await store.get('other', 'k')).toBeUndefined();
    expect(await store.get('raw', 'dir')).toBeUndefined();
    expect(await store.get('raw', 'dir/k/deeper')).toBeUndefined();
  });

  it('replaces an object atomically and leaves no temporary file', async () => {
    await store.put('raw', 'k', Buffer.from('first'), { contentType: 'text/plain' });
    await store.put('raw', 'k', Buffer.from('second'), { contentType: 'text/plain' });

    expect(await read((await store.get('raw', 'k'))!.body)).toBe('second');
    expect(readdirSync(join(root, 'raw'))).toEqual(['k']);
  });

  it('keeps the previous object when a streamed put fails, and leaves no temporary file', async () => {
    await store.put('raw', 'k', Buffer.from('kept'), { contentType: 'text/plain' });
    const failing = Readable.from((async function* () {
      yield Buffer.from('partial');
      throw new Error('upstream failed');
    })());

    await expect(store.put('raw', 'k', failing, { contentType: 'text/plain' })).rejects.toThrow('upstream failed');

    expect(await read((await store.get('raw', 'k'))!.body)).toBe('kept');
    expect(readdirSync(join(root, 'raw'))).toEqual(['k']);
  });

  it.each(['../escape', 'a/../../escape', './k', 'a//b', '/abs', 'dir/', '', 'nul\0byte'])('refuses the key %j', async (key) => {
    await expect(store.put('raw', key, Buffer.from('x'), { contentType: 'text/plain' })).rejects.toThrow(InvalidObjectPathError);
    await expect(store.get('raw', key)).rejects.toThrow(InvalidObjectPathError);
  });

  it.each(['..', '.', 'a/b', ''])('refuses the bucket name %j', async (bucket) => {
    await expect(store.get(bucket, 'k')).rejects.toThrow(InvalidObjectPathError);
  });

  it('defaults to .ingest/s3 under the working directory', () => {
    expect(new FsObjectStore().root).toBe(join(process.cwd(), '.ingest', 's3'));
  });
});
