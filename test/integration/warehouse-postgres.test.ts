import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StagedFile } from '../../engine/ports/ledger.ts';
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';
import { PostgresWarehouse } from '../../engine/ports/postgres-warehouse.ts';
import { query, waitForStatement } from '../../engine/ports/warehouse.ts';
import type { StatementDescription, TransactionOptions } from '../../engine/ports/warehouse.ts';
import { stateTableStatements } from '../../engine/sinks/sql/load-transaction.ts';
import type { LoadPlan } from '../../engine/sinks/sql/load-transaction.ts';
import { copyData, postgresLoadTransaction } from '../../engine/sinks/sql/postgres-load.ts';
import { pgConnectionString } from '../support/env.ts';

describe('PostgresWarehouse against PostgreSQL', () => {
  const schema = `warehouse_${randomUUID().slice(0, 8)}`;
  const pool = new pg.Pool({ connectionString: pgConnectionString(), max: 4, options: `-c search_path=${schema}` });
  const warehouse = new PostgresWarehouse(pool);
  const soon = () => ({ deadline: Date.now() + 10_000, initialDelayMs: 5, maxDelayMs: 50 });

  beforeAll(async () => {
    await pool.query(`CREATE SCHEMA ${schema}`);
  });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  });

  async function run(sqls: string[], options?: TransactionOptions): Promise<StatementDescription> {
    const description = await waitForStatement(warehouse, await warehouse.executeTransaction(sqls, options), soon());
    if (description === undefined) throw new Error('statement vanished');
    return description;
  }

  it('runs a statement with named parameters and returns its rows', async () => {
    await pool.query('CREATE TABLE items (id int, name text)');
    await pool.query("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, NULL)");

    const result = await query(warehouse, 'SELECT id, name FROM items WHERE id >= :low AND id < :low::int + :span ORDER BY id', { low: '2', span: '5' }, soon());

    expect(result).toEqual({ columns: ['id', 'name'], rows: [[2, 'two'], [3, null]] });
  });

  it('commits every statement of a transaction and counts the rows each changed', async () => {
    await pool.query('CREATE TABLE committed (n int)');

    const description = await run(['INSERT INTO committed VALUES (1), (2)', 'UPDATE committed SET n = n * 10', 'SELECT sum(n) AS total FROM committed']);

    expect(description.status).toBe('FINISHED');
    expect(description.statements.map((statement) => statement.resultRows)).toEqual([2, 2, 1]);
    expect((await warehouse.results(description.statements[2]!.id)).rows).toEqual([[30]]);
  });

  it('rolls a failed transaction back whole and names the failed statement', async () => {
    await pool.query('CREATE TABLE rolled_back (n int primary key)');

    const description = await run(['INSERT INTO rolled_back VALUES (1)', 'INSERT INTO rolled_back VALUES (1)', 'INSERT INTO rolled_back VALUES (2)']);

    expect(description.status).toBe('FAILED');
    expect(description.error).toMatch(/duplicate key value violates unique constraint.*\(Key \(n\)=\(1\) already exists\.\)/);
    expect(description.statements.map((statement) => statement.status)).toEqual(['FINISHED', 'FAILED', 'ABORTED']);
    expect((await pool.query('SELECT count(*)::int AS n FROM rolled_back')).rows[0].n).toBe(0);
  });

  it('answers the first id when a submission is repeated with its client token, and runs it once', async () => {
    await pool.query('CREATE TABLE once (n int)');

    const first = await warehouse.executeTransaction(['INSERT INTO once VALUES (1)'], { clientToken: 'batch-1' });
    const again = await warehouse.executeTransaction(['INSERT INTO once VALUES (1)'], { clientToken: 'batch-1' });
    await waitForStatement(warehouse, first, soon());

    expect(again).toBe(first);
    expect((await pool.query('SELECT count(*)::int AS n FROM once')).rows[0].n).toBe(1);
  });

  it('does not know statements of another process', async () => {
    expect(await new PostgresWarehouse(pool).describe(randomUUID())).toBeUndefined();
  });

  it('rejects a statement whose parameter is missing before sending anything', async () => {
    await expect(warehouse.execute('SELECT :absent')).rejects.toThrow(':absent');
  });

  describe('loads staged files with COPY FROM STDIN', () => {
    const objects = new MemoryObjectStore();
    const columns = ['id', 'amount', 'note'];
    const plan = (table: string, batch: number): LoadPlan => ({
      dialect: 'postgres', scope: `pipe/${table}`, batch, table: `${schema}.${table}`, columns, mode: 'append', stateSchema: schema, sealedAt: 1_764_748_800_000, loadedAt: new Date('2026-12-03T10:00:00Z'),
    });
    let files = 0;

    /** A staged gzip JSON-lines file (0031 §1): the columns, then the identity list; `position` numbers its rows. */
    async function stagedFile(rows: Record<string, unknown>[], firstPosition: number): Promise<StagedFile> {
      const text = rows.map((row, index) => JSON.stringify({
        ...row, _ingest: ['events', 'bucket/key@v1', `00${String(firstPosition + index).length}${firstPosition + index}`, '0'.repeat(23), '2026-12-03 09:00:00.000', `file${firstPosition}`],
      })).join('\n') + '\n';
      const key = `files/${++files}.jsonl.gz`;
      const body = gzipSync(text);
      await objects.put('staging', key, body, { contentType: 'application/x-ndjson' });
      return { bucket: 'staging', key, records: rows.length, bytes: body.length };
    }

    async function load(table: string, batch: number, staged: StagedFile[]): Promise<StatementDescription> {
      const transaction = postgresLoadTransaction(plan(table, batch), 'jsonl');
      return run(transaction.statements, { copyIn: { statement: transaction.copyStatement, data: () => copyData(objects, staged, columns, 'jsonl') } });
    }

    async function rows(table: string): Promise<unknown[]> {
      return (await pool.query(`SELECT id, amount, note FROM ${table} ORDER BY id`)).rows;
    }

    beforeAll(async () => {
      for (const statement of stateTableStatements('postgres', schema)) await pool.query(statement);
    });

    it('loads every staged row once, and a batch loaded again changes nothing', async () => {
      await pool.query('CREATE TABLE loaded (id text, amount int, note text)');
      const staged = [await stagedFile([{ id: 'a', amount: 1, note: 'x, "y"' }, { id: 'b', amount: null }], 1), await stagedFile([{ id: 'c', amount: 3, note: '' }], 3)];

      const first = await load('loaded', 1, staged);
      const again = await load('loaded', 1, staged);

      expect(first.status).toBe('FINISHED');
      expect((await warehouse.results(first.statements.at(-1)!.id)).rows).toEqual([[3, 3]]);
      expect(again.status).toBe('FINISHED');
      expect((await warehouse.results(again.statements.at(-1)!.id)).rows).toEqual([[3, 0]]);
      expect(await rows('loaded')).toEqual([{ id: 'a', amount: 1, note: 'x, "y"' }, { id: 'b', amount: null, note: null }, { id: 'c', amount: 3, note: '' }]);
    });

    it('runs load after load on the same pooled connections: each submission drops its temporary tables', async () => {
      await pool.query('CREATE TABLE repeated (id text, amount int, note text)');

      // More loads than the pool has connections, so connections are reused.
      const descriptions: StatementDescription[] = [];
      for (let batch = 1; batch <= 6; batch++) descriptions.push(await load('repeated', batch, [await stagedFile([{ id: `r${batch}`, amount: batch }], batch * 10)]));

      expect(descriptions.map((description) => description.status)).toEqual(Array(6).fill('FINISHED'));
      expect((await rows('repeated')).map((row) => (row as { id: string }).id)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    });

    it('fails a load whose value the column type refuses, naming the staged file, line and column, and commits nothing', async () => {
      await pool.query('CREATE TABLE refused (id text, amount int, note text)');
      const good = await stagedFile([{ id: 'a', amount: 1, note: 'two\nlines' }, { id: 'b', amount: 2 }], 1);
      const bad = await stagedFile([{ id: 'c', amount: 3 }, { id: 'd', amount: 'four' }], 3);

      const description = await load('refused', 1, [good, bad]);

      expect(description.status).toBe('FAILED');
      // The second file's second row is the COPY's fourth record, even though a value before it spans two lines.
      expect(description.error).toContain(`invalid input syntax for type integer: "four", at staged file s3://staging/${bad.key} line 2, column amount: "four"`);
      expect(description.statements[transactionCopyIndex()]!.status).toBe('FAILED');
      expect(await rows('refused')).toEqual([]);
      expect(await load('refused', 2, [good])).toMatchObject({ status: 'FINISHED' });
    });

    it('fails a load whose staged file is missing or malformed with the file and line, and keeps its connection usable', async () => {
      await pool.query('CREATE TABLE malformed (id text, amount int, note text)');
      const missing: StagedFile = { bucket: 'staging', key: 'files/never-written.jsonl.gz', records: 1, bytes: 1 };
      await objects.put('staging', 'files/broken.jsonl.gz', gzipSync('{"id": "x", "_ingest": []}\n'), { contentType: 'application/x-ndjson' });
      const broken: StagedFile = { bucket: 'staging', key: 'files/broken.jsonl.gz', records: 1, bytes: 1 };

      const gone = await load('malformed', 1, [await stagedFile([{ id: 'a' }], 1), missing]);
      const unreadable = await load('malformed', 2, [broken]);

      expect(gone.status).toBe('FAILED');
      expect(gone.error).toBe('staged file s3://staging/files/never-written.jsonl.gz is missing');
      expect(unreadable.error).toBe('staged file s3://staging/files/broken.jsonl.gz line 1: a staged row must end with _ingest, a list of 6 identity values');
      expect(await rows('malformed')).toEqual([]);
      expect(await query(warehouse, 'SELECT 1 AS one', undefined, soon())).toEqual({ columns: ['one'], rows: [[1]] });
    });

    it('refuses copy data for a statement that is not a COPY FROM STDIN, before running anything', async () => {
      await expect(warehouse.executeTransaction(['SELECT 1'], { copyIn: { statement: 0, data: () => copyData(objects, [], columns, 'jsonl') } })).rejects.toThrow(/not a COPY \.\.\. FROM STDIN/);
      await expect(warehouse.executeTransaction(['SELECT 1'], { copyIn: { statement: 1, data: () => copyData(objects, [], columns, 'jsonl') } })).rejects.toThrow(/does not have/);
    });

    function transactionCopyIndex(): number {
      return postgresLoadTransaction(plan('refused', 1), 'jsonl').copyStatement;
    }
  });
});
