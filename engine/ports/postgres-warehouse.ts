import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { toPositionalParameters } from '../sinks/sql/named-parameters.ts';
import { stagedErrorLocation } from '../sinks/sql/postgres-load.ts';
import type { CopyInput, ResultSet, ResultValue, SqlParameters, StatementDescription, SubmitOptions, SubStatement, TransactionOptions, Warehouse } from './warehouse.ts';

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

interface PreparedStatement {
  text: string;
  values: string[];
  /** The data of a `COPY ... FROM STDIN`. */
  copy?: CopyInput;
}

/** What a `COPY ... FROM STDIN` statement looks like; `copyIn` must point at one. */
const COPY_FROM_STDIN = /^\s*COPY\s[\s\S]*\sFROM\s+STDIN\b/i;

/**
 * Checks that `copyIn` feeds a `COPY ... FROM STDIN` statement of `sqls`. Throws a `RangeError`
 * otherwise: a COPY without data, or data without a COPY, would hang or be lost.
 */
export function checkCopyInput(sqls: readonly string[], copyIn: CopyInput | undefined): void {
  if (copyIn === undefined) return;
  const statement = sqls[copyIn.statement];
  if (!Number.isInteger(copyIn.statement) || statement === undefined) throw new RangeError(`copyIn names statement ${copyIn.statement}, which the transaction does not have`);
  if (!COPY_FROM_STDIN.test(statement)) throw new RangeError(`copyIn names statement ${copyIn.statement}, which is not a COPY ... FROM STDIN`);
}

/**
 * The `Warehouse` of a PostgreSQL sink, through a `pg` pool the caller owns.
 * A submission runs in this process on a connection of its own as soon as it is submitted;
 * `describe` reports its progress. A transaction runs between `BEGIN` and `COMMIT` and is rolled
 * back when any statement fails; the statements after the failed one are `ABORTED`. Statements
 * submitted by another process, or forgotten, are unknown (`undefined`): when a process dies its
 * connection closes and PostgreSQL rolls its open transaction back, so an unknown statement
 * either committed (and the load ledger table says so) or left nothing.
 *
 * A transaction's `COPY ... FROM STDIN` is fed from `copyIn` through pg-copy-streams. As a Data
 * API statement runs in a session of its own, every submission ends with `DISCARD TEMP`: the load
 * transaction's temporary tables would otherwise outlive it on the pooled connection and collide
 * with the next load's.
 */
export class PostgresWarehouse implements Warehouse {
  readonly dialect = 'postgres' as const;
  readonly copiesFromClient = true;
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

  async executeTransaction(sqls: readonly string[], options: TransactionOptions = {}): Promise<string> {
    if (sqls.length === 0) throw new RangeError('a transaction needs at least one statement');
    checkCopyInput(sqls, options.copyIn);
    const { copyIn } = options;
    return this.submit(sqls.map((text, index) => ({ text, values: [], ...(index === copyIn?.statement ? { copy: copyIn } : {}) })), true, options.clientToken);
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

  private async submit(statements: PreparedStatement[], transaction: boolean, clientToken: string | undefined): Promise<string> {
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

  private async run(client: pg.PoolClient, statements: PreparedStatement[], transaction: boolean, submission: Submission): Promise<void> {
    const { description } = submission;
    description.status = 'STARTED';
    let current = 0;
    let unusable: Error | undefined;
    // The COPY's data, kept to say where in the staged files a value the server refused came from.
    let copied: AsyncIterable<Uint8Array> | undefined;
    try {
      if (transaction) await client.query('BEGIN');
      for (; current < statements.length; current++) {
        const statement = statements[current]!;
        const sub = description.statements[current]!;
        sub.status = 'STARTED';
        if (statement.copy !== undefined) {
          copied = copySource(statement.copy);
          sub.resultRows = await copyIn(client, statement.text, copied);
          sub.status = 'FINISHED';
          continue;
        }
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
      description.error = postgresMessage(error, copied);
      const failed = description.statements[current];
      if (failed !== undefined) {
        failed.status = 'FAILED';
        failed.error = description.error;
      }
      for (const later of description.statements.slice(current + 1)) later.status = 'ABORTED';
    } finally {
      if (unusable === undefined) {
        await client.query('DISCARD TEMP').catch((discard: unknown) => {
          unusable = discard as Error;
        });
      }
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

/**
 * Streams a COPY's data to the server; resolves to the rows copied. A failing data source sends
 * CopyFail, so the server ends the COPY (and the transaction fails) with the source's error.
 */
async function copyIn(client: pg.PoolClient, text: string, data: AsyncIterable<Uint8Array>): Promise<number> {
  const stream = client.query(copyFrom(text));
  await pipeline(Readable.from(data), stream);
  return stream.rowCount;
}

/** The copy's data; a `data()` that throws becomes a source that fails when read, so the COPY fails with its error. */
export function copySource(copy: CopyInput): AsyncIterable<Uint8Array> {
  try {
    return copy.data();
  } catch (error) {
    return (async function* (): AsyncGenerator<Uint8Array> {
      throw error;
    })();
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

/**
 * The error as PostgreSQL words it, with the detail it gives (the offending value or key) and,
 * for a COPY of staged files, the staged file and line the bad value came from.
 */
export function postgresMessage(error: unknown, copied?: AsyncIterable<Uint8Array>): string {
  const { message, detail, where } = error as { message?: string; detail?: string; where?: string };
  const text = detail ? `${message ?? String(error)} (${detail})` : (message ?? String(error));
  const location = stagedErrorLocation(where, copied);
  return location === undefined ? text : `${text}, at ${location}`;
}
