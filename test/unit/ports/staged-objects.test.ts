import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FsObjectStore } from '../../../engine/ports/fs-object-store.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import type { ObjectStore } from '../../../engine/ports/object-store.ts';

const directories: string[] = [];

afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});

async function fsStore(): Promise<ObjectStore> {
  const directory = await mkdtemp(join(tmpdir(), 'ingest-staged-'));
  directories.push(directory);
  return new FsObjectStore(directory);
}

async function read(store: ObjectStore, bucket: string, key: string): Promise<string | undefined> {
  const object = await store.get(bucket, key);
  if (object === undefined) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

const OPTIONS = { contentType: 'application/x-ndjson' };

// The S3 adapter (multipart uploads) is exercised against moto in test/integration/runtime-s3.test.ts.
describe.each([
  ['memory', async (): Promise<ObjectStore> => new MemoryObjectStore()],
  ['filesystem', fsStore],
])('ObjectStore.stage on the %s store', (_, makeStore) => {
  it('keeps a staged object invisible until it is published, then shows it whole', async () => {
    const store = await makeStore();

    const staged = await store.stage('out', 'p/a.jsonl', Buffer.from('{"a":1}\n'), OPTIONS);
    const before = await read(store, 'out', 'p/a.jsonl');
    await staged.publish();

    expect(before).toBeUndefined();
    expect(await read(store, 'out', 'p/a.jsonl')).toBe('{"a":1}\n');
  });

  it('leaves nothing behind when a staged object is discarded', async () => {
    const store = await makeStore();

    const staged = await store.stage('out', 'p/b.jsonl', Buffer.from('{"b":1}\n'), OPTIONS);
    await staged.discard();

    expect(await read(store, 'out', 'p/b.jsonl')).toBeUndefined();
    if (store instanceof FsObjectStore) expect(await readdir(join(store.root, 'out', 'p'))).toEqual([]);
    if (store instanceof MemoryObjectStore) expect(store.staged.size).toBe(0);
  });
});
