import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { KinesisMeta, RecordMeta, RecordValue } from '../../../../engine/pipeline/record.ts';
import type { Invocation, ItemScope, SinkFailure, Ticket } from '../../../../engine/plugin/types.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import type { ObjectStore, PutOptions, StagedObject, StoredObject } from '../../../../engine/ports/object-store.ts';
import { MAX_PREFIX_BYTES } from '../../../../engine/staging/object-name.ts';
import { s3Sink } from '../../../../engine/sinks/s3/sink.ts';
import type { S3SinkConfig } from '../../../../engine/sinks/s3/sink.ts';

// Factories

function kinesisMeta(index: number, overrides: Partial<KinesisMeta> = {}): KinesisMeta {
  const sequence = String(49590338271490256608559692538361571095921575989136588898n + BigInt(index));
  return {
    event: 'kinesis',
    source: 'orders',
    arrival_time: '2026-11-27T10:00:00.000Z',
    position: `shardId-000000000000/${sequence}`,
    stream: 'orders',
    shard: 'shardId-000000000000',
    sequence,
    partition_key: `pk-${index}`,
    ...overrides,
  };
}

function clickRecord(index: number, overrides: RecordValue = {}): RecordValue {
  return { event_id: `e${index}`, user_id: index, day: '2026-11-27', ...overrides };
}

/** A batch item whose records were all decoded before delivery (a Kinesis record): committed, never aborted. */
const ENVIRONMENT = { pipeline: 'clicks' };
const STREAM_ITEM: ItemScope = { index: 0, staged: false };

interface TestTicket extends Ticket {
  readonly settlements: ({ outcome: 'written' } | { outcome: 'failed'; failure: SinkFailure })[];
}

function makeTicket(): TestTicket {
  const settlements: TestTicket['settlements'] = [];
  return {
    settlements,
    written: () => void settlements.push({ outcome: 'written' }),
    failed: (failure) => void settlements.push({ outcome: 'failed', failure }),
  };
}

function makeInvocation(now = new Date('2026-11-27T10:30:00.000Z')): Invocation {
  return { state: new Map(), now, requestId: 'request-1', deadline: Date.now() + 60_000 };
}

/** A resolved `s3` sink (defaults applied, as the resolver gives it) with `overrides`; `batch` overrides merge. */
function sinkConfig(overrides: Omit<Partial<S3SinkConfig>, 'batch'> & { batch?: Partial<S3SinkConfig['batch']> } = {}): S3SinkConfig {
  const { batch, ...rest } = overrides;
  return {
    type: 's3',
    inputs: ['orders'],
    on_error: 'retry',
    create: false,
    bucket: 'archive',
    key: 'clicks/dt={{record.day}}/',
    format: 'jsonl',
    compression: 'gzip',
    ...rest,
    batch: { max_records: 100_000, max_bytes: 64 * 1024 * 1024, ...batch },
  };
}

interface Input {
  record: RecordValue;
  meta: RecordMeta;
}

function inputs(count: number, record: (index: number) => RecordValue = clickRecord): Input[] {
  return Array.from({ length: count }, (_, index) => ({ record: record(index), meta: kinesisMeta(index) }));
}

/** Runs one invocation of an `s3` sink over `entries`; returns the store and each entry's ticket. */
async function runSink(config: S3SinkConfig, entries: Input[], store: ObjectStore = new MemoryObjectStore()) {
  const sink = s3Sink.create('archive', config, { objects: store }, ENVIRONMENT);
  const writer = sink.open(makeInvocation());
  const tickets: TestTicket[] = [];
  for (const { record, meta } of entries) {
    const ticket = makeTicket();
    tickets.push(ticket);
    await writer.add({ record, meta, ticket, item: STREAM_ITEM });
  }
  await writer.close();
  return { store, tickets };
}

function storedKeys(store: MemoryObjectStore): string[] {
  return [...store.objects.keys()].sort();
}

