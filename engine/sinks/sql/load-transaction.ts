/**
 * The statements of one exactly-once load of a batch of staged files into a table, in the order
 * they run as one transaction. Design: docs/decisions/0031-exactly-once-warehouse-loads.md.
 *
 * Every identifier is validated and quoted; the few values written into the text (the sink's
 * ledger scope, the batch number, S3 URLs, the IAM role, COPY formats, the load time) are made by
 * the engine and pass `quoteLiteral`, which refuses anything that would need escaping. Record
 * values never appear: they reach the table through COPY from the staged files.
 */
import type { SqlDialect } from './identifier.ts';
import { quoteIdentifier, quoteQualifiedName } from './identifier.ts';
import { quoteLiteral } from './literal.ts';
import type { CopyOptions } from '../../spec/spec-types.ts';

/**
 * Hidden columns every staged row carries after its table columns: the record's source identity
 * (see the decision record). They exist only in the temporary staging table, never in the target.
 */
export const IDENTITY_COLUMNS = [
  { name: '_ingest_source', type: 'VARCHAR(128)' },
  { name: '_ingest_partition', type: 'VARCHAR(256)' },
  { name: '_ingest_position', type: 'VARCHAR(160)' },
  { name: '_ingest_sub_position', type: 'VARCHAR(24)' },
  { name: '_ingest_arrival', type: 'TIMESTAMP' },
  { name: '_ingest_file', type: 'VARCHAR(184)' },
] as const;

/** The key of a staged JSON row that holds its identity, as a list in `IDENTITY_COLUMNS` order. */
export const IDENTITY_FIELD = '_ingest';

/** Names sink columns may not take: they would collide with the staging table's hidden columns. */
export function isReservedColumn(name: string): boolean {
  return name.toLowerCase().startsWith(IDENTITY_FIELD);
}

/** The tables in the target database that make loads idempotent. */
export const LOADS_TABLE = 'ingest_loads';
export const RANGES_TABLE = 'ingest_loaded_ranges';

/** Everything one load needs. */
export interface LoadPlan {
  dialect: SqlDialect;
  /** The sink's ledger scope, `<pipeline>/<sink id>`. */
  scope: string;
  batch: number;
  /**
   * When the ledger sealed the batch, in epoch milliseconds. With the batch number it is the
   * load's identity in the loads table: a ledger made anew (a stack deleted and deployed again)
   * numbers its batches from 1 again, and its batch 1 must not pass for the old one.
   */
  sealedAt: number;
  /** Target table, `table` or `schema.table`. */
  table: string;
  columns: readonly string[];
  mode: 'append' | 'upsert';
  keys?: readonly string[];
  /** Schema of the loads and ranges tables. */
  stateSchema: string;
  /** When the load runs: written to the ledger tables. */
  loadedAt: Date;
  /** Rendered `pre_sql` and `post_sql` statements. */
  preSql?: readonly string[];
  postSql?: readonly string[];
}

/** What a Redshift load adds: where COPY reads from, and how. */
export interface RedshiftCopyPlan {
  manifestUrl: string;
  format: 'jsonl' | 'csv';
  /** `s3://` URL of the jsonpaths document ({@link jsonPathsDocument}); jsonl only. */
  jsonPathsUrl?: string;
  /** IAM role ARN; `IAM_ROLE default` without one. */
  iamRole?: string;
  copy?: CopyOptions;
  /**
   * Where Redshift reports rejected rows: `sys_load_error_detail` on Serverless (the default),
   * `stl_load_errors` on a provisioned cluster.
   */
  errorTable?: LoadErrorTable;
}

/** The system tables that hold COPY's rejected rows. */
export type LoadErrorTable = 'sys_load_error_detail' | 'stl_load_errors';

/**
 * A SELECT of the rows a COPY rejected, with the same five columns from either table
 * (`file_name, line_number, column_name, error_code, error_message`), first file and line first.
 * `queryId` is SQL text: `pg_last_copy_id()` inside the load transaction, or a `:query_id`
 * parameter when read after a failed load (the rows outlive its rollback).
 */
