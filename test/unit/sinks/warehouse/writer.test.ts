import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { DynamoDbMeta, KinesisMeta, RecordMeta, RecordValue, S3Meta } from '../../../../engine/pipeline/record.ts';
import { InjectedCrash } from '../../../../engine/plugin/types.ts';
import type { FaultStep, Invocation, ItemScope, Ports, Sink, SinkFailure, SettleResult, Ticket } from '../../../../engine/plugin/types.ts';
import type { Ledger, Registration, SlotFile, StagedFile } from '../../../../engine/ports/ledger.ts';
import { ledgerScope } from '../../../../engine/ports/ledger.ts';
import { MemoryLedger } from '../../../../engine/ports/memory-ledger.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import { MemoryWarehouse } from '../../../../engine/ports/memory-warehouse.ts';
import type { PutOptions } from '../../../../engine/ports/object-store.ts';
import type { ResultSet } from '../../../../engine/ports/warehouse.ts';
import type { SourceConfig } from '../../../../engine/spec/resolved-spec.ts';
import { postgresSink, redshiftSink } from '../../../../engine/sinks/warehouse/sink.ts';
import type { WarehouseSinkConfig } from '../../../../engine/sinks/warehouse/sink.ts';
import { jsonPathsDocument } from '../../../../engine/sinks/sql/load-transaction.ts';
import { recordIdentity } from '../../../../engine/staging/record-identity.ts';
import type { StagedIdentity } from '../../../../engine/staging/record-identity.ts';

// Factories

const PIPELINE = 'shop';
const SINK_ID = 'warehouse';
const SCOPE = ledgerScope(PIPELINE, SINK_ID);
const BUCKET = 'staging';
const ARRIVAL = '2026-11-27T10:00:00.000Z';

function kinesisMeta(index: number): KinesisMeta {
  const sequence = String(49590338271490256608559692538361571095921575989136588898n + BigInt(index));
  return { event: 'kinesis', source: 'orders', stream: 'orders', shard: 'shardId-000000000001', sequence, partition_key: `pk-${index % 3}`, arrival_time: ARRIVAL, position: `shardId-000000000001/${sequence}` };
}

function dynamoDbMeta(index: number): DynamoDbMeta {
  const sequence = String(100000000000000000000n + BigInt(index * 100));
  return {
    event: 'dynamodb', source: 'users', table: 'users', sequence, event_name: 'modify', keys: { id: index % 3 }, user_identity: null, ttl_delete: false, sets: [],
    arrival_time: ARRIVAL, position: `users/${sequence}`,
  };
}

function s3Meta(object: number, line: number): S3Meta {
  const key = `incoming/object-${object}.jsonl`;
  return { event: 's3', source: 'uploads', bucket: 'raw', key, line, etag: `etag${object}`, arrival_time: ARRIVAL, position: `raw/${key}@etag${object}:${line}` };
}

interface Input {
  record: RecordValue;
  meta: RecordMeta;
}

/** One batch item and the records the sink receives from it; a staged item is committed unless `abort`. */
interface Delivery {
  item: ItemScope;
  inputs: Input[];
  abort?: boolean;
}

function order(index: number): RecordValue {
  return { id: index, name: `order ${index}`, note: index % 2 === 0 ? null : { nested: [index] }, unused: 'dropped' };
}

/** `count` stream items of one record each. */
function streamDeliveries(kind: 'kinesis' | 'dynamodb', count: number): Delivery[] {
  return Array.from({ length: count }, (_, index) => ({
    item: { index, staged: false },
    inputs: [{ record: order(index), meta: kind === 'kinesis' ? kinesisMeta(index) : dynamoDbMeta(index) }],
  }));
}

/** `count` S3 objects (SQS-wrapped events: independent staged items) of `lines` records each. */
function objectDeliveries(count: number, lines = 3): Delivery[] {
  return Array.from({ length: count }, (_, object) => ({
    item: { index: object, staged: true },
    inputs: Array.from({ length: lines }, (_, line) => ({ record: order(object * 100 + line), meta: s3Meta(object, line + 1) })),
  }));
}

const SOURCE_KINDS = {
  kinesis: (count: number) => streamDeliveries('kinesis', count),
  dynamodb: (count: number) => streamDeliveries('dynamodb', count),
  s3: (count: number) => objectDeliveries(count),
} as const;

type BatchOverrides = Partial<WarehouseSinkConfig['batch']>;

