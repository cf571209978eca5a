import { randomUUID } from 'node:crypto';
import { toPositionalParameters } from '../sinks/sql/named-parameters.ts';
import { stagedErrorLocation } from '../sinks/sql/postgres-load.ts';
import type { CopyInput, ResultSet, ResultValue, SqlParameters, StatementDescription, SubmitOptions, TransactionOptions, Warehouse } from './warehouse.ts';

/** What a statement returned, rows as arrays in field order. */
export interface SessionResult {
  fields: readonly { name: string; dataTypeID: number }[];
  rows: readonly unknown[][];
  /** Rows the command tag reports (changed or returned); null when it reports none. */
  rowCount: number | null | undefined;
}

/** A database session a submission runs on, alone, from its first statement to its last. */
export interface SqlSession {
  query(text: string, values: readonly string[]): Promise<SessionResult>;
  /** Runs a `COPY ... FROM STDIN` fed from `data`; resolves to the rows copied. Rejects with the data's error when reading it fails. */
  copyIn(text: string, data: AsyncIterable<Uint8Array>): Promise<number>;
  /** Gives the session back; `broken` says it is in an unknown state and must not be reused. */
  release(broken?: Error): void;
}

export interface SessionWarehouseOptions {
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
 * A `Warehouse` that runs each submission in this process on a PostgreSQL session of its own
 * (a pooled `pg` connection, or PGlite's one session held exclusively), as soon as it is
 * submitted; `describe` reports its progress. A transaction runs between `BEGIN` and `COMMIT`
 * and is rolled back when any statement fails; the statements after the failed one are
 * `ABORTED`. Statements submitted by another process, or forgotten, are unknown (`undefined`):
 * when a process dies its session ends and PostgreSQL rolls its open transaction back, so an
 * unknown statement either committed (and the load ledger table says so) or left nothing.
 *
 * A transaction's `COPY ... FROM STDIN` is fed from `copyIn`. As a Data API statement runs in a
 * session of its own, every submission ends with `DISCARD TEMP`: the load transaction's
 * temporary tables would otherwise outlive it in the session and collide with the next load's.
 */
export abstract class SessionWarehouse implements Warehouse {
  readonly dialect = 'postgres' as const;
  readonly copiesFromClient = true;
  private readonly submissions = new Map<string, Submission>();
  private readonly tokens = new Map<string, string>();
  private readonly remembered: number;

  constructor(options: SessionWarehouseOptions = {}) {
    this.remembered = options.remembered ?? 1000;
  }

  /** A session for one submission, held until `release`. */
  protected abstract session(): Promise<SqlSession>;

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
    const session = await this.session();
    // Runs on after the id is returned, as a Data API statement does; `describe` follows it.
    void this.run(session, statements, transaction, submission);
    return id;
  }

  private async run(session: SqlSession, statements: PreparedStatement[], transaction: boolean, submission: Submission): Promise<void> {
    const { description } = submission;
    description.status = 'STARTED';
    let current = 0;
    let unusable: Error | undefined;
    // The COPY's data, kept to say where in the staged files a value the server refused came from.
    let copied: AsyncIterable<Uint8Array> | undefined;
    try {
      if (transaction) await session.query('BEGIN', []);
      for (; current < statements.length; current++) {
        const statement = statements[current]!;
        const sub = description.statements[current]!;
        sub.status = 'STARTED';
        if (statement.copy !== undefined) {
          copied = copySource(statement.copy);
          sub.resultRows = await session.copyIn(statement.text, copied);
          sub.status = 'FINISHED';
          continue;
        }
        const result = await session.query(statement.text, statement.values);
        sub.status = 'FINISHED';
        sub.hasResultSet = result.fields.length > 0;
        sub.resultRows = result.fields.length > 0 ? result.rows.length : (result.rowCount ?? -1);
        submission.results[current] = sub.hasResultSet ? resultSetOf(result) : undefined;
      }
      if (transaction) await session.query('COMMIT', []);
      description.status = 'FINISHED';
    } catch (error) {
      if (transaction) await session.query('ROLLBACK', []).catch((rollback: unknown) => {
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
        await session.query('DISCARD TEMP', []).catch((discard: unknown) => {
          unusable = discard as Error;
        });
      }
      // A session whose rollback failed is in an unknown state: destroy it instead of reusing it.
      session.release(unusable);
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

/** The copy's data; a `data()` that throws becomes a source that fails when read, so the COPY fails with its error. */
function copySource(copy: CopyInput): AsyncIterable<Uint8Array> {
  try {
    return copy.data();
  } catch (error) {
    return (async function* (): AsyncGenerator<Uint8Array> {
      throw error;
    })();
  }
}

const INT8_OID = 20;

function resultSetOf(result: SessionResult): ResultSet {
  // `pg` gives BIGINT as text; the Data API gives it as a number (`longValue`): answer alike.
  const bigints = result.fields.map((field) => field.dataTypeID === INT8_OID);
  return {
    columns: result.fields.map((field) => field.name),
    rows: result.rows.map((row) => row.map((value, index) => (bigints[index] && typeof value === 'string' ? Number(value) : resultValue(value)))),
  };
}

/** Drivers parse numbers, booleans, dates and JSON; the port's values are text, numbers, booleans and null. */
function resultValue(value: unknown): ResultValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
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
function postgresMessage(error: unknown, copied?: AsyncIterable<Uint8Array>): string {
  const { message, detail, where } = error as { message?: string; detail?: string; where?: string };
  const text = detail ? `${message ?? String(error)} (${detail})` : (message ?? String(error));
  const location = stagedErrorLocation(where, copied);
  return location === undefined ? text : `${text}, at ${location}`;
}