export function loadErrorsSelect(table: LoadErrorTable, queryId: string, limit?: number): string {
  const columns = table === 'stl_load_errors'
    ? 'trim(filename) AS file_name, line_number, trim(colname) AS column_name, err_code AS error_code, trim(err_reason) AS error_message FROM stl_load_errors WHERE query'
    : 'trim(file_name) AS file_name, line_number, trim(column_name) AS column_name, error_code, trim(error_message) AS error_message FROM sys_load_error_detail WHERE query_id';
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new TypeError(`limit must be a positive integer, not ${limit}`);
  return `SELECT ${columns} = ${queryId} ORDER BY file_name, line_number${limit === undefined ? '' : ` LIMIT ${limit}`}`;
}

/** A load transaction and where to find what it reports. */
export interface LoadTransaction {
  statements: string[];
  /** Index of the statement that returns COPY's rejected rows (when `max_error` is above 0). */
  errorsStatement?: number;
  /** Index of the statement returning one row: rows staged, rows written (0 when the batch was loaded before). */
  countsStatement: number;
}

const STAGED = quoteIdentifier('ingest_staged', 'postgres');
const FRESH = quoteIdentifier('ingest_fresh', 'postgres');
const LATEST = quoteIdentifier('ingest_latest', 'postgres');

/**
 * Creates the loads and ranges tables when missing. Run once per cold start, outside the load
 * transactions (concurrent `CREATE TABLE IF NOT EXISTS` may race inside them).
 */
export function stateTableStatements(dialect: SqlDialect, stateSchema: string): string[] {
  const schema = quoteIdentifier(stateSchema, dialect);
  return [
    `CREATE TABLE IF NOT EXISTS ${schema}.${quoteIdentifier(LOADS_TABLE, dialect)} (sink VARCHAR(256) NOT NULL, batch BIGINT NOT NULL, `
      + 'sealed_at BIGINT NOT NULL, rows_staged BIGINT NOT NULL, rows_written BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL)',
    `CREATE TABLE IF NOT EXISTS ${schema}.${quoteIdentifier(RANGES_TABLE, dialect)} (sink VARCHAR(256) NOT NULL, source VARCHAR(128) NOT NULL, `
      + 'partition VARCHAR(256) NOT NULL, batch BIGINT NOT NULL, first_key VARCHAR(180) NOT NULL, last_key VARCHAR(180) NOT NULL, loaded_at TIMESTAMP NOT NULL)',
  ];
}

/** The jsonpaths document COPY maps staged JSON rows with: the table columns, then the identity list. */
export function jsonPathsDocument(columns: readonly string[]): { jsonpaths: string[] } {
  return {
    jsonpaths: [
      ...columns.map((column) => `$['${column}']`),
      ...IDENTITY_COLUMNS.map((_, index) => `$['${IDENTITY_FIELD}'][${index}]`),
    ],
  };
}

/**
 * The whole Redshift load: staging table, COPY from the manifest, then {@link applyStatements}.
 * `copyStatement` is the COPY's index, whose query id names its rejected rows after a failure.
 */
export function redshiftLoadTransaction(plan: LoadPlan, copy: RedshiftCopyPlan): LoadTransaction & { copyStatement: number } {
  const begin = beginStatements(plan);
  const statements = [...begin, copyStatement(plan, copy)];
  let errorsStatement: number | undefined;
  if ((copy.copy?.max_error ?? 0) > 0) {
    errorsStatement = statements.length;
    statements.push(loadErrorsSelect(copy.errorTable ?? 'sys_load_error_detail', 'pg_last_copy_id()'));
  }
  const applied = applyStatements(plan);
  statements.push(...applied);
  return { statements, copyStatement: begin.length, countsStatement: statements.length - 1, ...(errorsStatement === undefined ? {} : { errorsStatement }) };
}

/**
 * The lock that serializes loads into one database, `pre_sql`, and the empty staging table:
 * the target's columns (their types copied by CREATE TABLE AS) and the identity columns.
 */
