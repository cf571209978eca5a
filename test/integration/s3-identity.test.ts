import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../engine/ports/s3-object-store.ts';
import { awsClientConfig } from '../support/env.ts';
import { motoHandler, validSpec } from './support/pipeline-under-test.ts';
import { createBuckets, listKeys, recordsIn, uniqueName } from './support/s3-contents.ts';

// An S3 input is its bucket, key and content (version id, else ETag): against moto, a re-upload
// of a key is written beside the first upload instead of over it, a redelivered event rewrites
// the same keys, and on a versioned bucket each event reads the version it names, even after a
// delete marker hid it.

interface Put {
  key: string;
  size: number;
  etag: string;
  versionId: string | undefined;
}

/** The EventBridge `Object Created` event S3 sends for `put`, in an SQS message (the default wiring). */
function objectCreatedInSqs(bucket: string, puts: readonly Put[]) {
  return {
    Records: puts.map((put, index) => {
      const object: Record<string, unknown> = { key: put.key, size: put.size, etag: put.etag, sequencer: `00${(Date.now() * 1000 + index).toString(16).toUpperCase()}` };
      if (put.versionId !== undefined) object['version-id'] = put.versionId;
      const body = {
        version: '0',
        id: randomUUID(),
        'detail-type': 'Object Created',
        source: 'aws.s3',
        account: '123456789012',
        time: '2026-12-03T08:00:00Z',
        region: 'us-east-1',
        resources: [`arn:aws:s3:::${bucket}`],
        detail: { version: '0', bucket: { name: bucket }, object, 'request-id': randomUUID(), requester: '123456789012', reason: 'PutObject' },
      };
      const messageId = randomUUID();
      return {
        messageId,
        receiptHandle: `handle-${messageId}`,
        body: JSON.stringify(body),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1', SenderId: '123456789012', ApproximateFirstReceiveTimestamp: '1' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:ingest-objects',
        awsRegion: 'us-east-1',
      };
    }),
  };
}

describe('S3 input identity against moto', () => {
  const s3 = new S3Client(awsClientConfig());

  afterAll(() => {
    s3.destroy();
  });

  async function pipeline(options: { versioned: boolean }) {
    const raw = uniqueName('identity-raw');
    const out = uniqueName('identity-out');
    const errors = uniqueName('identity-errors');
    await createBuckets(s3, raw, out, errors);
    if (options.versioned) await s3.send(new PutBucketVersioningCommand({ Bucket: raw, VersioningConfiguration: { Status: 'Enabled' } }));
    const spec = validSpec({
      version: 1,
      name: 'daily',
      dead_letter: { bucket: errors },
      sources: { daily: { type: 's3', bucket: raw, prefix: 'in/', format: 'jsonl' } },
      sinks: { copy: { type: 's3', inputs: ['daily'], bucket: out, key: 'copy/' } },
    });
    const upload = async (key: string, body: string): Promise<Put> => {
      const response = await s3.send(new PutObjectCommand({ Bucket: raw, Key: key, Body: body }));
      return { key, size: Buffer.byteLength(body), etag: response.ETag!.replace(/^"|"$/g, ''), versionId: response.VersionId };
    };
    return { raw, out, errors, upload, ...motoHandler(spec, s3) };
  }

  it('writes a re-upload of a key beside the first upload, and a redelivered event to the same keys', async () => {
    const { handler, out, errors, upload, raw } = await pipeline({ versioned: false });
    const day1 = await upload('in/daily.jsonl', '{"r":"A"}\n{"r":"B"}\nnot json\n');
    await handler(objectCreatedInSqs(raw, [day1]));
    const afterDay1 = await listKeys(s3, out);
    const lettersAfterDay1 = await listKeys(s3, errors);

    const day2 = await upload('in/daily.jsonl', '{"r":"C"}\n{"r":"D"}\nstill not json\n');
    await handler(objectCreatedInSqs(raw, [day2]));
    const afterDay2 = await listKeys(s3, out);
    await handler(objectCreatedInSqs(raw, [day2]));

    expect(day2.etag).not.toBe(day1.etag);
    expect(afterDay1).toHaveLength(1);
    expect(afterDay2).toHaveLength(2);
    expect(afterDay2).toContain(afterDay1[0]);
    expect((await recordsIn(s3, out)).map((record) => record.r).sort()).toEqual(['A', 'B', 'C', 'D']);
    expect(lettersAfterDay1).toHaveLength(1);
    expect(await listKeys(s3, errors)).toHaveLength(2);
    expect(await listKeys(s3, out)).toEqual(afterDay2);
  });

  it('reads the version each event names on a versioned bucket, also after a delete marker', async () => {
    const { handler, out, errors, upload, raw } = await pipeline({ versioned: true });
    const first = await upload('in/daily.jsonl', '{"r":"A"}\n');
    const second = await upload('in/daily.jsonl', '{"r":"B"}\n');

    const summary = await handler.invoke(objectCreatedInSqs(raw, [first, second]));
    const outputs = await listKeys(s3, out);
    await s3.send(new DeleteObjectCommand({ Bucket: raw, Key: 'in/daily.jsonl' }));
    const afterDelete = await handler.invoke(objectCreatedInSqs(raw, [first]));

    expect(first.versionId).toBeDefined();
    expect(first.versionId).not.toBe(second.versionId);
    expect(summary.counts).toMatchObject({ records_in: 2, written: 2, dead_lettered: 0 });
    expect((await recordsIn(s3, out)).map((record) => record.r).sort()).toEqual(['A', 'B']);
    expect(afterDelete.counts).toMatchObject({ records_in: 1, written: 1, dead_lettered: 0 });
    expect(await listKeys(s3, out)).toEqual(outputs);
    expect(await listKeys(s3, errors)).toEqual([]);
  });

  it('ingests an object once when one SQS batch announces it twice, and reports both messages as done', async () => {
    const { handler, out, upload, raw } = await pipeline({ versioned: false });
    const object = await upload('in/daily.jsonl', '{"r":"A"}\n{"r":"B"}\n');
    const event = objectCreatedInSqs(raw, [object]);
    const twice = { Records: [event.Records[0]!, { ...event.Records[0]!, messageId: randomUUID() }] };

    const summary = await handler.invoke(twice);

    expect(summary.response).toEqual({ batchItemFailures: [] });
    expect(summary.counts).toMatchObject({ records_in: 2, written: 2 });
    expect(await recordsIn(s3, out)).toEqual([{ r: 'A' }, { r: 'B' }]);
  });

  describe('S3ObjectStore.get with a version', () => {
    const store = new S3ObjectStore(s3);
    const bucket = uniqueName('identity-versions');

    beforeAll(async () => {
      await createBuckets(s3, bucket);
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    });

    it('reads the version asked for and says which it read', async () => {
      const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'one' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'two' }));

      const object = await store.get(bucket, 'k', { versionId: first.VersionId! });

      expect(object?.versionId).toBe(first.VersionId);
      expect(Buffer.from(await object!.body.toArray().then((parts) => Buffer.concat(parts as Buffer[]))).toString()).toBe('one');
    });

    it('resolves to undefined for a version the key never had', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other', Body: 'x' }));

      expect(await store.get(bucket, 'other', { versionId: 'ThisVersionDoesNotExist000000000' })).toBeUndefined();
    });
  });
});
