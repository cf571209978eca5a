/**
 * The warehouse port: submit SQL, follow it to its end, read its results. Shaped after the
 * Redshift Data API, whose statements outlive the invocation that submitted them: a statement is
 * submitted, answered with an id at once, and described until it ends, so a later invocation can
 * resume following a statement an earlier one submitted. See
 * docs/decisions/0031-exactly-once-warehouse-loads.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlDialect } from '../sinks/sql/identifier.ts';

/** A statement's state, as the Data API names them. */
export type StatementStatus = 'SUBMITTED' | 'PICKED' | 'STARTED' | 'FINISHED' | 'FAILED' | 'ABORTED';

/** The states a statement never leaves. */
export const TERMINAL_STATUSES: ReadonlySet<StatementStatus> = new Set(['FINISHED', 'FAILED', 'ABORTED']);

/** One statement of a submission (a single statement, or one of a transaction's). */
export interface SubStatement {
  /** Id to fetch this statement's results with: for transactions, `<id>:<1-based index>`. */
  id: string;
  status: StatementStatus;
  error?: string;
  /** Rows the statement returned or changed; -1 when unknown. */
  resultRows: number;
  hasResultSet: boolean;
  /** The warehouse's query id (Redshift's `query_id` of `sys_load_error_detail`), when it gives one. */
  queryId?: number;
}

/** What a warehouse says about a submission. */
export interface StatementDescription {
  id: string;
  status: StatementStatus;
  /** The database's error, when `FAILED`. */
  error?: string;
  /** The statements of the submission, in order (one for `execute`). */
  statements: SubStatement[];
}

/** A value of a result row: text, numbers and booleans as the warehouse typed them, SQL NULL as `null`. */
export type ResultValue = string | number | boolean | null;

export interface ResultSet {
  columns: string[];
  rows: ResultValue[][];
}

/**
 * Named parameters of a statement, referenced as `:name` in its SQL. Values are always sent as
 * text (the Data API's only kind); the database casts them to the column's type. Every record
 * value that reaches SQL goes through here or through COPY, never into the SQL text.
 */
export type SqlParameters = Readonly<Record<string, string>>;

/** How a submission is labelled. */
export interface SubmitOptions {
  /**
   * Idempotency token: submitting again with the same token (a retried request whose answer was
   * lost) returns the first submission's id instead of running the SQL twice.
   */
  clientToken?: string;
  /** A name shown in the warehouse's statement history (the Data API's `StatementName`). */
  name?: string;
}

/**
 * Data for the one `COPY ... FROM STDIN` statement of a transaction: how a PostgreSQL load fills
 * its staging table from the staged files (Redshift's COPY reads S3 itself and needs none).
 */
export interface CopyInput {
  /** Index, in the transaction's statements, of the `COPY ... FROM STDIN` it feeds. */
  statement: number;
  /** The bytes COPY reads, in the format its statement names; called once, when the statement runs. */
  data(): AsyncIterable<Uint8Array>;
}

export interface TransactionOptions extends SubmitOptions {
  /** Feeds a `COPY ... FROM STDIN` statement. Only warehouses with `copiesFromClient` accept it. */
  copyIn?: CopyInput;
}

/**
 * Where statements run. Adapters: the Redshift Data API (`RedshiftDataWarehouse`), PostgreSQL
 * through `pg` (`PostgresWarehouse`), and memory (`MemoryWarehouse`, scripted, for unit tests).
 */
export interface Warehouse {
  /** Which SQL the warehouse speaks, for identifier limits and dialect differences. */
  readonly dialect: SqlDialect;
  /** True when transactions accept `copyIn` (PostgreSQL, PGlite); the Data API does not. */
  readonly copiesFromClient: boolean;
  /** Submits one statement without waiting for it; resolves to its id. Rejects when it cannot be submitted. */
  execute(sql: string, parameters?: SqlParameters, options?: SubmitOptions): Promise<string>;
  /**
   * Submits statements that run in order as one transaction (all commit, or none), without
   * waiting; resolves to the id of the whole. Transaction statements take no parameters (as in
   * the Data API), so their SQL must hold only identifiers and engine-made literals.
   */
  executeTransaction(sqls: readonly string[], options?: TransactionOptions): Promise<string>;
  /**
   * Where a submission is now. Resolves to `undefined` when the warehouse does not know the id
   * (the Data API forgets statements after a day; the PostgreSQL adapter knows only its own
   * process's): a caller then treats it as never having committed, which the load ledger in the
   * target database makes safe.
   */
  describe(id: string): Promise<StatementDescription | undefined>;
  /** The rows a finished statement returned; `id` is a sub-statement's id for a transaction. Rejects when it has no result set. */
  results(id: string): Promise<ResultSet>;
}

export interface WaitOptions {
  /** Epoch milliseconds after which waiting stops and the last description is returned, ended or not. */
  deadline: number;
  /** First pause between descriptions [100 ms]; each pause is 1.5 times the last, jittered. */
  initialDelayMs?: number;
  /** Longest pause [5 s]. */
  maxDelayMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * Describes a statement with back-off until it ends (`FINISHED`, `FAILED`, `ABORTED`) or the
 * deadline passes, and resolves to the last description: a statement still running at the
 * deadline is returned as it is, for the caller to record and resume later (never to submit
 * again). Resolves to `undefined` when the warehouse does not know the id. Rejects only when
 * describing fails.
 */
export async function waitForStatement(warehouse: Warehouse, id: string, options: WaitOptions): Promise<StatementDescription | undefined> {
  const now = options.now ?? Date.now;
  const maxDelay = options.maxDelayMs ?? 5_000;
  let delay = options.initialDelayMs ?? 100;
  for (;;) {
    const description = await warehouse.describe(id);
    if (description === undefined || TERMINAL_STATUSES.has(description.status)) return description;
    const left = options.deadline - now();
    if (left <= 0) return description;
    await sleep(Math.min(left, delay * (0.75 + Math.random() / 2)));
    delay = Math.min(maxDelay, delay * 1.5);
  }
}

/** A statement that ended without finishing. */
export class StatementFailedError extends Error {
  override name = 'StatementFailedError';
  constructor(readonly description: StatementDescription) {
    super(`statement ${description.id} ${description.status.toLowerCase()}${description.error === undefined ? '' : `: ${description.error}`}`);
  }
}

/**
 * Runs one statement and returns its rows (an empty set for a statement without any): for the
 * short reads and setup statements around a load. Rejects with `StatementFailedError` when the
 * statement fails, and with a plain error when it is still running at the deadline.
 */
export async function query(warehouse: Warehouse, sql: string, parameters: SqlParameters | undefined, options: WaitOptions): Promise<ResultSet> {
  const id = await warehouse.execute(sql, parameters);
  const description = await waitForStatement(warehouse, id, options);
  if (description === undefined) throw new Error(`statement ${id} is unknown to the warehouse`);
  if (description.status !== 'FINISHED') {
    if (TERMINAL_STATUSES.has(description.status)) throw new StatementFailedError(description);
    throw new Error(`statement ${id} was still ${description.status.toLowerCase()} at the deadline`);
  }
  const statement = description.statements[0];
  if (statement === undefined || !statement.hasResultSet) return { columns: [], rows: [] };
  return warehouse.results(statement.id);
}