export function beginStatements(plan: LoadPlan): string[] {
  const { dialect } = plan;
  const target = quoteQualifiedName(plan.table, dialect);
  const columns = plan.columns.map((column) => quoteIdentifier(column, dialect));
  const identity = IDENTITY_COLUMNS.map((column) => `CAST(NULL AS ${column.type}) AS ${quoteIdentifier(column.name, dialect)}`);
  return [
    `LOCK ${stateTable(plan, LOADS_TABLE)}`,
    ...(plan.preSql ?? []),
    `CREATE TEMP TABLE ${STAGED} AS SELECT ${[...columns, ...identity].join(', ')} FROM ${target} WHERE 1 = 0`,
  ];
}

/** Redshift's COPY of the batch's manifest into the staging table. */
export function copyStatement(plan: LoadPlan, copy: RedshiftCopyPlan): string {
  const { dialect } = plan;
  const columns = [...plan.columns, ...IDENTITY_COLUMNS.map((column) => column.name)].map((column) => quoteIdentifier(column, dialect));
  const options = copy.copy ?? {};
  const parts = [
    `COPY ${STAGED} (${columns.join(', ')}) FROM ${quoteLiteral(copy.manifestUrl)}`,
    copy.iamRole === undefined ? 'IAM_ROLE default' : `IAM_ROLE ${quoteLiteral(copy.iamRole)}`,
    'MANIFEST',
  ];
  if (copy.format === 'csv') {
    parts.push('FORMAT AS CSV');
  } else {
    if (copy.jsonPathsUrl === undefined) throw new TypeError('a jsonl load needs the URL of its jsonpaths document');
    parts.push(`FORMAT AS JSON ${quoteLiteral(copy.jsonPathsUrl)}`);
  }
  parts.push('GZIP', `TIMEFORMAT ${quoteLiteral(options.timeformat ?? 'auto')}`, `DATEFORMAT ${quoteLiteral(options.dateformat ?? 'auto')}`);
  const maxError = options.max_error ?? 0;
  if (!Number.isSafeInteger(maxError) || maxError < 0) throw new TypeError(`max_error must be a non-negative integer, not ${maxError}`);
  if (maxError > 0) parts.push(`MAXERROR ${maxError}`);
  if (options.truncate_columns) parts.push('TRUNCATECOLUMNS');
  if (options.blanks_as_null) parts.push('BLANKSASNULL');
  if (options.empty_as_null) parts.push('EMPTYASNULL');
  if (options.accept_inv_chars === true) parts.push('ACCEPTINVCHARS');
  else if (typeof options.accept_inv_chars === 'string') parts.push(`ACCEPTINVCHARS AS ${quoteLiteral(options.accept_inv_chars)}`);
  if (options.comp_update !== undefined) parts.push(`COMPUPDATE ${options.comp_update ? 'ON' : 'OFF'}`);
  if (options.stat_update !== undefined) parts.push(`STATUPDATE ${options.stat_update ? 'ON' : 'OFF'}`);
  return parts.join(' ');
}

/**
 * From a filled staging table to the target, for both warehouses: keep one row per record
 * identity, drop records inside ranges loaded before (and everything when the batch itself was
 * loaded before), append or merge, record the batch's ranges and its load, `post_sql`, and a
 * last statement returning `rows_staged, rows_written`.
 */
