import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedshiftDataWarehouse } from '../../engine/ports/redshift-data-warehouse.ts';
import { query, waitForStatement } from '../../engine/ports/warehouse.ts';
import type { ResultSet } from '../../engine/ports/warehouse.ts';
import { stagedPosition, stagedSubPosition } from '../../engine/staging/record-identity.ts';
import { IDENTITY_FIELD, jsonPathsDocument, redshiftLoadTransaction, stateTableStatements } from '../../engine/sinks/sql/load-transaction.ts';
import type { LoadPlan } from '../../engine/sinks/sql/load-transaction.ts';
import type { CopyOptions } from '../../engine/spec/spec-types.ts';
import { awsClientConfig, pgConnectionString } from '../support/env.ts';
import { RedshiftDataApiEmulator } from '../support/redshift-data-api.ts';
import { createScratchDatabase } from '../support/scratch-database.ts';
import type { ScratchDatabase } from '../support/scratch-database.ts';

// The load transaction of docs/decisions/0031 run by the production Data API adapter against the
// emulator: duplicates inside a batch, across batches and from re-running a batch change nothing.

/** A staged record: table columns, and its identity [source, partition, position, sub-position, arrival]. */
interface Staged {
  row: Record<string, unknown>;
  partition: string;
  position: number;
  sub?: number;
  arrival?: string;
}

