import { mkdir } from 'node:fs/promises';
import type { PGlite } from '@electric-sql/pglite';
import { PgliteWarehouse } from '../ports/pglite-warehouse.ts';
import type { ResultSet, SqlParameters, StatementDescription, SubmitOptions, TransactionOptions, Warehouse } from '../ports/warehouse.ts';
import { UsageError } from '../errors.ts';
import { identifierRule, quoteIdentifier, quoteQualifiedName } from '../sinks/sql/identifier.ts';
import type { SinkConfig } from '../spec/spec-types.ts';

/** A redshift or postgres sink as local runs load it. */
export type LocalWarehouseSink = Pick<SinkConfig<'redshift' | 'postgres'>, 'type' | 'table' | 'columns'>;

/** What a local run did to a sink's table before loading into it. */
export interface PreparedTable {
  /** The table as the spec names it. */
  table: string;
  /** Created by this run: absent before, now with every column `text`. */
  created: boolean;
  /** Columns of the spec the existing table lacked, added as `text`. */
  added: string[];
}

/** The rows a sink's table holds, for the CLI to show. */
export interface TableSample {
  table: string;
  count: number;
  columns: string[];
  rows: ResultSet['rows'];
}

/**
 * The warehouses of `ingest run --local`: one PGlite database in `directory` (`.ingest/pglite/`)
 * for every redshift and postgres sink of the spec (a redshift sink loads the PostgreSQL way,
 * COPY FROM STDIN), so a pipeline ends in a SQL table on a fresh machine without a server or an
 * account. Before a sink's first statement its table is made to fit: the schema and table are
 * created when missing, every column `text` (the spec gives names, not types), and columns the
 * spec gained since are added as `text`. The database opens on first use (starting it the first
 * time takes seconds) and must be closed with {@link LocalWarehouses.close}.
 */
export class LocalWarehouses {
  private database: Promise<PGlite> | undefined;
  private shared: PgliteWarehouse | undefined;
  private readonly prepared = new Map<string, Promise<PreparedTable>>();

  constructor(readonly directory: string) {}

  /** `Ports.warehouse`: the warehouse of one sink, preparing its table before its first statement. */
  readonly warehouse = (sinkId: string, config: LocalWarehouseSink): Warehouse => {
    // Fail at cold start, not at the first load, on a name PostgreSQL cannot take (Redshift allows longer ones).
    try {
      quoteQualifiedName(config.table, 'postgres');
      for (const column of config.columns) quoteIdentifier(column, 'postgres');
    } catch (error) {
      throw new UsageError(`sink ${sinkId}: ${(error as Error).message}: a local run loads into PostgreSQL (PGlite), whose names are ${identifierRule('postgres')}`, { cause: error });
    }
    return new PreparingWarehouse(() => this.pgliteWarehouse(), () => this.prepare(sinkId, config));
  };

  /** What was done to each sink's table so far, by sink id; a sink whose table could not be prepared is left out (its load reported why). */
  async preparedTables(): Promise<Map<string, PreparedTable>> {
    const tables = new Map<string, PreparedTable>();
    const settled = await Promise.allSettled([...this.prepared].map(async ([sinkId, prepared]) => [sinkId, await prepared] as const));
    for (const outcome of settled) if (outcome.status === 'fulfilled') tables.set(...outcome.value);
    return tables;
  }

  /** How many rows the sink's table holds and the first `limit` of them (ordered by its first column), preparing the table if no load did. */
  async sample(sinkId: string, config: LocalWarehouseSink, limit = 10): Promise<TableSample> {
    await this.prepare(sinkId, config);
    const db = await this.open();
    const table = quoteQualifiedName(config.table, 'postgres');
    const columns = config.columns.map((column) => quoteIdentifier(column, 'postgres'));
    const counted = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${table}`);
    const rows = await db.query<unknown[]>(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY 1 LIMIT ${Math.max(0, Math.trunc(limit))}`, [], { rowMode: 'array' });
    return { table: config.table, count: counted.rows[0]?.count ?? 0, columns: [...config.columns], rows: rows.rows.map((row) => row.map(sampleValue)) };
  }

  /** Closes the database, if it was opened: PGlite writes its last changes to the directory then. */
  async close(): Promise<void> {
    const opened = this.database;
    this.database = undefined;
    this.shared = undefined;
    if (opened) await (await opened).close();
  }

  private async pgliteWarehouse(): Promise<PgliteWarehouse> {
    const db = await this.open();
    this.shared ??= new PgliteWarehouse(db);
    return this.shared;
  }

  private open(): Promise<PGlite> {
    this.database ??= (async () => {
      await mkdir(this.directory, { recursive: true });
      // Imported when a run first loads a table, not by every local run.
      const { PGlite } = await import('@electric-sql/pglite');
      return PGlite.create({ dataDir: this.directory });
    })();
    return this.database;
  }

  private prepare(sinkId: string, config: LocalWarehouseSink): Promise<PreparedTable> {
    let prepared = this.prepared.get(sinkId);
    if (prepared === undefined) {
      prepared = this.open().then((db) => prepareTable(db, config));
      // A failure is reported to this caller and tried again by the next one.
      prepared.catch(() => this.prepared.delete(sinkId));
      this.prepared.set(sinkId, prepared);
    }
    return prepared;
  }
}

/**
 * Creates the schema and table when missing and adds the columns the table lacks, all as `text`.
 * Names are quoted as given (generated SQL always quotes them), so the catalog holds them as given.
 */
async function prepareTable(db: PGlite, config: LocalWarehouseSink): Promise<PreparedTable> {
  const [schema, name] = config.table.includes('.') ? config.table.split('.') as [string, string] : ['public', config.table];
  const qualified = quoteQualifiedName(config.table, 'postgres');
  const existing = await db.query<{ column_name: string }>(
    'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
    [schema, name],
  );
  if (existing.rows.length === 0) {
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema, 'postgres')}`);
    await db.exec(`CREATE TABLE IF NOT EXISTS ${qualified} (${config.columns.map((column) => `${quoteIdentifier(column, 'postgres')} text`).join(', ')})`);
    return { table: config.table, created: true, added: [] };
  }
  const present = new Set(existing.rows.map((row) => row.column_name));
  const added = config.columns.filter((column) => !present.has(column));
  for (const column of added) await db.exec(`ALTER TABLE ${qualified} ADD COLUMN ${quoteIdentifier(column, 'postgres')} text`);
  return { table: config.table, created: false, added };
}

function sampleValue(value: unknown): ResultSet['rows'][number][number] {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** A sink's view of the shared PGlite warehouse: its table is made to fit before its first statement. */
class PreparingWarehouse implements Warehouse {
  readonly dialect = 'postgres' as const;
  readonly copiesFromClient = true;

  constructor(
    private readonly warehouse: () => Promise<PgliteWarehouse>,
    private readonly prepare: () => Promise<unknown>,
  ) {}

  async execute(sql: string, parameters?: SqlParameters, options?: SubmitOptions): Promise<string> {
    await this.prepare();
    return (await this.warehouse()).execute(sql, parameters, options);
  }

  async executeTransaction(sqls: readonly string[], options?: TransactionOptions): Promise<string> {
    await this.prepare();
    return (await this.warehouse()).executeTransaction(sqls, options);
  }

  async describe(id: string): Promise<StatementDescription | undefined> {
    return (await this.warehouse()).describe(id);
  }

  async results(id: string): Promise<ResultSet> {
    return (await this.warehouse()).results(id);
  }
}