export function applyStatements(plan: LoadPlan): string[] {
  const { dialect } = plan;
  if (!Number.isSafeInteger(plan.batch) || plan.batch < 1) throw new TypeError(`batch must be a positive integer, not ${plan.batch}`);
  const q = (name: string) => quoteIdentifier(name, dialect);
  const target = quoteQualifiedName(plan.table, dialect);
  const columns = plan.columns.map(q);
  const scope = quoteLiteral(plan.scope);
  const loadedAt = quoteLiteral(plan.loadedAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ''));
  const loads = stateTable(plan, LOADS_TABLE);
  const ranges = stateTable(plan, RANGES_TABLE);
  const [source, partition, position, subPosition, arrival, file] = IDENTITY_COLUMNS.map((column) => q(column.name)) as [string, string, string, string, string, string];
  if (!Number.isSafeInteger(plan.sealedAt) || plan.sealedAt < 0) throw new TypeError(`sealedAt must be a non-negative integer, not ${plan.sealedAt}`);
  const notLoadedBefore = `NOT EXISTS (SELECT 1 FROM ${loads} WHERE sink = ${scope} AND batch = ${plan.batch} AND sealed_at = ${plan.sealedAt})`;
  // Positions are length-prefixed digit strings and sub-positions fixed-width digits
  // (record-identity.ts), so this key sorts as the pair does, in any collation.
  const key = (alias: string) => `${alias}.${position} || ${alias}.${subPosition}`;

  const statements = [
    `CREATE TEMP TABLE ${FRESH} AS SELECT s.* FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY ${source}, ${partition}, ${position}, ${subPosition} ORDER BY ${arrival}) AS ${q('_ingest_copy')} FROM ${STAGED}) s `
      + `LEFT JOIN ${ranges} r ON r.sink = ${scope} AND r.source = s.${source} AND r.partition = s.${partition} AND ${key('s')} BETWEEN r.first_key AND r.last_key `
      + `WHERE s.${q('_ingest_copy')} = 1 AND r.sink IS NULL AND ${notLoadedBefore}`,
  ];
  if (plan.mode === 'append') {
    statements.push(`INSERT INTO ${target} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM ${FRESH}`);
  } else {
    const keys = (plan.keys ?? []).map(q);
    if (keys.length === 0) throw new TypeError('an upsert needs keys');
    const others = plan.columns.filter((column) => !(plan.keys ?? []).includes(column)).map(q);
    // A table of only keys still needs an UPDATE clause (Redshift requires both); it changes nothing.
    const assignments = (others.length > 0 ? others : keys).map((column) => `${column} = ${LATEST}.${column}`);
    statements.push(
      `CREATE TEMP TABLE ${LATEST} AS SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY ${keys.join(', ')} `
        + `ORDER BY ${arrival} DESC, ${position} DESC, ${subPosition} DESC) AS ${q('_ingest_rank')} FROM ${FRESH}) x WHERE ${q('_ingest_rank')} = 1`,
      `MERGE INTO ${target} USING ${LATEST} ON ${keys.map((column) => `${target}.${column} = ${LATEST}.${column}`).join(' AND ')} `
        + `WHEN MATCHED THEN UPDATE SET ${assignments.join(', ')} `
        + `WHEN NOT MATCHED THEN INSERT (${columns.join(', ')}) VALUES (${columns.map((column) => `${LATEST}.${column}`).join(', ')})`,
    );
  }
  statements.push(
    // One range per partition per staged file: a file holds a contiguous stretch of each of its
    // partitions, a batch need not (duplicate deliveries processed at the same time interleave).
    `INSERT INTO ${ranges} (sink, source, partition, batch, first_key, last_key, loaded_at) `
      + `SELECT ${scope}, ${source}, ${partition}, ${plan.batch}, MIN(${key(STAGED)}), MAX(${key(STAGED)}), ${loadedAt} FROM ${STAGED} `
      + `WHERE ${notLoadedBefore} GROUP BY ${source}, ${partition}, ${file}`,
    `INSERT INTO ${loads} (sink, batch, sealed_at, rows_staged, rows_written, loaded_at) SELECT ${scope}, ${plan.batch}, ${plan.sealedAt}, staged.n, fresh.n, ${loadedAt} `
      + `FROM (SELECT COUNT(*) AS n FROM ${STAGED}) staged, (SELECT COUNT(*) AS n FROM ${FRESH}) fresh WHERE ${notLoadedBefore}`,
    ...(plan.postSql ?? []),
    `SELECT (SELECT COUNT(*) FROM ${STAGED}) AS rows_staged, (SELECT COUNT(*) FROM ${FRESH}) AS rows_written`,
  );
  return statements;
}

function stateTable(plan: LoadPlan, table: string): string {
  return `${quoteIdentifier(plan.stateSchema, plan.dialect)}.${quoteIdentifier(table, plan.dialect)}`;
}
