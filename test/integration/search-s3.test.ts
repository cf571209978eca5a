import { gzipSync } from 'node:zlib';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import { BulkServer } from '../support/bulk-server.ts';
import { awsClientConfig } from '../support/env.ts';
import type { NotifiedObject } from './support/lambda-events.ts';
import { motoHandler, validSpec } from './support/pipeline-under-test.ts';
import { createBuckets, uniqueName } from './support/s3-contents.ts';

// S3 objects (moto) indexed through the handler: an object's documents reach the cluster only once
// the object was read whole (docs/decisions/0010-item-commit-point.md).

describe('S3 objects indexed into Elasticsearch through the handler', () => {
  const s3 = new S3Client(awsClientConfig());
  const raw = uniqueName('events-raw');
  let server: BulkServer;

  beforeAll(async () => {
    server = await BulkServer.start();
    await createBuckets(s3, raw);
  });
  afterAll(async () => {
    s3.destroy();
    await server.stop();
  });
  beforeEach(() => {
    server.reset();
  });

  async function put(key: string, body: Buffer): Promise<NotifiedObject> {
    await s3.send(new PutObjectCommand({ Bucket: raw, Key: key, Body: body }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: raw, Key: key }));
    return { bucket: raw, key, size: head.ContentLength!, etag: head.ETag!.replace(/^"|"$/g, '') };
  }

  async function pipeline() {
    const errors = uniqueName('events-errors');
    await createBuckets(s3, errors);
    const spec = validSpec({
      version: 1,
      name: 'events',
      dead_letter: { bucket: errors },
      sources: { lines: { type: 's3', bucket: raw, prefix: 'jsonl/', format: 'jsonl' } },
      sinks: { search: { type: 'elasticsearch', inputs: ['lines'], endpoint: server.url, auth: { type: 'none' }, index: 'events', id: '{{record.id}}', batch: { max_records: 100 } } },
    });
    return motoHandler(spec, s3).handler;
  }

  const lines = (count: number) => gzipSync(Array.from({ length: count }, (_, id) => `${JSON.stringify({ id: `d${id}`, r: (id * 7919) % 10007 })}\n`).join(''));

  it('indexes every line of an object read whole, once', async () => {
    const object = await put(`jsonl/${uniqueName('whole')}.jsonl.gz`, lines(1000));
    const handler = await pipeline();

    const summary = await handler.invoke(s3ObjectCreatedEvent([object]));

    expect(summary.counts).toMatchObject({ records_in: 1000, written: 1000 });
    expect(Object.keys(server.documents('events'))).toHaveLength(1000);
  });

  it('sends nothing of a corrupt gzip object and dead-letters the object once', async () => {
    const corrupt = Buffer.from(lines(5000));
    const middle = Math.floor(corrupt.length / 2);
    for (let index = middle; index < middle + 20; index++) corrupt[index] = corrupt[index]! ^ 0xff;
    const object = await put(`jsonl/${uniqueName('corrupt')}.jsonl.gz`, corrupt);
    const handler = await pipeline();

    const summary = await handler.invoke(s3ObjectCreatedEvent([object]));

    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(server.requests).toHaveLength(0);
  });
});
