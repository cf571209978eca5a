import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresWarehouse } from '../../engine/ports/postgres-warehouse.ts';
import { query, waitForStatement } from '../../engine/ports/warehouse.ts';
import type { StatementDescription } from '../../engine/ports/warehouse.ts';
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

  async function run(sqls: string[]): Promise<StatementDescription> {
    const description = await waitForStatement(warehouse, await warehouse.executeTransaction(sqls), soon());
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
});
