import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';

async function read(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

describe('MemoryObjectStore', () => {
  it('returns what was put, with its size and quoted MD5 ETag', async () => {
    const store = new MemoryObjectStore();
    const body = Buffer.from('hello, objects');

    await store.put('bucket', 'a/b.txt', body, { contentType: 'text/plain' });
    const object = await store.get('bucket', 'a/b.txt');

    expect(object?.size).toBe(body.byteLength);
    expect(object?.etag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    expect(await read(object!.body)).toEqual(body);
  });

  it('stores a streamed body whole, with its content type and encoding', async () => {
    const store = new MemoryObjectStore();

    await store.put('bucket', 'k.gz', Readable.from([Buffer.from('ab'), Buffer.from('cd')]), { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });

    expect(store.object('bucket', 'k.gz')).toMatchObject({ body: Buffer.from('abcd'), contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
  });

  it('resolves to undefined for a missing object', async () => {
    expect(await new MemoryObjectStore().get('bucket', 'missing')).toBeUndefined();
  });

  it('streams bodies in chunks of the configured size', async () => {
    const store = new MemoryObjectStore({ chunkBytes: 4 });
    store.set('bucket', 'k', '0123456789');

    const chunks: string[] = [];
    for await (const chunk of (await store.get('bucket', 'k'))!.body) chunks.push(Buffer.from(chunk as Uint8Array).toString());

    expect(chunks).toEqual(['0123', '4567', '89']);
  });

  it('keeps its own copy of a put buffer', async () => {
    const store = new MemoryObjectStore();
    const body = Buffer.from('original');

    await store.put('bucket', 'k', body, { contentType: 'text/plain' });
    body.fill(0);

    expect(Buffer.from(store.object('bucket', 'k')!.body).toString()).toBe('original');
  });

  it('exposes its objects keyed by bucket and key', () => {
    const store = new MemoryObjectStore();
    store.set('bucket', 'dir/k', 'x');

    expect([...store.objects.keys()]).toEqual(['bucket/dir/k']);
  });

  it('with versioning, reads the version a read names, even behind a delete marker', async () => {
    const store = new MemoryObjectStore({ versioning: true });
    const first = store.set('bucket', 'k', 'day 1');
    const second = store.set('bucket', 'k', 'day 2');
    store.delete('bucket', 'k');

    const old = await store.get('bucket', 'k', { versionId: first.versionId! });
    const current = await store.get('bucket', 'k');

    expect(first.versionId).not.toBe(second.versionId);
    expect(old?.versionId).toBe(first.versionId);
    expect((await read(old!.body)).toString()).toBe('day 1');
    expect(current).toBeUndefined();
  });

  it('with versioning, resolves to undefined for a version it never held', async () => {
    const store = new MemoryObjectStore({ versioning: true });
    store.set('bucket', 'k', 'x');

    expect(await store.get('bucket', 'k', { versionId: 'v999999' })).toBeUndefined();
  });

  it('without versioning, reads the current object whatever version is named', async () => {
    const store = new MemoryObjectStore();
    store.set('bucket', 'k', 'only');

    const object = await store.get('bucket', 'k', { versionId: 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e' });

    expect(object?.versionId).toBeUndefined();
    expect((await read(object!.body)).toString()).toBe('only');
  });
});
