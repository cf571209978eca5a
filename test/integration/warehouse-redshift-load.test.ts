import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../engine/ports/memory-ledger.ts';
import type { StagedFile } from '../../engine/ports/ledger.ts';
import type { Notification } from '../../engine/ports/notifier.ts';
import { PostgresWarehouse } from '../../engine/ports/postgres-warehouse.ts';
import { RedshiftDataWarehouse } from '../../engine/ports/redshift-data-warehouse.ts';
import type { Warehouse } from '../../engine/ports/warehouse.ts';
import { S3ObjectStore } from '../../engine/ports/s3-object-store.ts';
import type { DeadLetter } from '../../engine/pipeline/dead-letters.ts';
import type { MaintenanceContext, MaintenanceReport } from '../../engine/plugin/types.ts';
import type { Sink, SinkConfig } from '../../engine/spec/spec-types.ts';
import { IDENTITY_FIELD } from '../../engine/sinks/sql/load-transaction.ts';
import { Loader } from '../../engine/sinks/warehouse/loader.ts';
import { stagedPosition, stagedSubPosition } from '../../engine/staging/record-identity.ts';
import { awsClientConfig, pgConnectionString } from '../support/env.ts';
import { RedshiftDataApiEmulator } from '../support/redshift-data-api.ts';
import { resolvedSink } from '../support/resolved-config.ts';
import { createScratchDatabase } from '../support/scratch-database.ts';
import type { ScratchDatabase } from '../support/scratch-database.ts';

// The loader against real parts: staged files in moto S3, loads through the production Data API
// adapter into the emulator over the run's PostgreSQL, rows counted in PostgreSQL itself. The
// ledger is in memory (its DynamoDB adapter has tests of its own); staged files are written
// here in the 0031 §1 format, independently of the production staging writer.

interface Row {
  event_id: string;
  user_id: unknown;
  amount: unknown;
}