function storedText(store: MemoryObjectStore, id: string): string {
  const object = store.objects.get(id)!;
  const body = Buffer.from(object.body);
  return (object.contentEncoding === 'gzip' ? gunzipSync(body) : body).toString('utf8');
}

function jsonLines(text: string): unknown[] {
  return text.trimEnd().split('\n').map((line) => JSON.parse(line));
}

/** A store whose `put` rejects for keys under `failingPrefix`. */
class FailingObjectStore implements ObjectStore {
  readonly inner = new MemoryObjectStore();
  constructor(
    private readonly failingPrefix: string,
    private readonly failure = { name: 'SlowDown', status: 503 },
  ) {}

  get(bucket: string, key: string): Promise<StoredObject | undefined> {
    return this.inner.get(bucket, key);
  }

  async put(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    if (key.startsWith(this.failingPrefix)) throw storeError(this.failure);
    await this.inner.put(bucket, key, body, options);
  }

  async stage(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<StagedObject> {
    if (key.startsWith(this.failingPrefix)) throw storeError(this.failure);
    return this.inner.stage(bucket, key, body, options);
  }
}

/** An error shaped as SDK v3 throws them: a name and the HTTP status. */
function storeError({ name, status }: { name: string; status: number }): Error {
  return Object.assign(new Error(`${name}: the store refused the request`), { name, $metadata: { httpStatusCode: status } });
}

/** A store that stages objects but cannot complete them, as when CompleteMultipartUpload fails. */
class UnpublishableObjectStore extends MemoryObjectStore {
  override async stage(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<StagedObject> {
    const staged = await super.stage(bucket, key, body, options);
    return {
      publish: async () => {
        throw storeError({ name: 'SlowDown', status: 503 });
      },
      discard: () => staged.discard(),
    };
  }
}

/** A store whose `put` resolves only after other work has had a chance to run. */
class SlowObjectStore extends MemoryObjectStore {
  override async put(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    await super.put(bucket, key, body, options);
  }
}

describe('s3 sink', () => {
  describe('grouping', () => {
    it('writes records whose prefixes render the same into one object under that prefix', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig(), inputs(3), store);

      const keys = storedKeys(store);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^archive\/clicks\/dt=2026-11-27\/orders-/);
      expect(jsonLines(storedText(store, keys[0]!))).toEqual([clickRecord(0), clickRecord(1), clickRecord(2)]);
    });

    it('writes records with different prefixes into separate objects', async () => {
      const store = new MemoryObjectStore();
      const entries = inputs(4, (index) => clickRecord(index, { day: index % 2 === 0 ? '2026-11-27' : '2026-11-28' }));

      await runSink(sinkConfig(), entries, store);

      const keys = storedKeys(store);
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^archive\/clicks\/dt=2026-11-27\//);
      expect(keys[1]).toMatch(/^archive\/clicks\/dt=2026-11-28\//);
      expect(jsonLines(storedText(store, keys[1]!))).toEqual([entries[1]!.record, entries[3]!.record]);
    });

    it('renders `now` in the prefix from the invocation clock', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig({ key: "received/{{date now 'yyyy/MM/dd/HH'}}/" }), inputs(1), store);

      expect(storedKeys(store)[0]).toMatch(/^archive\/received\/2026\/11\/27\/10\/orders-/);
    });
  });

  describe('splitting', () => {
    it('adds records synchronously while no object is full', () => {
      const sink = s3Sink.create('archive', sinkConfig(), { objects: new MemoryObjectStore() }, ENVIRONMENT);
      const writer = sink.open(makeInvocation());

      const results = inputs(3).map(({ record, meta }) => writer.add({ record, meta, ticket: makeTicket(), item: STREAM_ITEM }));

      expect(results).toEqual([undefined, undefined, undefined]);
    });

    it('starts a new object when max_records is reached', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig({ batch: { max_records: 2 } }), inputs(5), store);

      const counts = storedKeys(store).map((key) => jsonLines(storedText(store, key)).length);
      expect(counts.sort()).toEqual([1, 2, 2]);
    });

    it('writes an object as soon as it is full, before the invocation ends', async () => {
      const store = new MemoryObjectStore();
      const sink = s3Sink.create('archive', sinkConfig({ batch: { max_records: 2 } }), { objects: store }, ENVIRONMENT);
      const writer = sink.open(makeInvocation());
      const [first, second] = inputs(2);

      await writer.add({ ...first!, ticket: makeTicket(), item: STREAM_ITEM });
      const objectsBeforeFull = store.objects.size;
      await writer.add({ ...second!, ticket: makeTicket(), item: STREAM_ITEM });

      expect(objectsBeforeFull).toBe(0);
      expect(store.objects.size).toBe(1);
    });

    it('starts a new object before a record would take the object past max_bytes', async () => {
      const store = new MemoryObjectStore();
      const lineBytes = Buffer.byteLength(JSON.stringify(clickRecord(0)) + '\n');

      await runSink(sinkConfig({ compression: 'none', batch: { max_bytes: lineBytes * 2 + 1 } }), inputs(5), store);

      const sizes = storedKeys(store).map((key) => store.objects.get(key)!.body.byteLength);
      expect(sizes.sort((a, b) => a - b)).toEqual([lineBytes, lineBytes * 2, lineBytes * 2]);
    });

    it('measures records of multi-byte text exactly against max_bytes', async () => {
      const store = new MemoryObjectStore();
      const entries = inputs(5, (index) => clickRecord(index, { payload: 'é✓😀'.repeat(20) }));
      const lineBytes = Buffer.byteLength(JSON.stringify(entries[0]!.record) + '\n');

      await runSink(sinkConfig({ compression: 'none', batch: { max_bytes: lineBytes * 2 } }), entries, store);

      const sizes = storedKeys(store).map((key) => store.objects.get(key)!.body.byteLength);
      expect(sizes.sort((a, b) => a - b)).toEqual([lineBytes, lineBytes * 2, lineBytes * 2]);
    });

    it('writes a record larger than max_bytes alone in its own object', async () => {
      const store = new MemoryObjectStore();
      const entries = inputs(3, (index) => clickRecord(index, { payload: index === 1 ? 'x'.repeat(500) : 'small' }));

      const { tickets } = await runSink(sinkConfig({ batch: { max_bytes: 200 } }), entries, store);

      const contents = storedKeys(store).map((key) => jsonLines(storedText(store, key)));
      expect(contents).toHaveLength(3);
      expect(contents).toContainEqual([entries[1]!.record]);
      expect(tickets.every((ticket) => ticket.settlements[0]?.outcome === 'written')).toBe(true);
    });

    it('writes the largest open object early when open objects exceed the memory budget', async () => {
      const store = new MemoryObjectStore();
      const sink = s3Sink.create('archive', sinkConfig({ key: 'big/{{record.day}}/', batch: { max_bytes: 8 * 1024 * 1024 } }), { objects: store }, ENVIRONMENT);
      const writer = sink.open(makeInvocation());
      const payload = 'x'.repeat(1024 * 1024);

      // 70 prefixes of 1 MiB each pass the 64 MiB budget; no single object reaches max_bytes.
      for (let index = 0; index < 70; index++) {
        await writer.add({ record: { day: `d${index}`, payload }, meta: kinesisMeta(index), ticket: makeTicket(), item: STREAM_ITEM });
      }
      const writtenBeforeClose = store.objects.size;
      await writer.close();

      expect(writtenBeforeClose).toBeGreaterThan(0);
      expect(store.objects.size).toBe(70);
    });
  });

  describe('encoding', () => {
    it('gzips JSON lines so that the object gunzips to one record per line', async () => {
      const store = new MemoryObjectStore();
      const entries = inputs(3, (index) => clickRecord(index, { text: 'naïve ✓ "quoted"\nline' }));

      await runSink(sinkConfig(), entries, store);

      const object = [...store.objects.values()][0]!;
      const text = gunzipSync(Buffer.from(object.body)).toString('utf8');
      expect(text).toBe(entries.map(({ record }) => JSON.stringify(record) + '\n').join(''));
    });

    it('writes JSON lines uncompressed with compression none', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig({ compression: 'none' }), inputs(2), store);

      const [key] = storedKeys(store);
      expect(key).toMatch(/\.jsonl$/);
      expect(Buffer.from(store.objects.get(key!)!.body).toString('utf8')).toBe(`${JSON.stringify(clickRecord(0))}\n${JSON.stringify(clickRecord(1))}\n`);
    });

    it('labels gzip JSON lines as application/x-ndjson with Content-Encoding gzip', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig(), inputs(1), store);

      const [key] = storedKeys(store);
      const object = store.objects.get(key!)!;
      expect(key).toMatch(/\.jsonl\.gz$/);
      expect(object.contentType).toBe('application/x-ndjson');
      expect(object.contentEncoding).toBe('gzip');
    });

    it('labels uncompressed CSV as text/csv without Content-Encoding', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig({ format: 'csv', compression: 'none' }), inputs(1), store);

      const [key] = storedKeys(store);
      const object = store.objects.get(key!)!;
      expect(key).toMatch(/\.csv$/);
      expect(object.contentType).toBe('text/csv');
      expect(object.contentEncoding).toBeUndefined();
    });

    it('writes CSV with a header of the first record keys and quotes fields that need it', async () => {
      const store = new MemoryObjectStore();
      const entries: Input[] = [
        { record: { id: 1, note: 'plain', ok: true }, meta: kinesisMeta(0) },
        { record: { id: 2, note: 'has, comma and "quotes"', ok: false }, meta: kinesisMeta(1) },
        { record: { id: 3, note: 'two\nlines', extra: 'dropped' }, meta: kinesisMeta(2) },
      ];

      await runSink(sinkConfig({ key: 'csv/', format: 'csv' }), entries, store);

      const [key] = storedKeys(store);
      expect(storedText(store, key!)).toBe('id,note,ok\n1,plain,true\n2,"has, comma and ""quotes""",false\n3,"two\nlines",\n');
    });

    it('writes configured CSV columns, reading nested fields and writing objects as JSON', async () => {
      const store = new MemoryObjectStore();
      const entries: Input[] = [{ record: { id: 1, user: { name: 'Ann', tags: ['a', 'b'] } }, meta: kinesisMeta(0) }];
      const config = sinkConfig({ key: 'csv/', format: 'csv', csv: { columns: ['id', 'user.name', 'user.tags', 'missing'], delimiter: '|', header: true } });

      await runSink(config, entries, store);

      const [key] = storedKeys(store);
      expect(storedText(store, key!)).toBe('id|user.name|user.tags|missing\n1|Ann|"[""a"",""b""]"|\n');
    });

    it('starts a CSV object split by max_bytes with its own header', async () => {
      const store = new MemoryObjectStore();
      const rowBytes = Buffer.byteLength('e0,0,2026-11-27\n');
      const headerBytes = Buffer.byteLength('event_id,user_id,day\n');

      await runSink(sinkConfig({ key: 'csv/', format: 'csv', compression: 'none', batch: { max_bytes: headerBytes + 2 * rowBytes } }), inputs(3), store);

      const texts = storedKeys(store).map((key) => storedText(store, key));
      expect(texts.sort()).toEqual(['event_id,user_id,day\ne0,0,2026-11-27\ne1,1,2026-11-27\n', 'event_id,user_id,day\ne2,2,2026-11-27\n']);
    });

    it('starts every CSV object with its own header', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig({ key: 'csv/', format: 'csv', batch: { max_records: 2 } }), inputs(3), store);

      const headers = storedKeys(store).map((key) => storedText(store, key).split('\n')[0]);
      expect(headers).toEqual(['event_id,user_id,day', 'event_id,user_id,day']);
    });
  });

  describe('object names', () => {
    it('writes the same keys and bodies when the same input is written twice', async () => {
      const first = new MemoryObjectStore();
      const second = new MemoryObjectStore();
      const entries = inputs(7, (index) => clickRecord(index, { day: `2026-11-2${index % 3}` }));
      const config = sinkConfig({ batch: { max_records: 2 } });

      await runSink(config, entries, first);
      await runSink(config, entries, second);

      expect(storedKeys(second)).toEqual(storedKeys(first));
      for (const key of storedKeys(first)) expect(second.objects.get(key)!.etag).toBe(first.objects.get(key)!.etag);
    });

    it('names objects differently when only a record between the same first and last positions differs', async () => {
      const store = new MemoryObjectStore();
      const withSecond = [0, 1, 3].map((index) => ({ record: clickRecord(index), meta: kinesisMeta(index) }));
      const withThird = [0, 2, 3].map((index) => ({ record: clickRecord(index), meta: kinesisMeta(index) }));

      await runSink(sinkConfig(), withSecond, store);
      await runSink(sinkConfig(), withThird, store);

      expect(store.objects.size).toBe(2);
    });

    it('names objects readably after the source, the first position and the record count', async () => {
      const store = new MemoryObjectStore();

      await runSink(sinkConfig(), inputs(3), store);

      const [key] = storedKeys(store);
      const sequence = kinesisMeta(0).sequence;
      expect(key).toMatch(new RegExp(`^archive/clicks/dt=2026-11-27/orders-shardId-000000000000_${sequence}-[0-9a-f]{16}-3\\.jsonl\\.gz$`));
    });

    it('keeps object names to characters that need no URL encoding and to a bounded length', async () => {
      const store = new MemoryObjectStore();
      const meta = kinesisMeta(0, { source: 'clicks', position: `acme-raw/${'deep/'.repeat(100)}file name+ü.json:17` });

      await runSink(sinkConfig({ key: 'p/' }), [{ record: clickRecord(0), meta }], store);

      const name = storedKeys(store)[0]!.slice('archive/p/'.length);
      expect(name).toMatch(/^[A-Za-z0-9_-]+\.jsonl\.gz$/);
      expect(name).toMatch(/^clicks-.*_deep_file_name___json_17-/);
      expect(name.length).toBeLessThanOrEqual(1024 - MAX_PREFIX_BYTES);
    });
  });

  describe('the item commit point', () => {
    const staged = (index: number): ItemScope => ({ index, staged: true });

    it('keeps a staged item out of sight until it commits, then writes it in objects of its own', async () => {
      const store = new MemoryObjectStore();
      const writer = s3Sink.create('archive', sinkConfig({ key: 'p/' }), { objects: store }, ENVIRONMENT).open(makeInvocation());
      const item = staged(1);
      for (const { record, meta } of inputs(3)) await writer.add({ record, meta, ticket: makeTicket(), item });
      for (const { record, meta } of inputs(5).slice(3)) await writer.add({ record, meta, ticket: makeTicket(), item: STREAM_ITEM });

      await writer.commit(item);
      await writer.close();

      const bodies = storedKeys(store).map((key) => jsonLines(storedText(store, key)).map((record) => (record as RecordValue).event_id));
      expect(bodies.sort()).toEqual([['e0', 'e1', 'e2'], ['e3', 'e4']]);
    });

    it('uploads the full objects of a staged item unpublished and publishes them on commit, its tickets settled as records arrive', async () => {
      const store = new MemoryObjectStore();
      const writer = s3Sink.create('archive', sinkConfig({ batch: { max_records: 2 } }), { objects: store }, ENVIRONMENT).open(makeInvocation());
      const item = staged(0);
      const tickets: TestTicket[] = [];
      for (const { record, meta } of inputs(5)) {
        const ticket = makeTicket();
        tickets.push(ticket);
        await writer.add({ record, meta, ticket, item });
      }
      const beforeCommit = { visible: store.objects.size, staged: store.staged.size, settled: tickets.filter((ticket) => ticket.settlements.length > 0).length };

      await writer.commit(item);
      await writer.close();

      // The sink keeps nothing per record of a staged item: the pipeline discards the outcomes of an aborted one.
      expect(beforeCommit).toEqual({ visible: 0, staged: 2, settled: 5 });
      expect(store.objects.size).toBe(3);
      expect(store.staged.size).toBe(0);
      expect(tickets.every((ticket) => ticket.settlements.length === 1 && ticket.settlements[0]!.outcome === 'written')).toBe(true);
    });

    it('discards everything of an aborted item, staged uploads included, and still writes the other items', async () => {
      const store = new MemoryObjectStore();
      const writer = s3Sink.create('archive', sinkConfig({ batch: { max_records: 2 } }), { objects: store }, ENVIRONMENT).open(makeInvocation());
      const item = staged(0);
      const abortedTickets: TestTicket[] = [];
      for (const { record, meta } of inputs(5)) {
        const ticket = makeTicket();
        abortedTickets.push(ticket);
        await writer.add({ record, meta, ticket, item });
      }
      const other = makeTicket();
      await writer.add({ record: clickRecord(9), meta: kinesisMeta(9), ticket: other, item: STREAM_ITEM });

      await writer.abort(item);
      await writer.close();

      expect(storedKeys(store).map((key) => jsonLines(storedText(store, key)))).toEqual([[clickRecord(9)]]);
      expect(store.staged.size).toBe(0);
      expect(other.settlements).toEqual([{ outcome: 'written' }]);
      // Their outcomes were provisional: the pipeline discards those of an aborted item.
      expect(abortedTickets.every((ticket) => ticket.settlements.length === 1)).toBe(true);
      expect(await writer.settle!({ redelivered: () => false })).toEqual({ failed: [] });
    });

    it('fails the whole item when a staged upload cannot be published, and only that item', async () => {
      const store = new UnpublishableObjectStore();
      const writer = s3Sink.create('archive', sinkConfig({ batch: { max_records: 2 } }), { objects: store }, ENVIRONMENT).open(makeInvocation());
      const item = staged(0);
      for (const { record, meta } of inputs(4)) await writer.add({ record, meta, ticket: makeTicket(), item });
      const other = staged(1);
      await writer.add({ record: clickRecord(9), meta: kinesisMeta(9), ticket: makeTicket(), item: other });

      writer.commit(item);
      writer.commit(other);
      await writer.close();
      const { failed } = await writer.settle!({ redelivered: () => false });

      expect(failed).toEqual([expect.objectContaining({ item })]);
      expect(failed[0]!.reason).toMatch(/could not be written: SlowDown/);
      expect(storedKeys(store).map((key) => jsonLines(storedText(store, key)))).toEqual([[clickRecord(9)]]);
      expect(store.staged.size).toBe(0);
    });

    it('fails the whole item when an object of it cannot be staged, and publishes nothing of it', async () => {
      const store = new FailingObjectStore('p/');
      const writer = s3Sink.create('archive', sinkConfig({ key: 'p/', batch: { max_records: 2 } }), { objects: store }, ENVIRONMENT).open(makeInvocation());
      const item = staged(0);
      for (const { record, meta } of inputs(3)) await writer.add({ record, meta, ticket: makeTicket(), item });

      writer.commit(item);
      await writer.close();

      expect((await writer.settle!({ redelivered: () => false })).failed.map((failure) => failure.item)).toEqual([item]);
      expect(store.inner.objects.size).toBe(0);
    });
  });

  describe('failures', () => {
    it('fails every ticket of an object whose put fails as retryable while other objects are written', async () => {
      const store = new FailingObjectStore('clicks/dt=2026-11-28/');
      const entries = inputs(4, (index) => clickRecord(index, { day: index < 2 ? '2026-11-27' : '2026-11-28' }));

      const { tickets } = await runSink(sinkConfig(), entries, store);

      expect(tickets.slice(0, 2).map((ticket) => ticket.settlements)).toEqual([[{ outcome: 'written' }], [{ outcome: 'written' }]]);
      for (const ticket of tickets.slice(2)) {
        expect(ticket.settlements).toEqual([{ outcome: 'failed', failure: { code: 'sink-error', message: expect.stringContaining('SlowDown'), retryable: true } }]);
      }
      expect(store.inner.objects.size).toBe(1);
    });

    it('fails every ticket of an object the store refuses for good (AccessDenied) as not retryable', async () => {
      const store = new FailingObjectStore('clicks/', { name: 'AccessDenied', status: 403 });

      const { tickets } = await runSink(sinkConfig(), inputs(2), store);

      expect(tickets.map((ticket) => ticket.settlements)).toEqual([0, 1].map(() => [
        { outcome: 'failed', failure: expect.objectContaining({ code: 'sink-rejected', retryable: false, message: expect.stringContaining('AccessDenied (HTTP 403)') }) },
      ]));
    });

    it('fails only the record whose prefix does not render, as not retryable', async () => {
      const store = new MemoryObjectStore();
      const entries = inputs(3, (index) => (index === 1 ? { event_id: 'e1' } : clickRecord(index)));

      const { tickets } = await runSink(sinkConfig(), entries, store);

      expect(tickets[1]!.settlements).toEqual([{ outcome: 'failed', failure: { code: 'sink-rejected', message: expect.stringContaining('key prefix'), retryable: false } }]);
      expect(tickets[0]!.settlements).toEqual([{ outcome: 'written' }]);
      expect(tickets[2]!.settlements).toEqual([{ outcome: 'written' }]);
      expect(jsonLines(storedText(store, storedKeys(store)[0]!))).toEqual([clickRecord(0), clickRecord(2)]);
    });

    it('fails a record whose prefix renders too long for an S3 key, as not retryable', async () => {
      const entries = inputs(1, (index) => clickRecord(index, { day: 'd'.repeat(MAX_PREFIX_BYTES) }));

      const { store, tickets } = await runSink(sinkConfig(), entries);

      expect(tickets[0]!.settlements).toEqual([{ outcome: 'failed', failure: { code: 'sink-rejected', message: expect.stringContaining('1024-byte'), retryable: false } }]);
      expect((store as MemoryObjectStore).objects.size).toBe(0);
    });

    it('fails only the record that cannot be encoded as JSON', async () => {
      const entries = inputs(3, (index) => clickRecord(index, index === 0 ? { big: 1n } : {}));

      const { store, tickets } = await runSink(sinkConfig(), entries);

      expect(tickets[0]!.settlements).toEqual([{ outcome: 'failed', failure: { code: 'sink-rejected', message: expect.stringContaining('BigInt'), retryable: false } }]);
      expect(tickets[1]!.settlements).toEqual([{ outcome: 'written' }]);
      expect(jsonLines(storedText(store as MemoryObjectStore, storedKeys(store as MemoryObjectStore)[0]!))).toHaveLength(2);
    });

    it('settles every ticket before close resolves even when add was not awaited', async () => {
      const store = new SlowObjectStore();
      const sink = s3Sink.create('archive', sinkConfig({ batch: { max_records: 1 } }), { objects: store }, ENVIRONMENT);
      const writer = sink.open(makeInvocation());
      const tickets = inputs(3).map(({ record, meta }) => {
        const ticket = makeTicket();
        void writer.add({ record, meta, ticket, item: STREAM_ITEM });
        return ticket;
      });

      await writer.close();

      expect(tickets.map((ticket) => ticket.settlements)).toEqual([[{ outcome: 'written' }], [{ outcome: 'written' }], [{ outcome: 'written' }]]);
    });

    it('settles every ticket exactly once before close resolves', async () => {
      const store = new FailingObjectStore('clicks/dt=2026-11-2');
      const entries = inputs(50, (index) => (index % 7 === 0 ? { event_id: 'no day' } : clickRecord(index, { day: `2026-11-${10 + (index % 20)}` })));

      const { tickets } = await runSink(sinkConfig({ batch: { max_records: 3 } }), entries, store);

      expect(tickets.map((ticket) => ticket.settlements.length)).toEqual(entries.map(() => 1));
    });
  });
});
