import { describe, expect, it } from 'vitest';
import { MemoryWarehouse } from '../../../engine/ports/memory-warehouse.ts';
import { StatementFailedError, query, waitForStatement } from '../../../engine/ports/warehouse.ts';

describe('waitForStatement', () => {
  it('describes a running statement until it ends, backing off between descriptions', async () => {
    const warehouse = new MemoryWarehouse({ answer: () => 'running' });
    const id = await warehouse.executeTransaction(['select 1', 'select 2']);
    setTimeout(() => warehouse.end(id, { status: 'FINISHED' }), 120);

    const description = await waitForStatement(warehouse, id, { deadline: Date.now() + 5_000, initialDelayMs: 10 });

    expect(description?.status).toBe('FINISHED');
    expect(description?.statements.map((statement) => statement.id)).toEqual([`${id}:1`, `${id}:2`]);
    // 10 ms growing by 1.5 each time reaches 120 ms in a handful of descriptions, not one per 10 ms.
    expect(warehouse.describes).toBeGreaterThan(2);
    expect(warehouse.describes).toBeLessThan(10);
  });

  it('returns a statement still running at the deadline as it is, without submitting anything again', async () => {
    const warehouse = new MemoryWarehouse({ answer: () => 'running' });
    const id = await warehouse.executeTransaction(['copy ...']);

    const description = await waitForStatement(warehouse, id, { deadline: Date.now() + 50, initialDelayMs: 10 });

    expect(description?.status).toBe('STARTED');
    expect(warehouse.submissions).toHaveLength(1);
  });

  it('resolves to undefined for a statement the warehouse has forgotten', async () => {
    const warehouse = new MemoryWarehouse({ answer: () => 'running' });
    const id = await warehouse.execute('select 1');
    warehouse.forget(id);

    expect(await waitForStatement(warehouse, id, { deadline: Date.now() + 1_000 })).toBeUndefined();
  });

  it('reports which statement of a transaction failed and aborts the ones after it', async () => {
    const warehouse = new MemoryWarehouse({ answer: () => ({ status: 'FAILED', error: 'relation "t" does not exist', failedStatement: 1 }) });
    const id = await warehouse.executeTransaction(['begin work', 'insert into t values (1)', 'select 1']);

    const description = await waitForStatement(warehouse, id, { deadline: Date.now() + 1_000 });

    expect(description).toMatchObject({ status: 'FAILED', error: 'relation "t" does not exist' });
    expect(description?.statements.map((statement) => statement.status)).toEqual(['FINISHED', 'FAILED', 'ABORTED']);
  });
});

describe('query', () => {
  it('returns the rows of a finished statement', async () => {
    const warehouse = new MemoryWarehouse({ answer: () => ({ status: 'FINISHED', results: [{ columns: ['n'], rows: [[1], [2]] }] }) });

    expect(await query(warehouse, 'select n from t where k = :k', { k: 'a' }, { deadline: Date.now() + 1_000 })).toEqual({ columns: ['n'], rows: [[1], [2]] });
    expect(warehouse.submissions[0]).toMatchObject({ sqls: ['select n from t where k = :k'], parameters: { k: 'a' } });
  });

  it('rejects with the database error when the statement fails', async () => {
    const warehouse = new MemoryWarehouse({ answer: () => ({ status: 'FAILED', error: 'permission denied' }) });

    await expect(query(warehouse, 'select 1', undefined, { deadline: Date.now() + 1_000 })).rejects.toThrow(StatementFailedError);
    await expect(query(warehouse, 'select 1', undefined, { deadline: Date.now() + 1_000 })).rejects.toThrow('permission denied');
  });
});

describe('MemoryWarehouse', () => {
  it('returns the first id for a submission repeated with the same client token', async () => {
    const warehouse = new MemoryWarehouse();

    const first = await warehouse.executeTransaction(['select 1'], { clientToken: 'sink-batch-7-attempt-1' });
    const again = await warehouse.executeTransaction(['select 1'], { clientToken: 'sink-batch-7-attempt-1' });

    expect(again).toBe(first);
    expect(warehouse.submissions).toHaveLength(1);
  });
});