/** A resolved sink config (defaults applied, as `ingest package` resolves it), written out so the test does not depend on the resolver. */
function sinkConfig(type: 'redshift' | 'postgres', mode: 'append' | 'upsert', format: 'jsonl' | 'csv' = 'jsonl', batch: BatchOverrides = {}): WarehouseSinkConfig {
  const common = {
    inputs: ['orders'],
    on_error: 'retry' as const,
    table: 'public.orders',
    columns: ['id', 'name', 'note'],
    mode,
    ...(mode === 'upsert' ? { keys: ['id'] } : {}),
    staging: { bucket: BUCKET, format },
    batch: { max_records: 1_000_000, max_bytes: 512 * 1024 * 1024, max_files: 200, max_seconds: 300, ...batch },
  };
  return type === 'redshift'
    ? {
      type: 'redshift', connection: { workgroup: 'analytics', database: 'dev' }, ...common,
      copy: { timeformat: 'auto', dateformat: 'auto', max_error: 0, truncate_columns: false, blanks_as_null: false, empty_as_null: false, accept_inv_chars: false },
    }
    : { type: 'postgres', connection: { secret_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pg' }, ...common };
}

function createSink(config: WarehouseSinkConfig, ports: Partial<Ports> = {}): { sink: Sink; store: MemoryObjectStore; ledger: Ledger } {
  const store = (ports.objects as MemoryObjectStore | undefined) ?? new MemoryObjectStore();
  const ledger = ports.ledger ?? new MemoryLedger();
  const full: Ports = { objects: store, ledger, warehouse: () => new MemoryWarehouse(), ...ports };
  const plugin = config.type === 'redshift' ? redshiftSink : postgresSink;
  return { sink: plugin.create(SINK_ID, config as never, full, { pipeline: PIPELINE }), store, ledger };
}

interface TestTicket extends Ticket {
  readonly settlements: ({ outcome: 'written' } | { outcome: 'failed'; failure: SinkFailure })[];
}

function makeTicket(): TestTicket {
  const settlements: TestTicket['settlements'] = [];
  return { settlements, written: () => void settlements.push({ outcome: 'written' }), failed: (failure) => void settlements.push({ outcome: 'failed', failure }) };
}

interface RunOptions {
  /** Items Lambda delivers again (the engine's `SettledItems`). */
  redelivered?: number[];
  /** Throws an injected crash after this step. */
  crashAfter?: FaultStep;
}

/** One invocation: add every record, commit or abort staged items, close, settle. */
async function runInvocation(sink: Sink, deliveries: Delivery[], options: RunOptions = {}) {
  const faults: FaultStep[] = [];
  const invocation: Invocation = {
    state: new Map(), now: new Date(ARRIVAL), requestId: 'request-1', deadline: Date.now() + 60_000,
    fault: (step) => {
      faults.push(step);
      if (step === options.crashAfter) throw new InjectedCrash(step);
    },
  };
  const writer = sink.open(invocation);
  const tickets: TestTicket[][] = [];
  for (const { item, inputs, abort } of deliveries) {
    const itemTickets: TestTicket[] = [];
    tickets.push(itemTickets);
    for (const { record, meta } of inputs) {
      const ticket = makeTicket();
      itemTickets.push(ticket);
      await writer.add({ record: structuredClone(record), meta, ticket, item });
    }
    if (item.staged) await (abort ? writer.abort(item) : writer.commit(item));
  }
  await writer.close();
  const redelivered = new Set(options.redelivered ?? []);
  const result: SettleResult = await writer.settle!({ redelivered: (item) => redelivered.has(item.index) });
  return { tickets, result, faults };
}

/** Every file registered so far, in batch and slot order (the open batch is sealed to list it). */
async function registeredFiles(ledger: Ledger): Promise<SlotFile[]> {
  const open = await ledger.openBatch(SCOPE);
  if (open.totals.files > 0) await ledger.seal(SCOPE, open.batch, Date.now());
  const batches = await ledger.batches(SCOPE);
  const files = await Promise.all(batches.map((batch) => ledger.files(SCOPE, batch.batch)));
  return files.flatMap((listed) => listed.files);
}

interface LoadedRow {
  values: unknown[];
  identity: unknown[];
}

/** The rows of a staged file as COPY reads them: the columns, then the six identity values (all text for CSV). */
function readRows(store: MemoryObjectStore, key: string, format: 'jsonl' | 'csv', columns = ['id', 'name', 'note']): LoadedRow[] {
  const object = store.object(BUCKET, key);
  if (object === undefined) throw new Error(`no object ${key}`);
  const text = gunzipSync(object.body).toString('utf8');
  if (format === 'csv') {
    return (parseCsv(text) as string[][]).map((fields) => ({ values: fields.slice(0, columns.length), identity: fields.slice(columns.length) }));
  }
  const paths = jsonPathsDocument(columns).jsonpaths;
  return text.trimEnd().split('\n').map((line) => {
    const document = JSON.parse(line) as Record<string, unknown>;
    const values = paths.map((path) => {
      const column = /^\$\['([^']+)'\]$/.exec(path);
      if (column) return document[column[1]!];
      const identity = /^\$\['_ingest'\]\[(\d+)\]$/.exec(path)!;
      return (document._ingest as unknown[])[Number(identity[1])];
    });
    return { values: values.slice(0, columns.length), identity: values.slice(columns.length) };
  });
}

/** What a record should load as: its columns (CSV: as text, nested values as JSON) and identity without the file. */
function expectedRow(input: Input, format: 'jsonl' | 'csv', ordinal = 0): { values: unknown[]; identity: unknown[] } {
  const identity: StagedIdentity = recordIdentity(input.meta, { ordinal });
  const values = ['id', 'name', 'note'].map((column) => input.record[column] ?? null);
  const asText = (value: unknown) => (value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));
  const idValues = [identity.source, identity.partition, identity.position, identity.subPosition, identity.arrival];
  return format === 'csv' ? { values: values.map(asText), identity: idValues.map(asText) } : { values, identity: idValues };
}

