import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { toPositionalParameters } from '../sinks/sql/named-parameters.ts';
import type { ResultSet, ResultValue, SqlParameters, StatementDescription, SubmitOptions, SubStatement, Warehouse } from './warehouse.ts';

/** What the adapter needs of a `pg.Pool`: a client to run a submission on. */
export interface PostgresPool {
  connect(): Promise<pg.PoolClient>;
}

export interface PostgresWarehouseOptions {
  /** Submissions remembered for `describe` and `results`, oldest forgotten first [1000]. */
  remembered?: number;
}

interface Submission {
  description: StatementDescription;
  results: (ResultSet | undefined)[];
}

/**
 * The `Warehouse` of a PostgreSQL sink and of local runs, through a `pg` pool the caller owns.
 * A submission runs in this process on a connection of its own as soon as it is submitted;
 * `describe` reports its progress. A transaction runs between `BEGIN` and `COMMIT` and is rolled
 * back when any statement fails; the statements after the failed one are `ABORTED`. Statements
 * submitted by another process, or forgotten, are unknown (`undefined`): when a process dies its
 * connection closes and PostgreSQL rolls its open transaction back, so an unknown statement
 * either committed (and the load ledger table says so) or left nothing.
 */
export class PostgresWarehouse implements Warehouse {
  readonly dialect = 'postgres' as const;
  readonly copiesFromClient = false;
  private readonly submissions = new Map<string, Submission>();
  private readonly tokens = new Map<string, string>();
  private readonly remembered: number;

  constructor(
    private readonly pool: PostgresPool,
    options: PostgresWarehouseOptions = {},
  ) {
    this.remembered = options.remembered ?? 1000;
  }

  async execute(sql: string, parameters?: SqlParameters, options: SubmitOptions = {}): Promise<string> {
    const statement = toPositionalParameters(sql, parameters);
    return this.submit([statement], false, options.clientToken);
  }

  async executeTransaction(sqls: readonly string[], options: SubmitOptions = {}): Promise<string> {
    if (sqls.length === 0) throw new RangeError('a transaction needs at least one statement');
    return this.submit(sqls.map((text) => ({ text, values: [] })), true, options.clientToken);
  }

  async describe(id: string): Promise<StatementDescription | undefined> {
    const submission = this.submissions.get(id);
    return submission && structuredClone(submission.description);
  }

  async results(id: string): Promise<ResultSet> {
    const [parent, index] = splitId(id);
    const result = this.submissions.get(parent)?.results[index];
    if (result === undefined) throw new Error(`statement ${id} has no result set`);
    return result;
  }

  private async submit(statements: { text: string; values: string[] }[], transaction: boolean, clientToken: string | undefined): Promise<string> {
    const earlier = clientToken === undefined ? undefined : this.tokens.get(clientToken);
    if (earlier !== undefined && this.submissions.has(earlier)) return earlier;
    const id = randomUUID();
    if (clientToken !== undefined) this.tokens.set(clientToken, id);
    const description: StatementDescription = {
      id,
      status: 'SUBMITTED',
      statements: statements.map((_, index) => ({ id: transaction ? `${id}:${index + 1}` : id, status: 'SUBMITTED', resultRows: -1, hasResultSet: false })),
    };
    const submission: Submission = { description, results: [] };
    this.remember(id, submission);
    const client = await this.pool.connect();
    // Runs on after the id is returned, as a Data API statement does; `describe` follows it.
    void this.run(client, statements, transaction, submission);
    return id;
  }

  private async run(client: pg.PoolClient, statements: { text: string; values: string[] }[], transaction: boolean, submission: Submission): Promise<void> {
    const { description } = submission;
    description.status = 'STARTED';
    let current = 0;
    let unusable: Error | undefined;
    try {
      if (transaction) await client.query('BEGIN');
      for (; current < statements.length; current++) {
        const statement = statements[current]!;
        const sub = description.statements[current]!;
        sub.status = 'STARTED';
        const result = await client.query({ text: statement.text, values: statement.values, rowMode: 'array' });
        finishStatement(sub, result);
        submission.results[current] = sub.hasResultSet ? resultSetOf(result) : undefined;
      }
      if (transaction) await client.query('COMMIT');
      description.status = 'FINISHED';
    } catch (error) {
      if (transaction) await client.query('ROLLBACK').catch((rollback: unknown) => {
        unusable = rollback as Error;
      });
      description.status = 'FAILED';
      description.error = postgresMessage(error);
      const failed = description.statements[current];
      if (failed !== undefined) {
        failed.status = 'FAILED';
        failed.error = description.error;
      }
      for (const later of description.statements.slice(current + 1)) later.status = 'ABORTED';
    } finally {
      // A connection whose rollback failed is in an unknown state: destroy it instead of pooling it.
      client.release(unusable);
    }
  }

  private remember(id: string, submission: Submission): void {
    this.submissions.set(id, submission);
    while (this.submissions.size > this.remembered) {
      const oldest = this.submissions.keys().next().value as string;
      this.submissions.delete(oldest);
      for (const [token, submitted] of this.tokens) if (submitted === oldest) this.tokens.delete(token);
    }
  }
}

function finishStatement(sub: SubStatement, result: pg.QueryResult): void {
  sub.status = 'FINISHED';
  sub.hasResultSet = result.fields.length > 0;
  sub.resultRows = result.fields.length > 0 ? result.rows.length : (result.rowCount ?? -1);
}

const INT8_OID = 20;

function resultSetOf(result: pg.QueryResult): ResultSet {
  // `pg` gives BIGINT as text; the Data API gives it as a number (`longValue`): answer alike.
  const bigints = result.fields.map((field) => field.dataTypeID === INT8_OID);
  return {
    columns: result.fields.map((field) => field.name),
    rows: (result.rows as unknown[][]).map((row) => row.map((value, index) => (bigints[index] && typeof value === 'string' ? Number(value) : resultValue(value)))),
  };
}

/** `pg` parses numbers, booleans and dates; the port's values are text, numbers, booleans and null. */
function resultValue(value: unknown): ResultValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return JSON.stringify(value);
}

function splitId(id: string): [string, number] {
  const colon = id.lastIndexOf(':');
  if (colon < 0) return [id, 0];
  return [id.slice(0, colon), Number(id.slice(colon + 1)) - 1];
}

/** The error as PostgreSQL words it, with the detail it gives (the offending value or key). */
function postgresMessage(error: unknown): string {
  const { message, detail } = error as { message?: string; detail?: string };
  return detail ? `${message ?? String(error)} (${detail})` : (message ?? String(error));
}
