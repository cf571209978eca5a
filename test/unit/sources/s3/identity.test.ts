import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../../engine/handler.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import type { MemoryObject } from '../../../../engine/ports/memory-object-store.ts';
import { resolveSpec } from '../../../../engine/spec/resolve.ts';

// The identity of an S3 input is its bucket, key and content (version id, else ETag): the same
// content always gets the same output and dead-letter names, a new content of the same key new
// ones, whichever way S3 delivered the event and whether the bucket keeps versions.

const NOW = new Date('2026-11-27T10:00:00Z');
const KEY = 'in/daily.jsonl';

interface Announced {
  key: string;
  size: number;
  etag: string;
  versionId?: string | undefined;
  sequencer: string;
}

/** The classic notification S3 sends for one object (key form-encoded, as S3 does). */
function notification(object: Announced) {
  const s3Object: Record<string, unknown> = { key: object.key, size: object.size, eTag: object.etag, sequencer: object.sequencer };
  if (object.versionId !== undefined) s3Object.versionId = object.versionId;
  return {
    Records: [{
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2026-11-27T09:59:00.000Z',
      eventName: 'ObjectCreated:Put',
      s3: { s3SchemaVersion: '1.0', configurationId: 'ingest', bucket: { name: 'raw', arn: 'arn:aws:s3:::raw' }, object: s3Object },
    }],
  };
}

function eventBridge(object: Announced) {
  const detailObject: Record<string, unknown> = { key: object.key, size: object.size, etag: object.etag, sequencer: object.sequencer };
  if (object.versionId !== undefined) detailObject['version-id'] = object.versionId;
  return {
    version: '0',
    id: `eb-${object.sequencer}`,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-11-27T09:59:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:s3:::raw'],
    detail: { version: '0', bucket: { name: 'raw' }, object: detailObject, reason: 'PutObject' },
  };
}

function sqs(bodies: unknown[]) {
  return {
    Records: bodies.map((body, index) => ({
      messageId: `message-${index}`,
      receiptHandle: `handle-${index}`,
      body: JSON.stringify(body),
      attributes: {},
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:ingest-objects',
      awsRegion: 'us-east-1',
    })),
  };
}

function sns(messages: unknown[]) {
  return {
    Records: messages.map((message, index) => ({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:objects:1',
      Sns: { Type: 'Notification', MessageId: `sns-${index}`, TopicArn: 'arn:aws:sns:us-east-1:123456789012:objects', Message: JSON.stringify(message) },
    })),
  };
}

/** Each way S3 announces objects to Lambda, building one event for the given objects. */
const deliveries: [string, (objects: Announced[]) => unknown][] = [
  ['EventBridge through SQS', (objects) => sqs(objects.map(eventBridge))],
  ['classic notification, direct', (objects) => ({ Records: objects.flatMap((object) => notification(object).Records) })],
  ['classic notification through SNS', (objects) => sns(objects.map(notification))],
  ['classic notification through SQS', (objects) => sqs(objects.map(notification))],
];

/** Versioned: events name the version S3 gave the write. Suspended: S3 names every write `null`. */
const versionings: [string, { versioning: boolean; versionOf: (object: MemoryObject) => string | undefined }][] = [
  ['versioned', { versioning: true, versionOf: (object) => object.versionId }],
  ['unversioned', { versioning: false, versionOf: () => undefined }],
  ['versioning suspended', { versioning: false, versionOf: () => 'null' }],
];

const spec = resolveSpec({
  version: 1,
  name: 'daily',
  dead_letter: { bucket: 'errors', prefix: 'daily/{{stage}}/' },
  sources: { daily: { type: 's3', bucket: 'raw', prefix: 'in/', format: 'jsonl' } },
  sinks: { copy: { type: 's3', inputs: ['daily'], bucket: 'out', key: 'copy/', compression: 'none' } },
});

function keysIn(store: MemoryObjectStore, bucket: string): string[] {
  return [...store.objects.keys()].filter((id) => id.startsWith(`${bucket}/`)).sort();
}