/** Registered rows without the file id, and the file ids checked: each file's rows carry its first row's id. */
async function registeredRows(store: MemoryObjectStore, ledger: Ledger, format: 'jsonl' | 'csv') {
  const rows: { values: unknown[]; identity: unknown[] }[] = [];
  for (const file of await registeredFiles(ledger)) {
    const fileRows = readRows(store, file.key, format);
    expect(file.records).toBe(fileRows.length);
    expect(file.bytes).toBe(store.object(BUCKET, file.key)!.body.length);
    const first = fileRows[0]!.identity;
    for (const row of fileRows) {
      expect(row.identity[5]).toBe(`${first[2]}${first[3]}`);
      rows.push({ values: row.values, identity: row.identity.slice(0, 5) });
    }
  }
  return rows;
}

function outcomes(tickets: TestTicket[][]): string[] {
  return tickets.flat().map((ticket) => ticket.settlements.map((settlement) => settlement.outcome).join(','));
}

// Tests

describe('the warehouse sink writer', () => {
  const matrix = (['kinesis', 'dynamodb', 's3'] as const).flatMap((source) =>
    (['redshift', 'postgres'] as const).flatMap((type) =>
      (['append', 'upsert'] as const).flatMap((mode) => (['jsonl', 'csv'] as const).map((format) => ({ source, type, mode, format })))));

  it.each(matrix)('stages and registers every $source record once: $type $mode $format', async ({ source, type, mode, format }) => {
    const deliveries = SOURCE_KINDS[source](4);
    const { sink, store, ledger } = createSink(sinkConfig(type, mode, format));

    const { tickets, result } = await runInvocation(sink, deliveries);

    expect(outcomes(tickets).every((outcome) => outcome === 'written')).toBe(true);
    expect(result.failed).toEqual([]);
    const rows = await registeredRows(store, ledger, format);
    expect(rows).toEqual(deliveries.flatMap((delivery) => delivery.inputs.map((input) => expectedRow(input, format))));
    for (const file of await registeredFiles(ledger)) {
      expect(file.key.startsWith(`${PIPELINE}/${SINK_ID}/files/`)).toBe(true);
      expect(file.key.endsWith(`.${format}.gz`)).toBe(true);
    }
  });

  it.each(['kinesis', 'dynamodb'] as const)('stages the %s records of one invocation in one file', async (source) => {
    const { sink, ledger } = createSink(sinkConfig('redshift', 'append'));

    await runInvocation(sink, SOURCE_KINDS[source](10));

    expect((await registeredFiles(ledger)).map((file) => file.records)).toEqual([10]);
  });

  it('gives each S3 object files of its own', async () => {
    const { sink, ledger } = createSink(sinkConfig('redshift', 'append'));

    await runInvocation(sink, objectDeliveries(3, 2));

    expect((await registeredFiles(ledger)).map((file) => file.records)).toEqual([2, 2, 2]);
  });

  it('registers an S3 object delivered twice in one invocation once per delivery, under one key', async () => {
    const [object] = objectDeliveries(1);
    const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append'));

    // Decoded again for the second delivery: records of its own, with metas of their own.
    const again: Delivery = { item: { index: 1, staged: true }, inputs: object!.inputs.map((input) => ({ record: input.record, meta: { ...input.meta } })) };

    await runInvocation(sink, [object!, again]);

    const files = await registeredFiles(ledger);
    expect(files).toHaveLength(2);
    expect(files[0]!.key).toBe(files[1]!.key);
    expect([...store.objects.keys()].filter((key) => key.includes('/files/'))).toHaveLength(1);
  });

  it('numbers the records the sink receives from one input record, in arrival order', async () => {
    const meta = kinesisMeta(0);
    const deliveries: Delivery[] = [{
      item: { index: 0, staged: false },
      inputs: [{ record: order(1), meta }, { record: order(2), meta }, { record: order(3), meta }, { record: order(4), meta: kinesisMeta(1) }],
    }];
    const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append'));

    await runInvocation(sink, deliveries);

    const rows = await registeredRows(store, ledger, 'jsonl');
    expect(rows.map((row) => String(row.identity[3]).slice(-9))).toEqual(['000000000', '000000001', '000000002', '000000000']);
    expect(new Set(rows.map((row) => `${row.identity[2]}${row.identity[3]}`)).size).toBe(4);
  });

  it('fails a record whose identity cannot be computed, for good, and stages nothing of it', async () => {
    const bad: KinesisMeta = { ...kinesisMeta(1), sequence: 'not-a-number', position: 'shardId-000000000001/not-a-number' };
    const deliveries: Delivery[] = [{ item: { index: 0, staged: false }, inputs: [{ record: order(0), meta: kinesisMeta(0) }, { record: order(1), meta: bad }] }];
    const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append'));

    const { tickets } = await runInvocation(sink, deliveries);

    const failed = tickets[0]![1]!.settlements[0];
    expect(failed).toMatchObject({ outcome: 'failed', failure: { code: 'sink-rejected', retryable: false } });
    expect(tickets[0]![1]!.settlements).toHaveLength(1);
    expect((await registeredRows(store, ledger, 'jsonl')).map((row) => row.values[0])).toEqual([0]);
  });

  it('fails a record whose value has no JSON text, for good, before add returns', async () => {
    const deliveries: Delivery[] = [{ item: { index: 0, staged: false }, inputs: [{ record: { id: 1n }, meta: kinesisMeta(0) }] }];
    const { sink, ledger } = createSink(sinkConfig('redshift', 'append'));

    const { tickets } = await runInvocation(sink, deliveries);

    expect(tickets[0]![0]!.settlements).toEqual([{ outcome: 'failed', failure: expect.objectContaining({ code: 'sink-rejected', retryable: false }) }]);
    expect(await registeredFiles(ledger)).toEqual([]);
  });

  describe('registers only what will not be delivered again', () => {
    it.each(['kinesis', 'dynamodb'] as const)('rewrites a %s file straddling the checkpoint with its settled part, under a new name', async (source) => {
      const deliveries = SOURCE_KINDS[source](6);
      const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append'));

      const { result } = await runInvocation(sink, deliveries, { redelivered: [4, 5] });

      const files = await registeredFiles(ledger);
      expect(files).toHaveLength(1);
      expect((await registeredRows(store, ledger, 'jsonl')).map((row) => row.values[0])).toEqual([0, 1, 2, 3]);
      const staged = [...store.objects.keys()].filter((key) => key.includes('/files/'));
      expect(staged).toHaveLength(2);
      expect(staged).toContain(`${BUCKET}/${files[0]!.key}`);
      expect(result.failed).toEqual([]);
    });

    // Every checkpoint of a 6-item stream batch (items fanning out to 1-3 records) under every
    // file size: the registered rows are exactly the records before the checkpoint, once each,
    // and each registered file's rows carry the id of that file's own first row.
    const fanOut = [1, 3, 2, 1, 2, 3];
    const checkpoints = (['kinesis', 'dynamodb'] as const).flatMap((source) =>
      [1, 2, 3, 5, 14].flatMap((maxRecords) => Array.from({ length: fanOut.length + 1 }, (_, checkpoint) => ({ source, maxRecords, checkpoint }))));

    it.each(checkpoints)('registers exactly the $source records before checkpoint $checkpoint with files of $maxRecords rows', async ({ source, maxRecords, checkpoint }) => {
      const deliveries = streamDeliveries(source, fanOut.length).map((delivery, index) => ({
        ...delivery,
        inputs: Array.from({ length: fanOut[index]! }, (_, copy) => ({ record: order(index * 10 + copy), meta: delivery.inputs[0]!.meta })),
      }));
      const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_records: maxRecords }));
      const redelivered = Array.from({ length: fanOut.length - checkpoint }, (_, offset) => checkpoint + offset);

      const { result } = await runInvocation(sink, deliveries, { redelivered });

      const rows = await registeredRows(store, ledger, 'jsonl');
      const expected = deliveries.slice(0, checkpoint).flatMap((delivery) => delivery.inputs.map((input, ordinal) => expectedRow(input, 'jsonl', ordinal)));
      expect(rows).toEqual(expected);
      expect(result.failed).toEqual([]);
    });

    it('registers the file of a happy invocation as written, without a rewrite', async () => {
      const { sink, store } = createSink(sinkConfig('redshift', 'append'));

      await runInvocation(sink, SOURCE_KINDS.kinesis(6));

      expect([...store.objects.keys()].filter((key) => key.includes('/files/'))).toHaveLength(1);
    });

    it.each(Object.keys(SOURCE_KINDS) as (keyof typeof SOURCE_KINDS)[])('registers nothing of %s items that all come again', async (source) => {
      const deliveries = SOURCE_KINDS[source](3);
      const { sink, ledger } = createSink(sinkConfig('redshift', 'append'));

      await runInvocation(sink, deliveries, { redelivered: [0, 1, 2] });

      expect(await registeredFiles(ledger)).toEqual([]);
    });

    // Every subset of four SQS-delivered objects failing, under files of 1, 2 or 3 rows.
    const subsets = [1, 2, 3].flatMap((maxRecords) => Array.from({ length: 16 }, (_, mask) => ({
      maxRecords,
      failed: [0, 1, 2, 3].filter((object) => (mask >> object) & 1),
    })));

    it.each(subsets)('registers exactly the objects not in $failed with files of $maxRecords rows', async ({ maxRecords, failed }) => {
      const deliveries = objectDeliveries(4);
      const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_records: maxRecords }));

      await runInvocation(sink, deliveries, { redelivered: failed });

      const expected = deliveries.filter((delivery) => !failed.includes(delivery.item.index)).flatMap((delivery) => delivery.inputs.map((input) => expectedRow(input, 'jsonl')));
      expect(await registeredRows(store, ledger, 'jsonl')).toEqual(expected);
    });

    it('registers the S3 objects that do not come again and none of those that do', async () => {
      const deliveries = objectDeliveries(3);
      const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append'));

      await runInvocation(sink, deliveries, { redelivered: [1] });

      expect((await registeredRows(store, ledger, 'jsonl')).map((row) => row.values[0])).toEqual([0, 1, 2, 200, 201, 202]);
    });
  });

  describe('when a registration fails', () => {
    /** A memory ledger whose `register` rejects on the given calls (1-based). */
    class FailingLedger extends MemoryLedger {
      calls = 0;
      constructor(private readonly failing: number[]) {
        super();
      }

      override async register(scope: string, file: StagedFile, now: number): Promise<Registration> {
        this.calls++;
        if (this.failing.includes(this.calls)) throw Object.assign(new Error('ProvisionedThroughputExceededException'), { name: 'ProvisionedThroughputExceededException' });
        return super.register(scope, file, now);
      }
    }

    it.each(['kinesis', 'dynamodb'] as const)('fails the %s items of that file and of every later file, and registers none of them', async (source) => {
      const ledger = new FailingLedger([2]);
      const { sink, store } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_records: 2 }), { ledger });

      const { result } = await runInvocation(sink, SOURCE_KINDS[source](6));

      expect(result.failed.map((failure) => failure.item.index)).toEqual([2, 3, 4, 5]);
      expect(result.failed[0]!.reason).toMatch(/could not register/);
      expect(ledger.calls).toBe(2);
      expect((await registeredRows(store, ledger, 'jsonl')).map((row) => row.values[0])).toEqual([0, 1]);
    });

    // A stream batch of six items staged in files of two rows: the registration of each file fails in turn.
    it.each([1, 2, 3].flatMap((failing) => (['kinesis', 'dynamodb'] as const).map((source) => ({ source, failing }))))(
      'fails every $source item from file $failing on, and registers only the files before it',
      async ({ source, failing }) => {
        const ledger = new FailingLedger([failing]);
        const { sink, store } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_records: 2 }), { ledger });

        const { result } = await runInvocation(sink, SOURCE_KINDS[source](6));

        const firstFailed = (failing - 1) * 2;
        expect(result.failed.map((failure) => failure.item.index)).toEqual([0, 1, 2, 3, 4, 5].slice(firstFailed));
        expect((await registeredRows(store, ledger, 'jsonl')).map((row) => row.values[0])).toEqual([0, 1, 2, 3, 4, 5].slice(0, firstFailed));
      },
    );

    it('fails only the S3 object whose file failed, and registers the others', async () => {
      const ledger = new FailingLedger([2]);
      const { sink, store } = createSink(sinkConfig('redshift', 'append'), { ledger });

      const { result } = await runInvocation(sink, objectDeliveries(3));

      expect(result.failed.map((failure) => failure.item.index)).toEqual([1]);
      expect((await registeredRows(store, ledger, 'jsonl')).map((row) => row.values[0])).toEqual([0, 1, 2, 200, 201, 202]);
    });
  });

  it('leaves no object and no registration for an aborted S3 object, even one that filled files', async () => {
    const [kept, aborted] = objectDeliveries(2, 5);
    const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_records: 2 }));

    const { tickets, result } = await runInvocation(sink, [kept!, { ...aborted!, abort: true }]);

    expect(store.staged.size).toBe(0);
    const keys = [...store.objects.keys()];
    expect(keys).toHaveLength(3);
    expect((await registeredRows(store, ledger, 'jsonl')).map((row) => row.values[0])).toEqual([0, 1, 2, 3, 4]);
    // An S3 object's tickets settle as their rows are encoded: the pipeline discards an aborted item's outcomes.
    expect(outcomes([tickets[1]!]).every((outcome) => outcome === 'written')).toBe(true);
    expect(result.failed).toEqual([]);
  });

  it('fails an S3 object never committed, for retry, and registers none of it', async () => {
    const { sink, ledger } = createSink(sinkConfig('redshift', 'append'));
    const faults: FaultStep[] = [];
    const writer = sink.open({ state: new Map(), now: new Date(ARRIVAL), requestId: 'r', deadline: Date.now() + 60_000, fault: (step) => void faults.push(step) });
    const ticket = makeTicket();
    const item = { index: 0, staged: true };

    await writer.add({ record: order(0), meta: s3Meta(0, 1), ticket, item });
    await writer.close();
    const result = await writer.settle!({ redelivered: () => false });

    expect(ticket.settlements).toEqual([{ outcome: 'written' }]);
    expect(result.failed).toEqual([{ item, reason: expect.stringMatching(/closed before its batch item was committed/) }]);
    expect(await registeredFiles(ledger)).toEqual([]);
  });

  it('fails the tickets of a file the store refuses, for retry with the store\'s reason, and registers nothing', async () => {
    class ThrottledStore extends MemoryObjectStore {
      override async put(_bucket: string, _key: string, _body: Uint8Array, _options: PutOptions): Promise<void> {
        throw Object.assign(new Error('slow down'), { name: 'SlowDown' });
      }
    }
    const store = new ThrottledStore();
    const { sink, ledger } = createSink(sinkConfig('redshift', 'append'), { objects: store });

    const { tickets } = await runInvocation(sink, SOURCE_KINDS.kinesis(2), { redelivered: [0, 1] });

    for (const ticket of tickets.flat()) {
      expect(ticket.settlements).toEqual([{ outcome: 'failed', failure: expect.objectContaining({ code: 'sink-error', retryable: true, message: expect.stringContaining('SlowDown') }) }]);
    }
    expect(await registeredFiles(ledger)).toEqual([]);
  });

  it.each([{ commit: true }, { commit: false }])('settles each ticket of an S3 object once, and fails the object, when uploading its full file fails (committed: $commit)', async ({ commit }) => {
    class RefusingStore extends MemoryObjectStore {
      override async stage(): Promise<never> {
        throw Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' });
      }
    }
    const { sink, ledger } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_records: 2 }), { objects: new RefusingStore() });
    const writer = sink.open({ state: new Map(), now: new Date(ARRIVAL), requestId: 'r', deadline: Date.now() + 60_000 });
    const item = { index: 0, staged: true };
    const tickets = [1, 2, 3].map(() => makeTicket());

    for (const [line, ticket] of tickets.entries()) await writer.add({ record: order(line), meta: s3Meta(0, line + 1), ticket, item });
    if (commit) writer.commit(item);
    await writer.close();
    const result = await writer.settle!({ redelivered: () => false });

    // Settled as encoded; the file that could not be staged fails the whole object for retry, and nothing of it is registered.
    expect(tickets.map((ticket) => ticket.settlements)).toEqual([[{ outcome: 'written' }], [{ outcome: 'written' }], [{ outcome: 'written' }]]);
    expect(result.failed).toEqual([{ item, reason: expect.stringMatching(/could not be staged: ServiceUnavailable/) }]);
    expect(await registeredFiles(ledger)).toEqual([]);
  });

  it.each(Object.keys(SOURCE_KINDS) as (keyof typeof SOURCE_KINDS)[])('stages the same %s input under the same keys with the same bytes', async (source) => {
    const store = new MemoryObjectStore();
    const first = createSink(sinkConfig('redshift', 'upsert'), { objects: store });
    await runInvocation(first.sink, SOURCE_KINDS[source](5));
    const snapshot = new Map([...store.objects].map(([key, object]) => [key, Buffer.from(object.body).toString('base64')]));

    const second = createSink(sinkConfig('redshift', 'upsert'), { objects: store });
    await runInvocation(second.sink, SOURCE_KINDS[source](5));

    expect(new Map([...store.objects].map(([key, object]) => [key, Buffer.from(object.body).toString('base64')]))).toEqual(snapshot);
    expect((await registeredFiles(second.ledger)).map((file) => file.key)).toEqual((await registeredFiles(first.ledger)).map((file) => file.key));
  });

  describe('thresholds', () => {
    it('seals the open batch when a registration reaches max_files', async () => {
      const { sink, ledger } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_files: 2 }));

      const { faults, result } = await runInvocation(sink, objectDeliveries(3));

      const batches = await ledger.batches(SCOPE);
      expect(batches.map((batch) => [batch.batch, batch.state, batch.totals.files])).toEqual([[1, 'sealed', 2]]);
      expect(result.sealed).toEqual([1]);
      expect((await ledger.openBatch(SCOPE)).totals.files).toBe(1);
      expect(faults).toEqual(['staged', 'registered', 'registered', 'sealed', 'registered']);
    });

    it('seals the open batch when a registration reaches max_records', async () => {
      const { sink, ledger } = createSink(sinkConfig('redshift', 'append', 'jsonl', { max_records: 3 }));

      const { result } = await runInvocation(sink, SOURCE_KINDS.kinesis(7));

      const batches = await ledger.batches(SCOPE);
      expect(batches.map((batch) => batch.totals.records)).toEqual([3, 3]);
      expect(result.sealed).toEqual([1, 2]);
      expect((await ledger.openBatch(SCOPE)).totals.records).toBe(1);
    });

    it('counts the rows\' uncompressed size toward max_bytes, and the stored size for the manifest', async () => {
      const { sink, ledger, store } = createSink(sinkConfig('redshift', 'append'));

      await runInvocation(sink, SOURCE_KINDS.kinesis(50));

      const open = await ledger.openBatch(SCOPE);
      const [key] = [...store.objects.keys()].map((id) => id.slice(BUCKET.length + 1));
      const stored = store.object(BUCKET, key!)!.body;
      expect(open.totals.files).toBe(1);
      expect(open.totals.bytes).toBe(gunzipSync(stored).byteLength);
      expect(open.totals.bytes).toBeGreaterThan(stored.byteLength);
    });

    it('leaves a batch below every threshold open', async () => {
      const { sink, ledger } = createSink(sinkConfig('redshift', 'append'));

      const { faults, result } = await runInvocation(sink, objectDeliveries(3));

      expect(await ledger.batches(SCOPE)).toEqual([]);
      expect(result.sealed).toEqual([]);
      expect(faults).not.toContain('sealed');
    });
  });

  it('lets an injected crash after registration escape settle, with the file registered', async () => {
    const { sink, ledger } = createSink(sinkConfig('redshift', 'append'));

    await expect(runInvocation(sink, objectDeliveries(2), { crashAfter: 'registered' })).rejects.toBeInstanceOf(InjectedCrash);

    expect((await ledger.openBatch(SCOPE)).totals.files).toBe(1);
  });

  it('lets an injected crash after staging escape close, with nothing registered', async () => {
    const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append'));

    await expect(runInvocation(sink, SOURCE_KINDS.kinesis(2), { crashAfter: 'staged' })).rejects.toBeInstanceOf(InjectedCrash);

    expect(store.objects.size).toBe(1);
    expect((await ledger.openBatch(SCOPE)).totals.files).toBe(0);
  });

  it('spends two ledger requests per staged file on the happy path', async () => {
    const ledger = new MemoryLedger();
    const { sink } = createSink(sinkConfig('redshift', 'append'), { ledger });

    await runInvocation(sink, objectDeliveries(5));

    expect(ledger.requests).toBe(10);
  });
});

