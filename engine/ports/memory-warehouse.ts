import { randomUUID } from 'node:crypto';
import type { SqlDialect } from '../sinks/sql/identifier.ts';
import type { ResultSet, SqlParameters, StatementDescription, SubmitOptions, Warehouse } from './warehouse.ts';

/** A submission as the memory warehouse received it. */
export interface MemorySubmission {
  id: string;
  sqls: string[];
  parameters?: SqlParameters;
  transaction: boolean;
  clientToken?: string;
}

/** How a scripted submission ends, or `running` to leave it going until {@link MemoryWarehouse.end}. */
export type MemoryOutcome =
  | { status: 'FINISHED'; results?: (ResultSet | undefined)[] }
  | { status: 'FAILED'; error: string; failedStatement?: number }
  | { status: 'ABORTED' }
  | 'running';

export interface MemoryWarehouseOptions {
  dialect?: SqlDialect;
  /** Decides how each submission ends [every submission finishes without results]. */
  answer?: (submission: MemorySubmission) => MemoryOutcome;
}

/**
 * A scripted `Warehouse` for unit tests of the loader: it runs no SQL, records every submission,
 * and ends each as `answer` says, or leaves it `STARTED` until the test calls `end` (a COPY still
 * running when the Lambda times out). Honours client tokens like the Data API. `describes`
 * counts `describe` calls, to check polling back-off.
 */
export class MemoryWarehouse implements Warehouse {
  readonly dialect: SqlDialect;
  readonly copiesFromClient = false;
  readonly submissions: MemorySubmission[] = [];
  describes = 0;
  private readonly answer: (submission: MemorySubmission) => MemoryOutcome;
  private readonly descriptions = new Map<string, StatementDescription>();
  private readonly resultSets = new Map<string, ResultSet>();
  private readonly tokens = new Map<string, string>();

  constructor(options: MemoryWarehouseOptions = {}) {
    this.dialect = options.dialect ?? 'redshift';
    this.answer = options.answer ?? (() => ({ status: 'FINISHED' }));
  }

  async execute(sql: string, parameters?: SqlParameters, options: SubmitOptions = {}): Promise<string> {
    return this.submit([sql], false, options, parameters);
  }

  async executeTransaction(sqls: readonly string[], options: SubmitOptions = {}): Promise<string> {
    if (sqls.length === 0) throw new RangeError('a transaction needs at least one statement');
    return this.submit([...sqls], true, options);
  }

  async describe(id: string): Promise<StatementDescription | undefined> {
    this.describes++;
    const description = this.descriptions.get(id);
    return description && structuredClone(description);
  }

  async results(id: string): Promise<ResultSet> {
    const result = this.resultSets.get(id);
    if (result === undefined) throw new Error(`statement ${id} has no result set`);
    return result;
  }

  /** Ends a submission left running. Throws when it is unknown or has ended. */
  end(id: string, outcome: Exclude<MemoryOutcome, 'running'>): void {
    const description = this.descriptions.get(id);
    if (description === undefined || description.status !== 'STARTED') throw new Error(`statement ${id} is not running`);
    this.settle(description, outcome);
  }

  /** Forgets a submission, as the Data API does after a day. */
  forget(id: string): void {
    this.descriptions.delete(id);
  }

  private submit(sqls: string[], transaction: boolean, options: SubmitOptions, parameters?: SqlParameters): string {
    const earlier = options.clientToken === undefined ? undefined : this.tokens.get(options.clientToken);
    if (earlier !== undefined) return earlier;
    const id = randomUUID();
    const submission: MemorySubmission = { id, sqls, transaction, ...(parameters ? { parameters } : {}), ...(options.clientToken ? { clientToken: options.clientToken } : {}) };
    this.submissions.push(submission);
    if (options.clientToken !== undefined) this.tokens.set(options.clientToken, id);
    const description: StatementDescription = {
      id,
      status: 'STARTED',
      statements: sqls.map((_, index) => ({ id: transaction ? `${id}:${index + 1}` : id, status: 'STARTED', resultRows: -1, hasResultSet: false })),
    };
    this.descriptions.set(id, description);
    const outcome = this.answer(submission);
    if (outcome !== 'running') this.settle(description, outcome);
    return id;
  }

  private settle(description: StatementDescription, outcome: Exclude<MemoryOutcome, 'running'>): void {
    description.status = outcome.status;
    if (outcome.status === 'FINISHED') {
      description.statements.forEach((statement, index) => {
        const result = outcome.results?.[index];
        statement.status = 'FINISHED';
        statement.hasResultSet = result !== undefined;
        statement.resultRows = result?.rows.length ?? 0;
        if (result !== undefined) this.resultSets.set(statement.id, result);
      });
    } else if (outcome.status === 'FAILED') {
      const failed = outcome.failedStatement ?? 0;
      description.error = outcome.error;
      description.statements.forEach((statement, index) => {
        statement.status = index < failed ? 'FINISHED' : index === failed ? 'FAILED' : 'ABORTED';
        if (index === failed) statement.error = outcome.error;
      });
    } else {
      for (const statement of description.statements) statement.status = 'ABORTED';
    }
  }
}