function linesOf(store: MemoryObjectStore, id: string): Record<string, unknown>[] {
  return Buffer.from(store.objects.get(id)!.body).toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.each(deliveries)('the identity of an S3 input announced by %s', (_delivery, eventFor) => {
  describe.each(versionings)('in a bucket %s', (_versioning, { versioning, versionOf }) => {
    let sequence = 0;
    function upload(store: MemoryObjectStore, body: string): Announced {
      const object = store.set('raw', KEY, body);
      sequence += 1;
      return { key: KEY, size: object.body.byteLength, etag: object.etag, versionId: versionOf(object), sequencer: `0062E99A88DC40${sequence.toString(16).padStart(4, '0')}` };
    }

    function setup() {
      const store = new MemoryObjectStore({ versioning });
      const handler = createHandler(spec, { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: () => {}, clock: () => NOW });
      return { store, handler };
    }

    it('writes a re-upload of the key beside the first upload, never over it', async () => {
      const { store, handler } = setup();
      const first = upload(store, '{"r":"A"}\n{"r":"B"}\nnot json\n');
      await handler.invoke(eventFor([first]));
      const afterFirst = keysIn(store, 'out');
      const lettersAfterFirst = keysIn(store, 'errors');

      const second = upload(store, '{"r":"C"}\n{"r":"D"}\nnot json either\n');
      await handler.invoke(eventFor([second]));

      const outputs = keysIn(store, 'out');
      expect(afterFirst).toHaveLength(1);
      expect(outputs).toHaveLength(2);
      expect(outputs).toContain(afterFirst[0]);
      expect(outputs.flatMap((id) => linesOf(store, id)).map((line) => line.r).sort()).toEqual(['A', 'B', 'C', 'D']);
      expect(lettersAfterFirst).toHaveLength(1);
      expect(keysIn(store, 'errors')).toHaveLength(2);
    });

    it('gives the same event the same names when it is delivered again', async () => {
      const { store, handler } = setup();
      const object = upload(store, '{"r":"A"}\nnot json\n');
      await handler.invoke(eventFor([object]));
      const outputs = keysIn(store, 'out');
      const letters = keysIn(store, 'errors');

      await handler.invoke(eventFor([object]));

      expect(keysIn(store, 'out')).toEqual(outputs);
      expect(keysIn(store, 'errors')).toEqual(letters);
    });

    it('puts the content identity into meta and into the position', async () => {
      const { store, handler } = setup();
      const object = upload(store, 'not json\n');

      await handler.invoke(eventFor([object]));

      const [letter] = linesOf(store, keysIn(store, 'errors')[0]!);
      const version = object.versionId === 'null' ? undefined : object.versionId;
      const meta = letter!.meta as Record<string, unknown>;
      expect(meta.etag).toBe(object.etag);
      expect(meta.version_id).toBe(version);
      expect(letter!.position).toBe(`raw/${KEY}@${version ?? object.etag}:1`);
      expect(meta.position).toBe(letter!.position);
    });
  });
});

describe.each(deliveries)('objects announced by %s', (_delivery, eventFor) => {
  function setup(versioning: boolean) {
    const store = new MemoryObjectStore({ versioning });
    const handler = createHandler(spec, { ports: { objects: store }, files: { exists: () => false, read: () => undefined }, write: () => {}, clock: () => NOW });
    return { store, handler };
  }

  function announce(object: MemoryObject, sequencer: string): Announced {
    return { key: KEY, size: object.body.byteLength, etag: object.etag, versionId: object.versionId, sequencer };
  }

  it('are read in the version the event names, though a newer version is current', async () => {
    const { store, handler } = setup(true);
    const first = announce(store.set('raw', KEY, '{"r":"A"}\n'), '01');
    const second = announce(store.set('raw', KEY, '{"r":"B"}\n'), '02');

    await handler.invoke(eventFor([first, second]));

    const lines = keysIn(store, 'out').flatMap((id) => linesOf(store, id));
    expect(lines.map((line) => line.r).sort()).toEqual(['A', 'B']);
  });

  it('are read in the version the event names after a delete marker hid it', async () => {
    const { store, handler } = setup(true);
    const object = announce(store.set('raw', KEY, '{"r":"A"}\n'), '01');
    store.delete('raw', KEY);

    const summary = await handler.invoke(eventFor([object]));

    expect(summary.counts).toMatchObject({ records_in: 1, written: 1, dead_lettered: 0 });
  });

  it('dead-letter a version deleted for good as object-not-found, naming the version', async () => {
    const { store, handler } = setup(true);
    const object = announce(store.set('raw', KEY, '{"r":"A"}\n'), '01');

    const summary = await handler.invoke(eventFor([{ ...object, versionId: 'v-deleted-for-good' }]));

    expect(summary.counts).toMatchObject({ records_in: 1, written: 0, dead_lettered: 1 });
    const [letter] = linesOf(store, keysIn(store, 'errors')[0]!);
    expect(letter).toMatchObject({ code: 'object-not-found', position: `raw/${KEY}@v-deleted-for-good:0` });
    expect(letter!.message).toContain('version v-deleted-for-good of s3://raw/in/daily.jsonl does not exist');
  });

  it('are ingested once when the event announces the same object twice', async () => {
    const { store, handler } = setup(false);
    const object = announce(store.set('raw', KEY, '{"r":"A"}\n{"r":"B"}\n'), '01');

    const summary = await handler.invoke(eventFor([object, object]));

    expect(summary.counts).toMatchObject({ records_in: 2, written: 2, dead_lettered: 0, failed: 0 });
    expect(summary.response?.batchItemFailures ?? []).toEqual([]);
    expect(keysIn(store, 'out').flatMap((id) => linesOf(store, id))).toEqual([{ r: 'A' }, { r: 'B' }]);
  });

  it('write the same output whether duplicates came in one invocation or two', async () => {
    const together = setup(false);
    const apart = setup(false);
    const body = '{"r":"A"}\n{"r":"B"}\n';
    const object = announce(together.store.set('raw', KEY, body), '01');
    apart.store.set('raw', KEY, body);

    await together.handler.invoke(eventFor([object, object]));
    await apart.handler.invoke(eventFor([object]));
    await apart.handler.invoke(eventFor([object]));

    expect(keysIn(together.store, 'out')).toEqual(keysIn(apart.store, 'out'));
  });

  it('are ingested once when two writes of identical bytes to an unversioned key come in one event, as in two', async () => {
    const { store, handler } = setup(false);
    const stored = store.set('raw', KEY, '{"r":"A"}\n');

    const summary = await handler.invoke(eventFor([announce(stored, '01'), announce(stored, '02')]));

    // Two writes, so no redelivery; but one content, whose output has one name whenever it is read.
    expect(summary.counts).toMatchObject({ records_in: 1, written: 1 });
  });

  it('are each ingested when two writes of identical bytes to a versioned key come in one event', async () => {
    const { store, handler } = setup(true);
    const first = announce(store.set('raw', KEY, '{"r":"A"}\n'), '01');
    const second = announce(store.set('raw', KEY, '{"r":"A"}\n'), '02');

    const summary = await handler.invoke(eventFor([first, second]));

    expect(summary.counts).toMatchObject({ records_in: 2, written: 2 });
  });

  it('read the newest content of an unversioned key once when its older event comes in the same batch', async () => {
    const together = setup(false);
    const apart = setup(false);
    const older = announce(together.store.set('raw', KEY, '{"r":"A"}\n'), '01');
    const newer = announce(together.store.set('raw', KEY, '{"r":"B"}\n{"r":"C"}\n'), '02');
    apart.store.set('raw', KEY, '{"r":"B"}\n{"r":"C"}\n');

    const summary = await together.handler.invoke(eventFor([older, newer]));
    await apart.handler.invoke(eventFor([older]));
    await apart.handler.invoke(eventFor([newer]));

    // Both events find B and C: the key no longer holds A.
    expect(summary.counts).toMatchObject({ records_in: 2, written: 2, dead_lettered: 0 });
    expect(keysIn(together.store, 'out').flatMap((id) => linesOf(together.store, id))).toEqual([{ r: 'B' }, { r: 'C' }]);
    expect(keysIn(together.store, 'out')).toEqual(keysIn(apart.store, 'out'));
  });
});