describe('the warehouse sink plugins', () => {
  it.each(['jsonl', 'csv'] as const)('load through maintain exactly the %s files their writers registered', async (format) => {
    const warehouse = new MemoryWarehouse({
      answer: (submission) => {
        const results: (ResultSet | undefined)[] = submission.sqls.map(() => undefined);
        results[submission.sqls.length - 1] = { columns: ['rows_staged', 'rows_written'], rows: [[6, 6]] };
        return { status: 'FINISHED', results };
      },
    });
    const { sink, store, ledger } = createSink(sinkConfig('redshift', 'append', format), { warehouse: () => warehouse });
    await runInvocation(sink, objectDeliveries(2));
    const registered = (await ledger.openBatch(SCOPE)).totals.files;

    const report = await sink.maintain!({
      reason: 'flush',
      invocation: { state: new Map(), now: new Date(ARRIVAL), requestId: 'sweep', deadline: Date.now() + 30_000 },
      logger: { log: () => {} },
      deadLetter: async () => {},
      notify: async () => {},
    });

    expect(registered).toBe(2);
    expect(report.sealed).toEqual([1]);
    expect(report.loaded.map((load) => [load.batch, load.rows])).toEqual([[1, 6]]);
    const manifest = JSON.parse(Buffer.from(store.object(BUCKET, `${PIPELINE}/${SINK_ID}/manifests/0000000001.json`)!.body).toString('utf8')) as { entries: { url: string; meta: { content_length: number } }[] };
    const files = (await ledger.files(SCOPE, 1)).files;
    expect(manifest.entries.map((entry) => [entry.url, entry.meta.content_length])).toEqual(files.map((file) => [`s3://${BUCKET}/${file.key}`, file.bytes]));
    expect(warehouse.submissions.filter((submission) => submission.transaction)).toHaveLength(1);
  });

  it.each(['redshift', 'postgres'] as const)('refuse to build a %s sink without the ledger, saying what is missing', (type) => {
    const plugin = type === 'redshift' ? redshiftSink : postgresSink;

    expect(() => plugin.create(SINK_ID, sinkConfig(type, 'append') as never, { objects: new MemoryObjectStore(), warehouse: () => new MemoryWarehouse() }, { pipeline: PIPELINE })).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringMatching(/^sink warehouse: .*needs the ledger.*INGEST_LEDGER_TABLE/) }));
  });

  it.each(['redshift', 'postgres'] as const)('refuse to build a %s sink without a warehouse connection', (type) => {
    const plugin = type === 'redshift' ? redshiftSink : postgresSink;

    expect(() => plugin.create(SINK_ID, sinkConfig(type, 'append') as never, { objects: new MemoryObjectStore(), ledger: new MemoryLedger() }, { pipeline: PIPELINE })).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringMatching(/needs a connection to its warehouse/) }));
  });

  it.each([
    { parallelization: 1, partitions: ['orders/shardId-000000000001'] },
    { parallelization: 2, partitions: ['orders/shardId-000000000001/pk-0', 'orders/shardId-000000000001/pk-1', 'orders/shardId-000000000001/pk-2'] },
  ])('stage Kinesis records of a source with parallelization $parallelization in partitions $partitions', async ({ parallelization, partitions }) => {
    const store = new MemoryObjectStore();
    const ledger = new MemoryLedger();
    const source = { type: 'kinesis', stream: 'orders', parallelization } as unknown as SourceConfig;
    const sink = redshiftSink.create(SINK_ID, sinkConfig('redshift', 'append') as never, { objects: store, ledger, warehouse: () => new MemoryWarehouse() }, { pipeline: PIPELINE, sources: { orders: source } });

    await runInvocation(sink, SOURCE_KINDS.kinesis(6));

    const rows = await registeredRows(store, ledger, 'jsonl');
    expect([...new Set(rows.map((row) => row.identity[1]))].sort()).toEqual(partitions);
    expect(await registeredFiles(ledger)).toHaveLength(1);
  });

  it('stages under the configured prefix when one is given', async () => {
    const config = { ...sinkConfig('redshift', 'append'), staging: { bucket: BUCKET, prefix: 'custom/place/', format: 'jsonl' as const } };
    const { sink, ledger } = createSink(config);

    await runInvocation(sink, SOURCE_KINDS.kinesis(1));

    expect((await registeredFiles(ledger))[0]!.key).toMatch(/^custom\/place\/files\/orders-.*\.jsonl\.gz$/);
  });
});
