import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../engine/ports/s3-object-store.ts';
import { readObjectRecords } from '../../engine/sources/s3/read.ts';
import { awsClientConfig } from '../support/env.ts';
import { resolvedSource } from '../support/resolved-config.ts';

const MIB = 1024 * 1024;

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** A stream of `total` pseudo-random bytes in 64 KiB chunks, and the MD5 of what it yields. */
function randomStream(total: number): { body: Readable; md5: () => string } {
  const hash = createHash('md5');
  const body = Readable.from((function* () {
    for (let sent = 0; sent < total; sent += 64 * 1024) {
      const chunk = randomBytes(Math.min(64 * 1024, total - sent));
      hash.update(chunk);
      yield chunk;
    }
  })());
  return { body, md5: () => hash.digest('hex') };
}

describe('S3ObjectStore against moto', () => {
  const client = new S3Client(awsClientConfig());
  const store = new S3ObjectStore(client, { partBytes: 5 * MIB });
  const bucket = `ingest-store-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(() => {
    client.destroy();
  });

  it('returns an object exactly as it was put, with its size and ETag', async () => {
    const body = Buffer.from('{"a":1}\n{"a":"é ✓"}\n');

    await store.put(bucket, 'dir/small object.jsonl', body, { contentType: 'application/x-ndjson' });
    const object = await store.get(bucket, 'dir/small object.jsonl');

    expect(object?.size).toBe(body.byteLength);
    expect(object?.etag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    expect(await readAll(object!.body)).toEqual(body);
  });

  it('sets the content type and content encoding', async () => {
    await store.put(bucket, 'out/data.jsonl.gz', gzipSync('{"a":1}\n'), { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });

    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'out/data.jsonl.gz' }));

    expect(head.ContentType).toBe('application/x-ndjson');
    expect(head.ContentEncoding).toBe('gzip');
  });

  it('uploads a stream larger than one part as a multipart upload', async () => {
    const total = 12 * MIB + 12345;
    const { body, md5 } = randomStream(total);

    await store.put(bucket, 'big/stream.bin', body, { contentType: 'application/octet-stream', contentEncoding: 'identity' });
    const object = await store.get(bucket, 'big/stream.bin');
    const read = await readAll(object!.body);

    expect(object?.size).toBe(total);
    // A multipart ETag is the MD5 of the part MD5s, suffixed with the part count: 5 + 5 + 2 MiB.
    expect(object?.etag).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(createHash('md5').update(read).digest('hex')).toBe(md5());
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/stream.bin' }));
    expect(head.ContentEncoding).toBe('identity');
  });

  it('uploads a large buffer as a multipart upload too', async () => {
    const body = randomBytes(6 * MIB);

    await store.put(bucket, 'big/buffer.bin', body, { contentType: 'application/octet-stream' });
    const object = await store.get(bucket, 'big/buffer.bin');

    expect(object?.etag).toMatch(/-2"$/);
    expect((await readAll(object!.body)).equals(body)).toBe(true);
  });

  it('resolves to undefined for a missing key', async () => {
    expect(await store.get(bucket, 'never/written')).toBeUndefined();
  });

  it('rejects for a missing bucket', async () => {
    await expect(store.get(`missing-${randomUUID().slice(0, 8)}`, 'k')).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  it('feeds an S3 source: a gzip object read back as records', async () => {
    const lines = Array.from({ length: 1000 }, (_, id) => `${JSON.stringify({ id })}\n`).join('');
    await store.put(bucket, 'in/clicks 1.json.gz', gzipSync(lines), { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });

    let count = 0;
    let last: unknown;
    for await (const chunk of readObjectRecords(store, { bucket, key: 'in/clicks 1.json.gz', eventTime: '2026-11-27T10:00:00Z' }, 'clicks', resolvedSource({ type: 's3', bucket, format: 'jsonl', compression: 'auto' }))) {
      for (const item of chunk) {
        expect(item.outcome).toBe('record');
        count += 1;
        last = item;
      }
    }

    expect(count).toBe(1000);
    // The position names the content read (its ETag), so a re-upload of the key gets other names (ADR 0007).
    expect(last).toMatchObject({ value: { id: 999 }, meta: { position: expect.stringMatching(new RegExp(`^${bucket}/in/clicks 1\\.json\\.gz@[0-9a-f]{32}:1000$`)) } });
  });
});
