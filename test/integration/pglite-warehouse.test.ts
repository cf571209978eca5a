import { gzipSync } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StagedFile } from '../../engine/ports/ledger.ts';
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';
import { PgliteWarehouse, fromBlob } from '../../engine/ports/pglite-warehouse.ts';
import { query, waitForStatement } from '../../engine/ports/warehouse.ts';
import type { StatementDescription, TransactionOptions } from '../../engine/ports/warehouse.ts';
import { stateTableStatements } from '../../engine/sinks/sql/load-transaction.ts';
import type { LoadPlan } from '../../engine/sinks/sql/load-transaction.ts';
import { copyData, postgresLoadTransaction } from '../../engine/sinks/sql/postgres-load.ts';

// PGlite starts a WebAssembly PostgreSQL and runs initdb in memory: slow on a busy machine.
const START_TIMEOUT_MS = 120_000;

describe('PgliteWarehouse', () => {
  let db: PGlite;
  let warehouse: PgliteWarehouse;
  const objects = new MemoryObjectStore();
  const columns = ['id', 'amount', 'note'];
  const soon = () => ({ deadline: Date.now() + 30_000, initialDelayMs: 5, maxDelayMs: 50 });
  let files = 0;

  beforeAll(async () => {
    db = await PGlite.create();
    warehouse = new PgliteWarehouse(db);
    await db.exec('CREATE SCHEMA analytics');
    for (const statement of stateTableStatements('postgres', 'analytics')) await db.exec(statement);
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    await db?.close();
  });

  async function run(sqls: string[], options?: TransactionOptions): Promise<StatementDescription> {
    const description = await waitForStatement(warehouse, await warehouse.executeTransaction(sqls, options), soon());
    if (description === undefined) throw new Error('statement vanished');
    return description;
  }

  /** A staged gzip JSON-lines file (0031 §1): the columns, then the identity list. */
  async function stagedFile(rows: Record<string, unknown>[], firstPosition: number): Promise<StagedFile> {
    const text = rows.map((row, index) => JSON.stringify({
      ...row, _ingest: ['events', 'bucket/key@v1', `00${String(firstPosition + index).length}${firstPosition + index}`, '0'.repeat(23), '2026-12-03 09:00:00.000', `file${firstPosition}`],
    })).join('\n') + '\n';
    const key = `files/${++files}.jsonl.gz`;
    const body = gzipSync(text);
    await objects.put('staging', key, body, { contentType: 'application/x-ndjson' });
    return { bucket: 'staging', key, records: rows.length, bytes: body.length };
  }

  async function load(table: string, batch: number, staged: StagedFile[], mode: 'append' | 'upsert' = 'append'): Promise<StatementDescription> {
    const plan: LoadPlan = {
      dialect: 'postgres', scope: `pipe/${table}`, batch, table: `analytics.${table}`, columns, mode, keys: ['id'], stateSchema: 'analytics', sealedAt: 1_764_748_800_000, loadedAt: new Date('2026-12-03T10:00:00Z'),
    };
    const transaction = postgresLoadTransaction(plan, 'jsonl');
    return run(transaction.statements, { copyIn: { statement: transaction.copyStatement, data: () => copyData(objects, staged, columns, 'jsonl') } });
  }

  async function rows(table: string): Promise<unknown[][]> {
    return (await db.query<unknown[]>(`SELECT id, amount, note FROM analytics.${table} ORDER BY id`, [], { rowMode: 'array' })).rows;
  }

  it('runs a statement with named parameters and answers values as the Data API types them', async () => {
    const result = await query(warehouse, "SELECT :n::bigint AS big, :n::int + 1 AS next, 'x' || :text AS text, NULL AS nothing, TIMESTAMP '2026-12-03 10:00:00' AS at, true AS yes",
      { n: '41', text: 'y' }, soon());

    expect(result).toEqual({ columns: ['big', 'next', 'text', 'nothing', 'at', 'yes'], rows: [[41, 42, 'xy', null, '2026-12-03T10:00:00.000Z', true]] });
  });

  it('rolls a failed transaction back whole and names the failed statement', async () => {
    await db.exec('CREATE TABLE analytics.rolled_back (n int primary key)');

    const description = await run(['INSERT INTO analytics.rolled_back VALUES (1)', 'INSERT INTO analytics.rolled_back VALUES (1)', 'INSERT INTO analytics.rolled_back VALUES (2)']);

    expect(description.status).toBe('FAILED');
    expect(description.error).toMatch(/duplicate key value violates unique constraint/);
    expect(description.statements.map((statement) => statement.status)).toEqual(['FINISHED', 'FAILED', 'ABORTED']);
    expect((await db.query('SELECT count(*)::int AS n FROM analytics.rolled_back')).rows).toEqual([{ n: 0 }]);
  });

  it('runs submissions made at the same time one after the other in its one session', async () => {
    await db.exec('CREATE TABLE analytics.turns (submission int, step int)');

    // Each transaction reads the table and writes what it saw: interleaved, two would see the same count.
    const ids = await Promise.all([1, 2, 3, 4].map((submission) => warehouse.executeTransaction([
      `INSERT INTO analytics.turns SELECT ${submission}, count(*) FROM analytics.turns`,
      `INSERT INTO analytics.turns SELECT ${submission}, count(*) FROM analytics.turns`,
    ])));
    const descriptions = await Promise.all(ids.map((id) => waitForStatement(warehouse, id, soon())));

    expect(descriptions.map((description) => description?.status)).toEqual(['FINISHED', 'FINISHED', 'FINISHED', 'FINISHED']);
    const steps = (await db.query<{ step: number }>('SELECT step FROM analytics.turns ORDER BY step')).rows.map((row) => row.step);
    expect(steps).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('loads staged files through COPY from a blob, and a batch loaded again changes nothing', async () => {
    await db.exec('CREATE TABLE analytics.loaded (id text, amount int, note text)');
    const staged = [await stagedFile([{ id: 'a', amount: 1, note: 'x, "y"\nz' }, { id: 'b', amount: null }], 1), await stagedFile([{ id: 'c', amount: 3, note: '' }], 3)];

    const first = await load('loaded', 1, staged);
    const again = await load('loaded', 1, staged);

    expect(first.status).toBe('FINISHED');
    expect((await warehouse.results(first.statements.at(-1)!.id)).rows).toEqual([[3, 3]]);
    expect(again.status).toBe('FINISHED');
    expect((await warehouse.results(again.statements.at(-1)!.id)).rows).toEqual([[3, 0]]);
    expect(await rows('loaded')).toEqual([['a', 1, 'x, "y"\nz'], ['b', null, null], ['c', 3, '']]);
  });

  it('upserts with MERGE, the newest position of a key winning, across loads in its one session', async () => {
    await db.exec('CREATE TABLE analytics.merged (id text, amount int, note text)');

    await load('merged', 1, [await stagedFile([{ id: 'k1', amount: 1 }, { id: 'k2', amount: 2 }, { id: 'k1', amount: 10 }], 100)], 'upsert');
    await load('merged', 2, [await stagedFile([{ id: 'k2', amount: 20, note: 'updated' }], 200)], 'upsert');

    expect(await rows('merged')).toEqual([['k1', 10, null], ['k2', 20, 'updated']]);
  });

  it('fails a load whose value the column type refuses, naming the staged file, line and column, and commits nothing', async () => {
    await db.exec('CREATE TABLE analytics.refused (id text, amount int, note text)');
    const good = await stagedFile([{ id: 'a', amount: 1 }], 1);
    const bad = await stagedFile([{ id: 'b', amount: 2 }, { id: 'c', amount: 'three' }], 2);

    const description = await load('refused', 1, [good, bad]);

    expect(description.status).toBe('FAILED');
    expect(description.error).toContain(`invalid input syntax for type integer: "three", at staged file s3://staging/${bad.key} line 2, column amount: "three"`);
    expect(await rows('refused')).toEqual([]);
    expect(await load('refused', 2, [good])).toMatchObject({ status: 'FINISHED' });
  });

  it('fails a load whose staged file is missing with the file, and stays usable', async () => {
    await db.exec('CREATE TABLE analytics.missing (id text, amount int, note text)');

    const description = await load('missing', 1, [{ bucket: 'staging', key: 'files/never.jsonl.gz', records: 1, bytes: 1 }]);

    expect(description).toMatchObject({ status: 'FAILED', error: 'staged file s3://staging/files/never.jsonl.gz is missing' });
    expect(await query(warehouse, 'SELECT 1 AS one', undefined, soon())).toEqual({ columns: ['one'], rows: [[1]] });
  });
});

describe('fromBlob', () => {
  it('reads COPY data from the blob PGlite is given instead of from STDIN', () => {
    expect(fromBlob('COPY "t" ("a") FROM STDIN WITH (FORMAT csv)')).toBe('COPY "t" ("a") FROM \'/dev/blob\' WITH (FORMAT csv)');
    expect(() => fromBlob('SELECT 1')).toThrow(/not a COPY/);
  });
});
