import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CancelStatementCommand, ExecuteStatementCommand, RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedshiftDataWarehouse } from '../../engine/ports/redshift-data-warehouse.ts';
import { query, waitForStatement } from '../../engine/ports/warehouse.ts';
import type { StatementDescription } from '../../engine/ports/warehouse.ts';
import { awsClientConfig, pgConnectionString } from '../support/env.ts';
import { RedshiftDataApiEmulator } from '../support/redshift-data-api.ts';
import { createScratchDatabase } from '../support/scratch-database.ts';
import type { ScratchDatabase } from '../support/scratch-database.ts';

// The production Data API adapter, unchanged, against the emulator in test/support: what it
// submits runs in the test run's PostgreSQL, and COPY reads staged files from moto S3.

const ROLE = "IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy'";

describe('Redshift Data API emulator', () => {
  const s3 = new S3Client(awsClientConfig());
  const bucket = `ingest-staging-${randomUUID().slice(0, 8)}`;
  const database = `dev_${randomUUID().slice(0, 8)}`;
  let scratch: ScratchDatabase;
  let direct: pg.Client;
  let emulator: RedshiftDataApiEmulator;
  let client: RedshiftDataClient;
  let warehouse: RedshiftDataWarehouse;
  const soon = () => ({ deadline: Date.now() + 15_000, initialDelayMs: 20, maxDelayMs: 200 });

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    scratch = await createScratchDatabase(pgConnectionString(), database);
    const url = scratch.url;
    direct = new pg.Client({ connectionString: url });
    await direct.connect();
    emulator = await RedshiftDataApiEmulator.start({ connectionString: pgConnectionString(), s3, pageRows: 2 });
    const { region, credentials } = awsClientConfig();
    client = new RedshiftDataClient({ region, credentials, endpoint: emulator.url });
    warehouse = new RedshiftDataWarehouse(client, { workgroup: 'analytics', database });
  });

  afterAll(async () => {
    client?.destroy();
    await emulator?.stop();
    await direct?.end();
    await scratch?.drop();
    s3.destroy();
  });

  async function put(key: string, body: string | Buffer): Promise<number> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    return bytes.byteLength;
  }

  /** Stages gzip JSON-lines files and their manifest; returns the manifest's URL. */
  async function stage(name: string, files: Record<string, unknown>[][]): Promise<string> {
    const entries = [];
    for (const [index, rows] of files.entries()) {
      const key = `${name}/file-${index}.jsonl.gz`;
      const length = await put(key, gzipSync(rows.map((row) => JSON.stringify(row)).join('\n') + '\n'));
      entries.push({ url: `s3://${bucket}/${key}`, mandatory: true, meta: { content_length: length } });
    }
    await put(`${name}/manifest.json`, JSON.stringify({ entries }));
    return `s3://${bucket}/${name}/manifest.json`;
  }

  async function jsonPaths(name: string, paths: string[]): Promise<string> {
    await put(`${name}/jsonpaths.json`, JSON.stringify({ jsonpaths: paths }));
    return `s3://${bucket}/${name}/jsonpaths.json`;
  }

  async function run(sqls: string[]): Promise<StatementDescription> {
    const id = await warehouse.executeTransaction(sqls);
    const description = await waitForStatement(warehouse, id, soon());
    if (description === undefined) throw new Error('statement vanished');
    return description;
  }

  async function count(table: string): Promise<number> {
    return Number((await direct.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  }

  it('runs a statement with parameters and returns its typed rows across result pages', async () => {
    await direct.query('CREATE TABLE people (id int, name varchar(20), active boolean, score float8)');
    await direct.query("INSERT INTO people VALUES (1, 'ada', true, 1.5), (2, NULL, false, 2), (3, 'cy', true, 0), (4, 'di', NULL, NULL), (5, 'ed', true, 3)");

    const result = await query(warehouse, 'SELECT id, name, active, score FROM people WHERE id >= :low ORDER BY id', { low: '2' }, soon());

    expect(result.columns).toEqual(['id', 'name', 'active', 'score']);
    expect(result.rows).toEqual([[2, null, false, 2], [3, 'cy', true, 0], [4, 'di', null, null], [5, 'ed', true, 3]]);
  });

  it('keeps a parameter value out of the SQL text: a value that looks like SQL is only data', async () => {
    await direct.query('CREATE TABLE notes (body text)');

    await query(warehouse, 'INSERT INTO notes VALUES (:body)', { body: "x'); DROP TABLE notes; --" }, soon());

    expect((await direct.query('SELECT body FROM notes')).rows).toEqual([{ body: "x'); DROP TABLE notes; --" }]);
  });

  it('runs a batch as one transaction: a failing statement rolls back the ones before it', async () => {
    const description = await run(['CREATE TABLE batch_rollback (n int)', 'INSERT INTO batch_rollback VALUES (1)', "INSERT INTO batch_rollback VALUES ('not a number')"]);

    expect(description.status).toBe('FAILED');
    expect(description.error).toMatch(/invalid input syntax for type integer/);
    expect(description.statements.map((statement) => statement.status)).toEqual(['FINISHED', 'FINISHED', 'FAILED']);
    expect((await direct.query("SELECT to_regclass('batch_rollback') AS t")).rows[0].t).toBeNull();
  });

  it('COPYs gzip JSON lines from a manifest with jsonpaths, reaching into nested fields', async () => {
    await direct.query('CREATE TABLE clicks (event_id varchar(20), amount int, ts timestamp, source varchar(20), position varchar(40))');
    const manifest = await stage('clicks', [
      [{ event_id: 'e1', amount: 10, ts: '2026-12-03T08:00:00Z', _ingest: ['orders', 'shard-0|05|00001'] }, { event_id: 'e2', amount: 20, ts: '2026-12-03T08:00:01Z', _ingest: ['orders', 'shard-0|05|00002'] }],
      [{ event_id: 'e3', amount: null, ts: '2026-12-03T08:00:02Z', _ingest: ['orders', 'shard-0|05|00003'] }],
    ]);
    const paths = await jsonPaths('clicks', ["$['event_id']", '$.amount', "$['ts']", "$['_ingest'][0]", "$['_ingest'][1]"]);

    const description = await run([
      `COPY clicks (event_id, amount, ts, source, position) FROM '${manifest}' ${ROLE} MANIFEST FORMAT AS JSON '${paths}' GZIP TIMEFORMAT 'auto'`,
      'SELECT pg_last_copy_count() AS loaded',
    ]);

    expect(description.status).toBe('FINISHED');
    expect(description.statements[0]?.resultRows).toBe(3);
    expect((await warehouse.results(description.statements[1]!.id)).rows).toEqual([[3]]);
    expect((await direct.query('SELECT event_id, amount, source, position FROM clicks ORDER BY event_id')).rows).toEqual([
      { event_id: 'e1', amount: 10, source: 'orders', position: 'shard-0|05|00001' },
      { event_id: 'e2', amount: 20, source: 'orders', position: 'shard-0|05|00002' },
      { event_id: 'e3', amount: null, source: 'orders', position: 'shard-0|05|00003' },
    ]);
  });

  it('COPYs CSV with a header line', async () => {
    await direct.query('CREATE TABLE csv_rows (id int, label varchar(20))');
    await put('csv/rows.csv', 'id,label\n1,one\n2,"two, quoted"\n');

    const description = await run([`COPY csv_rows FROM 's3://${bucket}/csv/rows.csv' ${ROLE} FORMAT AS CSV IGNOREHEADER 1`]);

    expect([description.status, description.error]).toEqual(['FINISHED', undefined]);
    expect((await direct.query('SELECT id, label FROM csv_rows ORDER BY id')).rows).toEqual([{ id: 1, label: 'one' }, { id: 2, label: 'two, quoted' }]);
  });

  it('with MAXERROR, loads the good rows and records the bad one with its file, line, column and error', async () => {
    await direct.query('CREATE TABLE quarantine (event_id varchar(20), amount int)');
    const manifest = await stage('quarantine', [[{ event_id: 'a', amount: 1 }, { event_id: 'b', amount: 'twelve' }, { event_id: 'c', amount: 3 }, { event_id: 'é'.repeat(11), amount: 4 }]]);

    const description = await run([
      `COPY quarantine FROM '${manifest}' ${ROLE} MANIFEST FORMAT AS JSON 'auto' GZIP MAXERROR 10`,
      'SELECT trim(file_name) AS file, line_number, trim(column_name) AS column_name, error_code, trim(error_message) AS message FROM sys_load_error_detail WHERE query_id = pg_last_copy_id()',
    ]);

    expect(description.status).toBe('FINISHED');
    expect(await count('quarantine')).toBe(2);
    const errors = await warehouse.results(description.statements[1]!.id);
    // Eleven two-byte characters fit PostgreSQL's varchar(20) but not Redshift's, which counts bytes.
    expect(errors.rows.sort((a, b) => Number(a[1]) - Number(b[1]))).toEqual([
      [`s3://${bucket}/quarantine/file-0.jsonl.gz`, 2, 'amount', 1207, expect.stringMatching(/invalid input syntax for type integer/)],
      [`s3://${bucket}/quarantine/file-0.jsonl.gz`, 4, 'event_id', 1204, 'String length exceeds DDL length'],
    ]);
  });

  it('without MAXERROR, fails the load on one bad row, rolls it back, and keeps the error details', async () => {
    await direct.query('CREATE TABLE strict_load (event_id varchar(20), amount int)');
    const manifest = await stage('strict', [[{ event_id: 'a', amount: 1 }, { event_id: 'b', amount: 'twelve' }]]);

    const description = await run([`COPY strict_load FROM '${manifest}' ${ROLE} MANIFEST FORMAT AS JSON 'auto' GZIP`]);

    expect(description.status).toBe('FAILED');
    expect(description.error).toMatch(/Check 'sys_load_error_detail'/);
    expect(await count('strict_load')).toBe(0);
    const recorded = await direct.query("SELECT line_number FROM sys_load_error_detail WHERE trim(file_name) = $1", [`s3://${bucket}/strict/file-0.jsonl.gz`]);
    expect(recorded.rows).toEqual([{ line_number: '2' }]);
  });

  it('shows a rejected row with its raw line and field in stl_load_errors, as provisioned clusters do', async () => {
    await direct.query('CREATE TABLE raw_lines (event_id varchar(20), amount int)');
    const manifest = await stage('raw-lines', [[{ event_id: 'a', amount: 1 }, { event_id: 'b', amount: 'lots' }]]);

    const description = await run([
      `COPY raw_lines FROM '${manifest}' ${ROLE} MANIFEST FORMAT AS JSON 'auto' GZIP MAXERROR 1`,
      'SELECT line_number, trim(colname) AS colname, trim(raw_line) AS raw_line, trim(raw_field_value) AS raw_field_value, err_code FROM stl_load_errors WHERE query = pg_last_copy_id()',
    ]);

    expect(description.status).toBe('FINISHED');
    expect((await warehouse.results(description.statements[1]!.id)).rows).toEqual([[2, 'amount', '{"event_id":"b","amount":"lots"}', 'lots', 1207]]);
  });

  it('fails a COPY whose manifest names a mandatory file that does not exist', async () => {
    await direct.query('CREATE TABLE missing_file (n int)');
    await put('missing/manifest.json', JSON.stringify({ entries: [{ url: `s3://${bucket}/missing/gone.jsonl.gz`, mandatory: true }] }));

    const description = await run([`COPY missing_file FROM 's3://${bucket}/missing/manifest.json' ${ROLE} MANIFEST FORMAT AS JSON 'auto' GZIP`]);

    expect(description.status).toBe('FAILED');
    expect(description.error).toMatch(/mandatory file/);
  });

  it('keeps a statement running past one caller\'s deadline; a later caller resumes it and it runs once', async () => {
    await direct.query('CREATE TABLE resumed (event_id varchar(20))');
    const manifest = await stage('resumed', [[{ event_id: 'only' }]]);
    const release = emulator.hold();
    const id = await warehouse.executeTransaction([`COPY resumed FROM '${manifest}' ${ROLE} MANIFEST FORMAT AS JSON 'auto' GZIP`]);

    const atDeadline = await waitForStatement(warehouse, id, { deadline: Date.now() + 150, initialDelayMs: 20 });
    release();
    const resumed = await waitForStatement(warehouse, id, soon());

    expect(atDeadline?.status).toBe('STARTED');
    expect(resumed?.status).toBe('FINISHED');
    expect(await count('resumed')).toBe(1);
  });

  it('answers the first statement id to a submission repeated with the same client token', async () => {
    await direct.query('CREATE TABLE tokens (n int)');

    const clientToken = `load-${randomUUID()}`;

    const first = await warehouse.executeTransaction(['INSERT INTO tokens VALUES (1)'], { clientToken });
    const again = await warehouse.executeTransaction(['INSERT INTO tokens VALUES (1)'], { clientToken });
    await waitForStatement(warehouse, first, soon());

    expect(again).toBe(first);
    expect(await count('tokens')).toBe(1);
  });

  it('runs statements on a provisioned cluster with a database user', async () => {
    const provisioned = new RedshiftDataWarehouse(client, { cluster: 'analytics-cluster', database, dbUser: 'loader' });

    expect(await query(provisioned, 'SELECT 1 AS one', undefined, soon())).toEqual({ columns: ['one'], rows: [[1]] });
  });

  it('refuses a cluster without a database user or secret, as the Data API does', async () => {
    const submission = client.send(new ExecuteStatementCommand({ ClusterIdentifier: 'analytics-cluster', Database: database, Sql: 'SELECT 1' }));

    await expect(submission).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('aborts a running statement that is cancelled, and it changes nothing', async () => {
    await direct.query('CREATE TABLE cancelled (n int)');
    const release = emulator.hold();
    const id = await warehouse.executeTransaction(['INSERT INTO cancelled VALUES (1)']);

    await client.send(new CancelStatementCommand({ Id: id }));
    release();
    const description = await waitForStatement(warehouse, id, soon());

    expect(description?.status).toBe('ABORTED');
    expect(await count('cancelled')).toBe(0);
  });

  it('reports an id it never issued as unknown', async () => {
    expect(await warehouse.describe(randomUUID())).toBeUndefined();
  });

  it('drops temporary tables at the end of each submission, as each Data API call has its own session', async () => {
    const created = await run(['CREATE TEMP TABLE scratch (n int)', 'INSERT INTO scratch VALUES (1)']);
    const later = await run(['SELECT count(*) FROM scratch']);

    expect(created.status).toBe('FINISHED');
    expect(later.status).toBe('FAILED');
    expect(later.error).toMatch(/relation "scratch" does not exist/);
  });
});