describe('load transaction through the Data API', () => {
  const s3 = new S3Client(awsClientConfig());
  const bucket = `ingest-load-${randomUUID().slice(0, 8)}`;
  const database = `load_${randomUUID().slice(0, 8)}`;
  let scratch: ScratchDatabase;
  let direct: pg.Client;
  let emulator: RedshiftDataApiEmulator;
  let client: RedshiftDataClient;
  let warehouse: RedshiftDataWarehouse;
  const soon = () => ({ deadline: Date.now() + 15_000, initialDelayMs: 20, maxDelayMs: 200 });
  const columns = ['event_id', 'user_id', 'amount'];
  let jsonPathsUrl: string;

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    scratch = await createScratchDatabase(pgConnectionString(), database);
    const url = scratch.url;
    direct = new pg.Client({ connectionString: url });
    await direct.connect();
    await direct.query('CREATE SCHEMA analytics');
    emulator = await RedshiftDataApiEmulator.start({ connectionString: pgConnectionString(), s3 });
    const { region, credentials } = awsClientConfig();
    client = new RedshiftDataClient({ region, credentials, endpoint: emulator.url });
    warehouse = new RedshiftDataWarehouse(client, { workgroup: 'analytics', database });
    for (const statement of stateTableStatements('redshift', 'analytics')) await query(warehouse, statement, undefined, soon());
    jsonPathsUrl = await put('jsonpaths/purchases.json', JSON.stringify(jsonPathsDocument(columns)));
  });

  afterAll(async () => {
    client?.destroy();
    await emulator?.stop();
    await direct?.end();
    await scratch?.drop();
    s3.destroy();
  });

  async function put(key: string, body: string | Buffer): Promise<string> {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    return `s3://${bucket}/${key}`;
  }

  /** Stages files (lists of records) for a batch and writes its manifest; returns the manifest URL. */
  async function stageBatch(name: string, files: Staged[][]): Promise<string> {
    const entries = [];
    for (const [index, records] of files.entries()) {
      // A file is known by its first record's position, as the staging writer names it.
      const file = stagedPosition(records[0]!.position) + stagedSubPosition(records[0]!.sub ?? 0, 0, 0);
      const body = gzipSync(records.map((record) => JSON.stringify({
        ...record.row,
        [IDENTITY_FIELD]: ['orders', record.partition, stagedPosition(record.position), stagedSubPosition(record.sub ?? 0, 0, 0), record.arrival ?? '2026-12-03 08:00:00', file],
      }) + '\n').join(''));
      const url = await put(`${name}/file-${index}.jsonl.gz`, body);
      entries.push({ url, mandatory: true, meta: { content_length: body.byteLength } });
    }
    return put(`${name}/manifest.json`, JSON.stringify({ entries }));
  }

  async function load(plan: LoadPlan, manifestUrl: string, copy: CopyOptions = {}): Promise<{ staged: number; written: number; errors?: ResultSet }> {
    const transaction = redshiftLoadTransaction(plan, { manifestUrl, format: 'jsonl', jsonPathsUrl, iamRole: 'arn:aws:iam::123456789012:role/RedshiftCopy', copy });
    const id = await warehouse.executeTransaction(transaction.statements);
    const description = await waitForStatement(warehouse, id, soon());
    if (description?.status !== 'FINISHED') throw new Error(`load failed: ${description?.error}`);
    const counts = await warehouse.results(description.statements[transaction.countsStatement]!.id);
    const errors = transaction.errorsStatement === undefined ? undefined : await warehouse.results(description.statements[transaction.errorsStatement]!.id);
    return { staged: Number(counts.rows[0]![0]), written: Number(counts.rows[0]![1]), ...(errors ? { errors } : {}) };
  }

  function plan(table: string, batch: number, mode: 'append' | 'upsert' = 'append'): LoadPlan {
    return {
      dialect: 'redshift', scope: `shop/${table}`, batch, table: `analytics.${table}`, columns, mode, stateSchema: 'analytics',
      sealedAt: 1_764_748_800_000, loadedAt: new Date('2026-12-03T08:05:00Z'), ...(mode === 'upsert' ? { keys: ['event_id'] } : {}),
    };
  }

  async function rows(table: string): Promise<unknown[][]> {
    return (await direct.query({ text: `SELECT event_id, user_id, amount FROM analytics.${table} ORDER BY event_id, amount`, rowMode: 'array' })).rows;
  }

  it('appends each record once when a file is registered twice and the batch is loaded twice', async () => {
    await direct.query('CREATE TABLE analytics.appended (event_id varchar(20), user_id int, amount int)');
    const file = [{ row: { event_id: 'e1', user_id: 1, amount: 10 }, partition: 'shard-0', position: 1 }, { row: { event_id: 'e2', user_id: 2, amount: 20 }, partition: 'shard-0', position: 2 }];
    const manifest = await stageBatch('appended-1', [file, file]);

    const first = await load(plan('appended', 1), manifest);
    const again = await load(plan('appended', 1), manifest);

    expect(first).toEqual({ staged: 4, written: 2 });
    expect(again).toEqual({ staged: 4, written: 0 });
    expect(await rows('appended')).toEqual([['e1', 1, 10], ['e2', 2, 20]]);
  });

  it('loads the batch 1 of a ledger made anew (a stack deployed again), which is not the batch 1 loaded before', async () => {
    await direct.query('CREATE TABLE analytics.renumbered (event_id varchar(20), user_id int, amount int)');
    const before = await stageBatch('renumbered-old', [[{ row: { event_id: 'old', user_id: 1, amount: 1 }, partition: 'shard-0', position: 1 }]]);
    const after = await stageBatch('renumbered-new', [[{ row: { event_id: 'new', user_id: 2, amount: 2 }, partition: 'shard-1', position: 1 }]]);

    await load(plan('renumbered', 1), before);
    const again = await load(plan('renumbered', 1), before);
    const anew = await load({ ...plan('renumbered', 1), sealedAt: 1_764_900_000_000 }, after);

    expect(again).toEqual({ staged: 1, written: 0 });
    expect(anew).toEqual({ staged: 1, written: 1 });
    expect((await rows('renumbered')).map((row) => row[0])).toEqual(['new', 'old']);
  });

  it('skips records a later batch holds again after a redelivery, and loads the new ones', async () => {
    await direct.query('CREATE TABLE analytics.redelivered (event_id varchar(20), user_id int, amount int)');
    const first = await stageBatch('redelivered-1', [[1, 2, 3].map((position) => ({ row: { event_id: `e${position}`, user_id: position, amount: position }, partition: 'shard-0', position }))]);
    // Lambda redelivers from the checkpoint at 2: records 2 and 3 again, then 4; KPL sub-records of 4 too.
    const second = await stageBatch('redelivered-2', [[
      { row: { event_id: 'e2', user_id: 2, amount: 2 }, partition: 'shard-0', position: 2 },
      { row: { event_id: 'e3', user_id: 3, amount: 3 }, partition: 'shard-0', position: 3 },
      { row: { event_id: 'e4a', user_id: 4, amount: 4 }, partition: 'shard-0', position: 4, sub: 0 },
      { row: { event_id: 'e4b', user_id: 4, amount: 5 }, partition: 'shard-0', position: 4, sub: 1 },
      { row: { event_id: 'other-shard', user_id: 9, amount: 2 }, partition: 'shard-1', position: 2 },
    ]]);

    await load(plan('redelivered', 1), first);
    const result = await load(plan('redelivered', 2), second);

    expect(result).toEqual({ staged: 5, written: 3 });
    expect((await rows('redelivered')).map((row) => row[0])).toEqual(['e1', 'e2', 'e3', 'e4a', 'e4b', 'other-shard']);
  });

  it('loads an earlier batch after a later one without losing the records between them', async () => {
    await direct.query('CREATE TABLE analytics.out_of_order (event_id varchar(20), user_id int, amount int)');
    const early = await stageBatch('out-of-order-1', [[1, 2].map((position) => ({ row: { event_id: `e${position}`, user_id: position, amount: position }, partition: 'shard-0', position }))]);
    const late = await stageBatch('out-of-order-2', [[3, 4].map((position) => ({ row: { event_id: `e${position}`, user_id: position, amount: position }, partition: 'shard-0', position }))]);

    await load(plan('out_of_order', 2), late);
    await load(plan('out_of_order', 1), early);

    expect((await rows('out_of_order')).map((row) => row[0])).toEqual(['e1', 'e2', 'e3', 'e4']);
  });

  it('loses nothing when duplicate deliveries processed at once interleave their files across batches', async () => {
    await direct.query('CREATE TABLE analytics.interleaved (event_id varchar(20), user_id int, amount int)');
    const record = (position: number): Staged => ({ row: { event_id: `line${position}`, user_id: position, amount: position }, partition: 'raw/object.jsonl@etag', position });
    // Two invocations read the same object (a duplicate S3 event) in files of two lines each.
    // Batch 2 holds the first file of one and the third of the other; the lines between are in batch 1.
    const batch1 = await stageBatch('interleaved-1', [[record(3), record(4)]]);
    const batch2 = await stageBatch('interleaved-2', [[record(1), record(2)], [record(5), record(6)]]);

    await load(plan('interleaved', 2), batch2);
    await load(plan('interleaved', 1), batch1);

    expect((await rows('interleaved')).map((row) => row[0])).toEqual(['line1', 'line2', 'line3', 'line4', 'line5', 'line6']);
  });

  it('upserts on keys: the newest version in a batch wins, and a later batch updates the row', async () => {
    await direct.query('CREATE TABLE analytics.upserted (event_id varchar(20), user_id int, amount int)');
    await direct.query("INSERT INTO analytics.upserted VALUES ('e9', 9, 90)");
    const first = await stageBatch('upserted-1', [[
      { row: { event_id: 'e1', user_id: 1, amount: 10 }, partition: 'shard-0', position: 1 },
      { row: { event_id: 'e1', user_id: 1, amount: 11 }, partition: 'shard-0', position: 2 },
      { row: { event_id: 'e9', user_id: 9, amount: 91 }, partition: 'shard-0', position: 3 },
    ]]);
    const second = await stageBatch('upserted-2', [[{ row: { event_id: 'e1', user_id: 1, amount: 12 }, partition: 'shard-0', position: 4 }]]);

    await load(plan('upserted', 1, 'upsert'), first);
    await load(plan('upserted', 1, 'upsert'), first);
    await load(plan('upserted', 2, 'upsert'), second);

    expect(await rows('upserted')).toEqual([['e1', 1, 12], ['e9', 9, 91]]);
  });

  it('with max_error, writes the good rows and returns the rejected one with its file and line', async () => {
    await direct.query('CREATE TABLE analytics.quarantined (event_id varchar(20), user_id int, amount int)');
    const manifest = await stageBatch('quarantined-1', [[
      { row: { event_id: 'good', user_id: 1, amount: 1 }, partition: 'shard-0', position: 1 },
      { row: { event_id: 'bad', user_id: 'not a number', amount: 2 }, partition: 'shard-0', position: 2 },
    ]]);

    const result = await load(plan('quarantined', 1), manifest, { max_error: 10 });

    expect(result).toMatchObject({ staged: 1, written: 1 });
    expect(result.errors?.columns).toEqual(['file_name', 'line_number', 'column_name', 'error_code', 'error_message']);
    expect(result.errors?.rows).toEqual([[`s3://${bucket}/quarantined-1/file-0.jsonl.gz`, 2, 'user_id', 1207, expect.any(String)]]);
    expect(await rows('quarantined')).toEqual([['good', 1, 1]]);
  });
});