describe('loader through the Data API emulator', () => {
  const s3 = new S3Client(awsClientConfig());
  const objects = new S3ObjectStore(s3);
  const bucket = `ingest-loader-${randomUUID().slice(0, 8)}`;
  const database = `loader_${randomUUID().slice(0, 8)}`;
  let scratch: ScratchDatabase;
  let direct: pg.Client;
  let emulator: RedshiftDataApiEmulator;
  let client: RedshiftDataClient;
  let warehouse: RedshiftDataWarehouse;
  let pool: pg.Pool;
  let postgres: PostgresWarehouse;

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
    pool = new pg.Pool({ connectionString: url, max: 4 });
    postgres = new PostgresWarehouse(pool);
  });

  afterAll(async () => {
    client?.destroy();
    await emulator?.stop();
    await pool?.end();
    await direct?.end();
    await scratch?.drop();
    s3.destroy();
  });

  /**
   * One sink: its table, a ledger, and what its maintenance dead-lettered and notified. A
   * `redshift` sink loads through the Data API emulator; a `postgres` one through `pg` with
   * COPY FROM STDIN.
   */
  async function sink(table: string, settings: Partial<Sink> = {}, ddl = 'event_id varchar(20), user_id int, amount int', kind: 'serverless' | 'cluster' | 'postgres' = 'serverless') {
    const type = kind === 'postgres' ? 'postgres' : 'redshift';
    const connection = kind === 'cluster' ? { cluster: 'main', db_user: 'loader', database } : { workgroup: 'analytics', database };
    await direct.query(`CREATE TABLE analytics.${table} (${ddl})`);
    const common = { inputs: ['orders'], table: `analytics.${table}`, columns: ['event_id', 'user_id', 'amount'], mode: 'append', staging: { bucket }, batch: { max_files: 100 } };
    const config = resolvedSink((type === 'redshift'
      ? { type, ...common, connection, iam_role: 'arn:aws:iam::123456789012:role/RedshiftCopy', ...settings }
      : { type, ...common, connection: { url: '${param.database_url}' }, ...settings }) as Sink) as SinkConfig<'redshift' | 'postgres'>;
    const target: Warehouse = kind === 'serverless' ? warehouse : kind === 'cluster' ? new RedshiftDataWarehouse(client, { cluster: 'main', database, dbUser: 'loader' }) : postgres;
    const scope = `shop/${table}`;
    const ledger = new MemoryLedger();
    const letters: DeadLetter[] = [];
    const notifications: Notification[] = [];
    const loader = (over: MemoryLedger = ledger) => new Loader({ scope, sinkId: table, config, ledger: over, warehouse: target, objects, polling: { initialDelayMs: 20, maxDelayMs: 200 } });
    // One cold start per sink, as a warm Lambda keeps its loader: the state tables are created once.
    const warm = loader();
    let files = 0;
    /** Stages a gzip JSON-lines file (rows at consecutive positions of one shard) and registers it. */
    async function stage(rows: Row[], start: number, into: MemoryLedger = ledger): Promise<StagedFile> {
      const key = `${scope}/files/${table}-${++files}.jsonl.gz`;
      const first = stagedPosition(start) + stagedSubPosition(0, 0, 0);
      const body = gzipSync(rows.map((row, index) => JSON.stringify({
        ...row, [IDENTITY_FIELD]: ['orders', 'stream/shard-0', stagedPosition(start + index), stagedSubPosition(0, 0, 0), `2026-12-03 08:00:0${index % 10}`, first],
      }) + '\n').join(''));
      await objects.put(bucket, key, body, { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
      const file = { bucket, key, records: rows.length, bytes: body.byteLength };
      await into.register(scope, file, Date.now());
      return file;
    }
    function maintain(reason: MaintenanceContext['reason'] = 'flush', deadlineMs = 20_000, over?: MemoryLedger): Promise<MaintenanceReport> {
      return (over === undefined ? warm : loader(over)).maintain({
        reason,
        invocation: { state: new Map(), now: new Date(), requestId: randomUUID(), deadline: Date.now() + deadlineMs },
        logger: { log: () => undefined },
        deadLetter: async (letter) => {
          letters.push(letter);
        },
        notify: async (notification) => {
          notifications.push(notification);
        },
      });
    }
    const rows = async () => (await direct.query({ text: `SELECT event_id, user_id, amount FROM analytics.${table} ORDER BY event_id`, rowMode: 'array' })).rows;
    return { ledger, scope, stage, maintain, rows, letters, notifications };
  }

  const order = (id: number, amount = id): Row => ({ event_id: `e${id}`, user_id: id, amount });

  it('appends a batch into PostgreSQL: each record once although its file was registered twice', async () => {
    const s = await sink('appended');
    const file = await s.stage([order(1), order(2)], 1);
    await s.ledger.register(s.scope, file, Date.now()); // a duplicate S3 event
    await s.stage([order(3)], 3);

    const report = await s.maintain();

    expect(report).toMatchObject({ sealed: [1], loaded: [{ batch: 1, rows: 3, duplicates: 0 }], failed: [], pending: [] });
    expect(await s.rows()).toEqual([['e1', 1, 1], ['e2', 2, 2], ['e3', 3, 3]]);
    expect(await s.ledger.batch(s.scope, 1)).toMatchObject({ state: 'loaded', rows: 3 });
    expect(s.notifications.map((n) => n.event)).toEqual(['load_succeeded']);
  });

  it('upserts in seal order: a later batch updates the row an earlier batch inserted', async () => {
    const s = await sink('upserted', { mode: 'upsert', keys: ['event_id'] } as Partial<Sink>);
    await s.stage([order(1, 10), order(2, 20), order(1, 11)], 1);
    const first = await s.maintain();
    await s.stage([order(1, 12)], 4);

    const second = await s.maintain();

    expect(first.loaded).toMatchObject([{ batch: 1, rows: 3 }]);
    expect(second.loaded).toMatchObject([{ batch: 2, rows: 1 }]);
    expect(await s.rows()).toEqual([['e1', 1, 12], ['e2', 2, 20]]);
  });

  it('changes nothing when the same batch is loaded a second time', async () => {
    const s = await sink('twice');
    await s.stage([order(1), order(2)], 1);
    await s.maintain();
    // A second ledger that never saw the load: its batch 1 holds the same records and is loaded
    // again, on a later attempt (a first claimant died), so the Data API's client token does not
    // hand back the first statement and the transaction really runs twice.
    const forgetful = new MemoryLedger();
    await s.stage([order(1), order(2)], 1, forgetful);
    await forgetful.seal(s.scope, 1, Date.now());
    await forgetful.claim(s.scope, 1, 'a loader that died', Date.now() - 10_000, 1);

    const again = await s.maintain('flush', 20_000, forgetful);

    const loads = emulator.submissions().filter((submission) => submission.sqls.length > 1 && submission.sqls.some((sql) => sql.includes("'shop/twice'")));
    expect(loads.map((submission) => submission.status)).toEqual(['FINISHED', 'FINISHED']);
    expect(again.loaded).toMatchObject([{ batch: 1, rows: 0, duplicates: 2 }]);
    expect(await s.rows()).toEqual([['e1', 1, 1], ['e2', 2, 2]]);
  });

  it('with max_error 0, marks a batch with a bad row failed with file, line and column, notifies, and loads it once after a fix and a retry', async () => {
    const s = await sink('rejected', {}, 'event_id varchar(20), user_id int, amount varchar(3)');
    await s.stage([order(1)], 1);
    const bad = await s.stage([order(2), { event_id: 'e3', user_id: 3, amount: 'too long for three' }], 2);

    const failed = await s.maintain();

    expect(failed.failed).toEqual([{ batch: 1, error: expect.stringContaining('sys_load_error_detail') }]);
    const record = await s.ledger.batch(s.scope, 1);
    expect(record?.state).toBe('failed');
    expect(record?.error).toContain(`s3://${bucket}/${bad.key}:2 column amount:`);
    expect(s.notifications.find((n) => n.event === 'load_failed')?.detail).toMatchObject({
      batch: 1, rejected_rows: [{ file: `s3://${bucket}/${bad.key}`, line: 2, column: 'amount' }], action: expect.stringContaining('ingest batches <spec> retry rejected 1'),
    });
    expect(await s.rows()).toEqual([]);

    await direct.query('ALTER TABLE analytics.rejected ALTER COLUMN amount TYPE varchar(40)');
    expect(await s.ledger.retry(s.scope, 1)).toBe(true);
    const retried = await s.maintain();
    const again = await s.ledger.retry(s.scope, 1);
    await s.maintain();

    expect(again).toBe(false);

    // Batch 2 holds the good file the failed batch registered again: loaded with batch 1 already, it adds nothing.
    expect(retried).toMatchObject({ sealed: [2], loaded: [{ batch: 1, rows: 3 }, { batch: 2, rows: 0, duplicates: 1 }] });
    expect(await s.rows()).toEqual([['e1', 1, '1'], ['e2', 2, '2'], ['e3', 3, 'too long for three']]);
  });

  it('loads the good files of a failed append batch with a later batch, and the rest once after a fix and a retry', async () => {
    const s = await sink('split', {}, 'event_id varchar(20), user_id int, amount varchar(3)');
    await s.stage([order(1), order(2)], 1);
    await s.stage([order(3), { event_id: 'e4', user_id: 4, amount: 'too long for three' }, order(5)], 3);
    await s.stage([order(6)], 6);

    const failed = await s.maintain();
    const split = await s.maintain();
    await direct.query('ALTER TABLE analytics.split ALTER COLUMN amount TYPE varchar(40)');
    await s.ledger.retry(s.scope, 1);
    const retried = await s.maintain();

    expect(failed).toMatchObject({ sealed: [1], failed: [{ batch: 1 }] });
    expect(split).toMatchObject({ sealed: [2], loaded: [{ batch: 2, rows: 3 }] });
    expect(retried).toMatchObject({ loaded: [{ batch: 1, rows: 3, duplicates: 3 }] });
    expect((await s.rows()).map((row) => row[0])).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
  });

  it('on a provisioned cluster, reads rejected rows from stl_load_errors: for a failed batch and for quarantine', async () => {
    const failing = await sink('cluster_failed', {}, undefined, 'cluster');
    const bad = await failing.stage([order(1), { event_id: 'e2', user_id: 'two', amount: 2 }], 1);
    const quarantining = await sink('cluster_quarantined', { copy: { max_error: 10 } } as Partial<Sink>, undefined, 'cluster');
    const held = await quarantining.stage([order(1), { event_id: 'e2', user_id: 'two', amount: 2 }], 1);

    await failing.maintain();
    const report = await quarantining.maintain();

    expect((await failing.ledger.batch(failing.scope, 1))?.error).toContain(`s3://${bucket}/${bad.key}:2 column user_id:`);
    expect(report).toMatchObject({ loaded: [{ batch: 1, rows: 1 }], deadLettered: 1 });
    expect(quarantining.letters).toMatchObject([{ position: `s3://${bucket}/${held.key}:2`, message: expect.stringContaining('column user_id') }]);
    expect(emulator.submissions().some((submission) => submission.sqls.some((sql) => sql.includes('FROM stl_load_errors WHERE query = pg_last_copy_id()')))).toBe(true);
  });

  it('with max_error 10, loads the good rows and dead-letters the bad one with its line and column', async () => {
    const s = await sink('quarantined', { copy: { max_error: 10 } } as Partial<Sink>);
    await s.stage([order(1)], 1);
    const bad = await s.stage([order(2), { event_id: 'e3', user_id: 'not a number', amount: 3 }, order(4)], 2);

    const report = await s.maintain();

    expect(report).toMatchObject({ loaded: [{ batch: 1, rows: 3 }], deadLettered: 1, failed: [] });
    expect(await s.rows()).toEqual([['e1', 1, 1], ['e2', 2, 2], ['e4', 4, 4]]);
    expect(s.letters).toHaveLength(1);
    expect(s.letters[0]).toMatchObject({
      stage: 'sink', code: 'load-rejected', component: 'quarantined', source: 'orders', position: `s3://${bucket}/${bad.key}:2`,
      message: expect.stringContaining('column user_id'), meta: { bucket, key: bad.key, line: 2 },
    });
    expect({ ...s.letters[0]!.record }).toEqual({ event_id: 'e3', user_id: 'not a number', amount: 3 });
    expect(JSON.parse(Buffer.from(s.letters[0]!.raw).toString())).toMatchObject({ event_id: 'e3', user_id: 'not a number' });
  });

  it('resumes a COPY still running when the invocation timed out, without submitting it again', async () => {
    const s = await sink('timed_out');
    await s.stage([order(1)], 1);
    await s.maintain();
    await s.stage([order(2), order(3)], 2);
    const submittedBefore = emulator.submissions().length;
    const release = emulator.hold();

    const first = await s.maintain('flush', 2_500);
    release();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the first invocation's lease lapses at its deadline
    const second = await s.maintain('schedule');

    const loads = emulator.submissions().slice(submittedBefore).filter((submission) => submission.sqls.length > 1);
    expect(first).toMatchObject({ sealed: [2], loaded: [], pending: [2] });
    expect(second).toMatchObject({ resumed: [loads[0]!.id], loaded: [{ batch: 2, rows: 2 }] });
    expect(loads).toHaveLength(1);
    expect(await s.rows()).toEqual([['e1', 1, 1], ['e2', 2, 2], ['e3', 3, 3]]);
  });

  describe('into PostgreSQL with COPY FROM STDIN', () => {
    it('appends each record once, and loading the batch again changes nothing', async () => {
      const s = await sink('pg_appended', {}, undefined, 'postgres');
      const file = await s.stage([order(1), order(2)], 1);
      await s.ledger.register(s.scope, file, Date.now());
      await s.stage([order(3)], 3);
      const first = await s.maintain();
      const forgetful = new MemoryLedger();
      await s.stage([order(1), order(2), order(3)], 1, forgetful);
      await forgetful.seal(s.scope, 1, Date.now());
      await forgetful.claim(s.scope, 1, 'a loader that died', Date.now() - 10_000, 1);

      const again = await s.maintain('flush', 20_000, forgetful);

      expect(first).toMatchObject({ sealed: [1], loaded: [{ batch: 1, rows: 3, duplicates: 0 }] });
      expect(again).toMatchObject({ loaded: [{ batch: 1, rows: 0, duplicates: 3 }] });
      expect(await s.rows()).toEqual([['e1', 1, 1], ['e2', 2, 2], ['e3', 3, 3]]);
    });

    it('upserts the newest version of each key', async () => {
      const s = await sink('pg_upserted', { mode: 'upsert', keys: ['event_id'] } as Partial<Sink>, undefined, 'postgres');
      await s.stage([order(1, 10), order(2, 20), order(1, 11)], 1);
      await s.maintain();
      await s.stage([order(2, 21)], 4);

      await s.maintain();

      expect(await s.rows()).toEqual([['e1', 1, 11], ['e2', 2, 21]]);
    });

    it('marks a batch with a value the column refuses failed, naming the staged file and line, and notifies', async () => {
      const s = await sink('pg_rejected', {}, undefined, 'postgres');
      await s.stage([order(1)], 1);
      const bad = await s.stage([order(2), { event_id: 'e3', user_id: 'three', amount: 3 }], 2);

      const report = await s.maintain();

      expect(report.failed).toMatchObject([{ batch: 1 }]);
      const record = await s.ledger.batch(s.scope, 1);
      expect(record?.state).toBe('failed');
      expect(record?.error).toContain(`s3://${bucket}/${bad.key}`);
      expect(record?.error).toMatch(/line 2/);
      expect(s.notifications.map((n) => n.event)).toEqual(['load_failed']);
      expect(await s.rows()).toEqual([]);
    });
  });
});
