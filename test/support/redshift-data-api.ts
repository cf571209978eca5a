// A Redshift Data API endpoint for tests, backed by the real PostgreSQL of the test run (moto's
// Data API accepts statements but never runs them). The production adapter
// (engine/ports/redshift-data-warehouse.ts) talks to it unchanged through the SDK's `endpoint`.
//
// Speaks the JSON 1.1 protocol (`X-Amz-Target: RedshiftData.<Operation>`): ExecuteStatement,
// BatchExecuteStatement (one transaction), DescribeStatement, GetStatementResult and
// CancelStatement. Like the Data API, each submission runs in a session of its own (temporary
// tables end with it) and is answered with an id at once; it runs in the background.
//
// Redshift's COPY is emulated: `COPY t [(columns)] FROM 's3://bucket/key' [MANIFEST] ...` reads
// the manifest's objects (or the objects under the prefix) from moto S3: JSON lines, with
// `jsonpaths` or 'auto', or CSV; GZIP; MAXERROR; TRUNCATECOLUMNS, BLANKSASNULL, EMPTYASNULL,
// ACCEPTINVCHARS; TIMEFORMAT 'auto' | 'epochsecs' | 'epochmillisecs'. Rejected rows are shown by
// `sys_load_error_detail` (serverless) and `stl_load_errors` (provisioned, with the raw line)
// views with Redshift's columns, written outside the load's transaction (so they outlive its
// rollback, as in Redshift); `pg_last_copy_id()` and `pg_last_copy_count()`
// answer for the session's last COPY, and `getdate()` exists.
//
// Not emulated: Redshift's type system and SQL beyond what PostgreSQL 15 shares with it, COPY
// options not listed above (they fail the statement, naming the option), multi-line JSON
// objects, result formats other than JSON, and authentication (any
// signature is accepted).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { parse as parseCsv } from 'csv-parse/sync';
import pg from 'pg';
import { toPositionalParameters } from '../../engine/sinks/sql/named-parameters.ts';

export interface RedshiftDataApiOptions {
  /** Any connection string of the PostgreSQL server; the database of each request replaces its database. */
  connectionString: string;
  /** Reads COPY's manifests and staged objects (moto). */
  s3: S3Client;
  /** Rows per GetStatementResult page [1000]; small values exercise pagination. */
  pageRows?: number;
}

type Status = 'SUBMITTED' | 'PICKED' | 'STARTED' | 'FINISHED' | 'FAILED' | 'ABORTED';

interface Column {
  name: string;
  typeName: string;
}

interface SubStatementState {
  id: string;
  sql: string;
  status: Status;
  error?: string;
  resultRows: number;
  hasResultSet: boolean;
  columns?: Column[];
  rows?: unknown[][];
  createdAt: number;
  updatedAt: number;
  queryId: number;
}

interface StatementState {
  id: string;
  database: string;
  status: Status;
  error?: string;
  batch: boolean;
  statements: SubStatementState[];
  createdAt: number;
  updatedAt: number;
  pid?: number;
  cancelled: boolean;
  request: Record<string, unknown>;
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A failure of one statement, worded as Redshift words them. */
class StatementError extends Error {}

const PG_TYPES: Record<number, string> = {
  16: 'bool', 20: 'int8', 21: 'int2', 23: 'int4', 25: 'text', 700: 'float4', 701: 'float8', 1043: 'varchar', 1042: 'bpchar',
  1082: 'date', 1114: 'timestamp', 1184: 'timestamptz', 1700: 'numeric', 114: 'json', 3802: 'jsonb', 2950: 'uuid',
};
const LONG_TYPES = new Set(['int2', 'int4', 'int8']);
const DOUBLE_TYPES = new Set(['float4', 'float8']);

/**
 * A running emulator. Start it with {@link RedshiftDataApiEmulator.start} in the test file that
 * needs it (127.0.0.1, a free port) and `stop` it in `afterAll`.
 */
export class RedshiftDataApiEmulator {
  private readonly statements = new Map<string, StatementState>();
  private readonly tokens = new Map<string, string>();
  private readonly pools = new Map<string, { pool: pg.Pool; ready: Promise<void> }>();
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private readonly pageRows: number;

  private constructor(
    private readonly server: Server,
    private readonly options: RedshiftDataApiOptions,
    /** The endpoint to give the SDK client: `http://127.0.0.1:PORT`. */
    readonly url: string,
  ) {
    this.pageRows = options.pageRows ?? 1000;
  }

  /** Starts the endpoint on 127.0.0.1 and a port the system picks. */
  static async start(options: RedshiftDataApiOptions): Promise<RedshiftDataApiEmulator> {
    let emulator: RedshiftDataApiEmulator | undefined;
    const server = createServer((request, response) => {
      void emulator!.handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    emulator = new RedshiftDataApiEmulator(server, options, `http://127.0.0.1:${port}`);
    return emulator;
  }

  /** Stops serving and closes every database connection. Statements still running are left to fail. */
  async stop(): Promise<void> {
    this.release?.();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    await Promise.all([...this.pools.values()].map(({ pool }) => pool.end()));
  }

  /**
   * Holds every submission from now on in `STARTED` without running it, as a long COPY would be,
   * until the returned function is called. For tests of a Lambda that times out while its load runs.
   */
  hold(): () => void {
    if (this.held === undefined) {
      this.held = new Promise<void>((resolve) => {
        this.release = () => {
          this.held = undefined;
          this.release = undefined;
          resolve();
        };
      });
    }
    return this.release!;
  }

  /** Submissions received so far, oldest first: SQL and final status, for assertions. */
  submissions(): { id: string; sqls: string[]; status: Status }[] {
    return [...this.statements.values()].map((state) => ({ id: state.id, sqls: state.statements.map((statement) => statement.sql), status: state.status }));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const target = String(request.headers['x-amz-target'] ?? '');
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const operation = target.startsWith('RedshiftData.') ? target.slice('RedshiftData.'.length) : target;
      const answer = await this.dispatch(operation, body);
      send(response, 200, answer);
    } catch (error) {
      if (error instanceof ApiError) send(response, error.status, { __type: error.type, message: error.message });
      else send(response, 500, { __type: 'InternalServerException', message: (error as Error).message });
    }
  }

  private async dispatch(operation: string, body: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'ExecuteStatement': {
        const sql = requiredString(body, 'Sql');
        const parameters = parseParameters(body.Parameters);
        return this.submit(body, [sql], false, parameters);
      }
      case 'BatchExecuteStatement': {
        const sqls = body.Sqls;
        if (!Array.isArray(sqls) || sqls.length === 0 || sqls.length > 40 || !sqls.every((sql) => typeof sql === 'string')) {
          throw new ApiError('ValidationException', 'Sqls must hold 1 to 40 statements');
        }
        if (body.Parameters !== undefined) throw new ApiError('ValidationException', 'BatchExecuteStatement does not take Parameters');
        return this.submit(body, sqls as string[], true, {});
      }
      case 'DescribeStatement':
        return this.describe(this.statement(requiredString(body, 'Id')));
      case 'GetStatementResult':
        return this.result(requiredString(body, 'Id'), typeof body.NextToken === 'string' ? body.NextToken : undefined);
      case 'CancelStatement':
        return this.cancel(this.statement(requiredString(body, 'Id')));
      default:
        throw new ApiError('UnknownOperationException', `the emulator does not implement ${operation}`);
    }
  }

  private submit(body: Record<string, unknown>, sqls: string[], batch: boolean, parameters: Record<string, string>) {
    const database = requiredString(body, 'Database');
    const workgroup = body.WorkgroupName;
    const cluster = body.ClusterIdentifier;
    if ((workgroup === undefined) === (cluster === undefined)) throw new ApiError('ValidationException', 'give either WorkgroupName or ClusterIdentifier');
    if (cluster !== undefined && body.DbUser === undefined && body.SecretArn === undefined) {
      throw new ApiError('ValidationException', 'a ClusterIdentifier needs DbUser or SecretArn');
    }
    const token = typeof body.ClientToken === 'string' ? body.ClientToken : undefined;
    const earlier = token === undefined ? undefined : this.tokens.get(token);
    const now = Date.now() / 1000;
    if (earlier !== undefined) return { ...echo(body), Id: earlier, CreatedAt: this.statement(earlier).createdAt };
    const id = randomUUID();
    if (token !== undefined) this.tokens.set(token, id);
    const state: StatementState = {
      id,
      database,
      status: 'SUBMITTED',
      batch,
      createdAt: now,
      updatedAt: now,
      cancelled: false,
      request: echo(body),
      statements: sqls.map((sql, index) => ({
        id: batch ? `${id}:${index + 1}` : id, sql, status: 'SUBMITTED', resultRows: -1, hasResultSet: false, createdAt: now, updatedAt: now, queryId: -1,
      })),
    };
    this.statements.set(id, state);
    void this.run(state, parameters);
    return { ...echo(body), Id: id, CreatedAt: now };
  }

  private describe(state: StatementState) {
    const answer: Record<string, unknown> = {
      ...state.request,
      Id: state.id,
      Status: state.status,
      CreatedAt: state.createdAt,
      UpdatedAt: state.updatedAt,
      Duration: Math.round((state.updatedAt - state.createdAt) * 1e9),
      HasResultSet: !state.batch && state.statements[0]!.hasResultSet,
      ResultRows: state.batch ? -1 : state.statements[0]!.resultRows,
      RedshiftPid: state.pid ?? 0,
      QueryString: state.batch ? '' : state.statements[0]!.sql,
    };
    if (state.error !== undefined) answer.Error = state.error;
    if (state.batch) {
      answer.SubStatements = state.statements.map((statement) => ({
        Id: statement.id,
        Status: statement.status,
        QueryString: statement.sql,
        HasResultSet: statement.hasResultSet,
        ResultRows: statement.resultRows,
        CreatedAt: statement.createdAt,
        UpdatedAt: statement.updatedAt,
        RedshiftQueryId: statement.queryId,
        ...(statement.error === undefined ? {} : { Error: statement.error }),
      }));
    }
    return answer;
  }

  private result(id: string, nextToken: string | undefined) {
    const colon = id.lastIndexOf(':');
    const state = this.statement(colon < 0 ? id : id.slice(0, colon));
    if (state.batch && colon < 0) throw new ApiError('ValidationException', 'give the Id of a sub-statement (<id>:<n>) for the result of a batch');
    const statement = state.batch ? state.statements[Number(id.slice(colon + 1)) - 1] : state.statements[0];
    if (statement === undefined) throw new ApiError('ResourceNotFoundException', `statement ${id} does not exist`);
    if (statement.status !== 'FINISHED') throw new ApiError('ValidationException', `statement ${id} is ${statement.status}, not FINISHED`);
    if (!statement.hasResultSet) throw new ApiError('ResourceNotFoundException', `statement ${id} has no result set`);
    const rows = statement.rows ?? [];
    const start = nextToken === undefined ? 0 : Number(nextToken);
    const page = rows.slice(start, start + this.pageRows);
    const columns = statement.columns ?? [];
    return {
      ColumnMetadata: columns.map((column) => ({ name: column.name, label: column.name, typeName: column.typeName })),
      Records: page.map((row) => row.map((value, index) => field(value, columns[index]!.typeName))),
      TotalNumRows: rows.length,
      ...(start + this.pageRows < rows.length ? { NextToken: String(start + this.pageRows) } : {}),
    };
  }

  private async cancel(state: StatementState) {
    if (state.status !== 'SUBMITTED' && state.status !== 'PICKED' && state.status !== 'STARTED') {
      throw new ApiError('ValidationException', `statement ${state.id} is ${state.status}; only running statements can be cancelled`);
    }
    state.cancelled = true;
    if (state.pid !== undefined) await this.pool(state.database).pool.query('SELECT pg_cancel_backend($1)', [state.pid]);
    return { Status: true };
  }

  private statement(id: string): StatementState {
    const state = this.statements.get(id);
    if (state === undefined) throw new ApiError('ResourceNotFoundException', `Query does not exist: ${id}`);
    return state;
  }

  private pool(database: string): { pool: pg.Pool; ready: Promise<void> } {
    let entry = this.pools.get(database);
    if (entry === undefined) {
      const url = new URL(this.options.connectionString);
      url.pathname = `/${database}`;
      // Every raw value as text: the emulator types result fields itself, as the Data API does.
      const pool = new pg.Pool({ connectionString: url.toString(), max: 6, options: '-c TimeZone=UTC', types: { getTypeParser: () => (value: string) => value } });
      pool.on('error', () => undefined);
      entry = { pool, ready: prepareDatabase(pool) };
      this.pools.set(database, entry);
    }
    return entry;
  }

  private async run(state: StatementState, parameters: Record<string, string>): Promise<void> {
    const { pool, ready } = this.pool(state.database);
    let client: pg.PoolClient | undefined;
    let current = 0;
    try {
      await ready;
      state.status = 'STARTED';
      state.updatedAt = Date.now() / 1000;
      if (this.held !== undefined) await this.held;
      if (state.cancelled) throw new StatementError('Query cancelled.');
      client = await pool.connect();
      state.pid = (client as unknown as { processID?: number }).processID;
      const session: Session = { client, database: state.database, lastCopyId: -1, lastCopyCount: 0, inTransaction: state.batch };
      if (state.batch) await client.query('BEGIN');
      for (; current < state.statements.length; current++) {
        const statement = state.statements[current]!;
        statement.status = 'STARTED';
        if (state.cancelled) throw new StatementError('Query cancelled.');
        await this.runStatement(session, statement, state.batch ? {} : parameters);
        statement.status = 'FINISHED';
        statement.updatedAt = Date.now() / 1000;
      }
      if (state.batch) await client.query('COMMIT');
      state.status = 'FINISHED';
    } catch (error) {
      const message = redshiftMessage(error);
      if (state.batch && client !== undefined) await client.query('ROLLBACK').catch(() => undefined);
      state.status = state.cancelled ? 'ABORTED' : 'FAILED';
      if (!state.cancelled) state.error = message;
      state.statements.forEach((statement, index) => {
        if (index === current) {
          statement.status = state.status;
          if (!state.cancelled) statement.error = message;
        } else if (index > current) {
          statement.status = 'ABORTED';
        }
      });
    } finally {
      state.updatedAt = Date.now() / 1000;
      if (client !== undefined) {
        // The Data API gives each submission a fresh session: temporary tables and settings end here.
        await client.query('DISCARD ALL').then(() => client!.release(), (error: Error) => client!.release(error));
      }
    }
  }

  private async runStatement(session: Session, statement: SubStatementState, parameters: Record<string, string>): Promise<void> {
    if (/^\s*copy\b/i.test(statement.sql)) {
      statement.resultRows = await this.copy(session, statement);
      return;
    }
    let positional;
    try {
      positional = toPositionalParameters(statement.sql, parameters);
    } catch (error) {
      throw new StatementError((error as Error).message);
    }
    const result = await session.client.query({ text: positional.text, values: positional.values, rowMode: 'array' });
    // A statement that ends the transaction the Data API opened would leave the rest unprotected.
    if (session.inTransaction && /^\s*(commit|rollback|end|abort)\b/i.test(statement.sql)) {
      throw new StatementError('the emulator refuses COMMIT and ROLLBACK inside BatchExecuteStatement: the batch is the transaction');
    }
    statement.hasResultSet = result.fields.length > 0;
    statement.resultRows = statement.hasResultSet ? result.rows.length : (result.rowCount ?? 0);
    if (statement.hasResultSet) {
      statement.columns = result.fields.map((column) => ({ name: column.name, typeName: PG_TYPES[column.dataTypeID] ?? 'varchar' }));
      statement.rows = result.rows as unknown[][];
    }
  }

  private async copy(session: Session, statement: SubStatementState): Promise<number> {
    const command = parseCopy(statement.sql);
    const { pool } = this.pool(session.database);
    const queryId = Number((await pool.query("SELECT nextval('ingest_emulator_query_id') AS id")).rows[0].id);
    statement.queryId = queryId;
    const startTime = new Date();
    const columns = await tableColumns(session.client, command.table, command.columns);
    const files = await this.copyFiles(command);
    const errors: LoadError[] = [];
    let loaded = 0;
    if (!session.inTransaction) await session.client.query('BEGIN');
    try {
      for (const file of files) {
        const rows = decodeFile(file, command, columns, errors);
        loaded += await insertRows(session.client, command.table, columns, rows, errors);
      }
      if (errors.length > 0) await recordErrors(pool, queryId, session.database, startTime, command.table, errors, session.client);
      if (errors.length > command.maxError) {
        throw new StatementError(`Load into table '${command.table.replaceAll('"', '')}' failed. Check 'sys_load_error_detail' system table for details.`);
      }
      await session.client.query("SELECT set_config('ingest_emulator.last_copy_id', $1, false), set_config('ingest_emulator.last_copy_count', $2, false)", [String(queryId), String(loaded)]);
      if (!session.inTransaction) await session.client.query('COMMIT');
    } catch (error) {
      if (!session.inTransaction) await session.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      session.lastCopyId = queryId;
    }
    session.lastCopyCount = loaded;
    return loaded;
  }

  private async copyFiles(command: CopyCommand): Promise<CopyFile[]> {
    const source = parseS3Url(command.from);
    if (!command.manifest) {
      const listed = await this.options.s3.send(new ListObjectsV2Command({ Bucket: source.bucket, Prefix: source.key }));
      const keys = (listed.Contents ?? []).map((object) => object.Key!).sort();
      if (keys.length === 0) throw new StatementError(`The specified S3 prefix '${source.key}' does not exist`);
      return Promise.all(keys.map(async (key) => ({ url: `s3://${source.bucket}/${key}`, body: (await this.read(source.bucket, key))! })));
    }
    const manifestBody = await this.read(source.bucket, source.key);
    if (manifestBody === undefined) throw new StatementError(`Problem reading manifest file - S3ServiceException:The specified key does not exist. ${command.from}`);
    let manifest: { entries?: { url?: unknown; mandatory?: unknown; meta?: { content_length?: unknown } }[] };
    try {
      manifest = JSON.parse(manifestBody.toString('utf8'));
    } catch {
      throw new StatementError(`Manifest file ${command.from} is not valid JSON`);
    }
    if (!Array.isArray(manifest.entries)) throw new StatementError(`Manifest file ${command.from} has no "entries" list`);
    const files: CopyFile[] = [];
    for (const entry of manifest.entries) {
      if (typeof entry.url !== 'string') throw new StatementError(`Manifest file ${command.from} has an entry without "url"`);
      const location = parseS3Url(entry.url);
      const body = await this.read(location.bucket, location.key);
      if (body === undefined) {
        if (entry.mandatory === true) throw new StatementError(`Manifest file is missing mandatory file ${entry.url}`);
        continue;
      }
      const length = entry.meta?.content_length;
      if (length !== undefined && length !== body.byteLength) {
        throw new StatementError(`Manifest entry ${entry.url} gives content_length ${String(length)}, but the object holds ${body.byteLength} bytes`);
      }
      files.push({ url: entry.url, body });
    }
    if (command.jsonPaths !== undefined) command.jsonPathList = await this.readJsonPaths(command.jsonPaths);
    return files;
  }

  private async readJsonPaths(url: string): Promise<string[]> {
    const location = parseS3Url(url);
    const body = await this.read(location.bucket, location.key);
    if (body === undefined) throw new StatementError(`jsonpaths file ${url} does not exist`);
    const parsed = JSON.parse(body.toString('utf8')) as { jsonpaths?: unknown };
    if (!Array.isArray(parsed.jsonpaths) || !parsed.jsonpaths.every((path) => typeof path === 'string')) {
      throw new StatementError(`jsonpaths file ${url} must hold {"jsonpaths": [strings]}`);
    }
    return parsed.jsonpaths as string[];
  }

  private async read(bucket: string, key: string): Promise<Buffer | undefined> {
    try {
      const object = await this.options.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }
}

interface Session {
  client: pg.PoolClient;
  database: string;
  lastCopyId: number;
  lastCopyCount: number;
  inTransaction: boolean;
}

interface CopyCommand {
  table: string;
  columns: string[] | undefined;
  from: string;
  manifest: boolean;
  format: 'json' | 'csv';
  /** `s3://` URL of the jsonpaths file, or undefined for 'auto'. */
  jsonPaths?: string;
  jsonPathList?: string[];
  delimiter: string;
  quote: string;
  ignoreHeader: number;
  gzip: boolean;
  maxError: number;
  timeFormat: string;
  truncateColumns: boolean;
  blanksAsNull: boolean;
  emptyAsNull: boolean;
  acceptInvChars: string | undefined;
  hasCredentials: boolean;
}

interface CopyFile {
  url: string;
  body: Buffer;
}

interface TableColumn {
  name: string;
  /** `format_type` of the column, e.g. `character varying(20)`. */
  type: string;
  /** Whether it holds text (CHAR, VARCHAR, TEXT). */
  text: boolean;
  /** Declared length of a CHAR or VARCHAR column. */
  length: number | undefined;
  timestamp: boolean;
}

interface PendingRow {
  file: string;
  line: number;
  raw: string;
  values: (string | null)[];
}

interface LoadError {
  file: string;
  line: number;
  /** The line as read (at most 1024 characters kept), and the offending field's value. */
  raw: string;
  rawField: string;
  column: string;
  columnType: string;
  columnLength: string;
  code: number;
  message: string;
}

type Token = { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'number'; text: string } | { kind: 'symbol'; text: string } | { kind: 'identifier'; text: string };

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < sql.length) {
    const char = sql[index]!;
    if (/\s/.test(char) || char === ';') {
      index++;
    } else if (char === "'") {
      let text = '';
      index++;
      while (index < sql.length && !(sql[index] === "'" && sql[index + 1] !== "'")) {
        text += sql[index] === "'" ? "'" : sql[index];
        index += sql[index] === "'" ? 2 : 1;
      }
      index++;
      tokens.push({ kind: 'string', text });
    } else if (char === '"') {
      const end = sql.indexOf('"', index + 1);
      tokens.push({ kind: 'identifier', text: sql.slice(index, end + 1) });
      index = end + 1;
    } else if (/[0-9]/.test(char)) {
      const text = /^[0-9]+/.exec(sql.slice(index))![0];
      tokens.push({ kind: 'number', text });
      index += text.length;
    } else if (/[A-Za-z_]/.test(char)) {
      const text = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(index))![0];
      tokens.push({ kind: 'word', text });
      index += text.length;
    } else {
      tokens.push({ kind: 'symbol', text: char });
      index++;
    }
  }
  return tokens;
}

/** Parses Redshift's COPY; throws a StatementError naming what it does not support. */
function parseCopy(sql: string): CopyCommand {
  const tokens = tokenize(sql);
  let position = 0;
  const peek = () => tokens[position];
  const next = () => {
    const token = tokens[position++];
    if (token === undefined) throw new StatementError('syntax error at end of COPY');
    return token;
  };
  const keyword = (token: Token | undefined, word: string) => token?.kind === 'word' && token.text.toUpperCase() === word;
  const expectKeyword = (word: string) => {
    const token = next();
    if (!keyword(token, word)) throw new StatementError(`syntax error at or near "${token.text}" (expected ${word})`);
  };
  const optionalAs = () => {
    if (keyword(peek(), 'AS')) position++;
  };
  const string = () => {
    const token = next();
    if (token.kind !== 'string') throw new StatementError(`syntax error at or near "${token.text}" (expected a string)`);
    return token.text;
  };
  const name = () => {
    const token = next();
    if (token.kind !== 'word' && token.kind !== 'identifier') throw new StatementError(`syntax error at or near "${token.text}"`);
    return token.text;
  };

  expectKeyword('COPY');
  let table = name();
  while (peek()?.kind === 'symbol' && peek()!.text === '.') {
    position++;
    table += `.${name()}`;
  }
  let columns: string[] | undefined;
  if (peek()?.kind === 'symbol' && peek()!.text === '(') {
    position++;
    columns = [];
    for (;;) {
      columns.push(name());
      const separator = next();
      if (separator.text === ')') break;
      if (separator.text !== ',') throw new StatementError(`syntax error at or near "${separator.text}" in the column list`);
    }
  }
  expectKeyword('FROM');
  const from = string();
  const command: CopyCommand = {
    table, columns, from, manifest: false, format: 'json', delimiter: '|', quote: '"', ignoreHeader: 0, gzip: false, maxError: 0,
    timeFormat: 'auto', truncateColumns: false, blanksAsNull: false, emptyAsNull: false, acceptInvChars: undefined, hasCredentials: false,
  };
  let formatGiven = false;
  const json = () => {
    command.format = 'json';
    formatGiven = true;
    if (peek()?.kind === 'string') {
      const paths = string();
      if (paths.toLowerCase() === 'auto' || paths.toLowerCase() === 'auto ignorecase') delete command.jsonPaths;
      else command.jsonPaths = paths;
    } else {
      throw new StatementError("JSON needs 'auto' or the s3:// URL of a jsonpaths file");
    }
  };
  const csv = () => {
    command.format = 'csv';
    command.delimiter = ',';
    formatGiven = true;
    if (keyword(peek(), 'QUOTE')) {
      position++;
      optionalAs();
      command.quote = string();
    }
  };
  while (position < tokens.length) {
    const token = next();
    if (token.kind !== 'word') throw new StatementError(`syntax error at or near "${token.text}"`);
    const option = token.text.toUpperCase();
    switch (option) {
      case 'IAM_ROLE':
        command.hasCredentials = true;
        if (keyword(peek(), 'DEFAULT')) position++;
        else string();
        break;
      case 'CREDENTIALS':
      case 'ACCESS_KEY_ID':
      case 'SECRET_ACCESS_KEY':
      case 'SESSION_TOKEN':
        command.hasCredentials = true;
        optionalAs();
        string();
        break;
      case 'MANIFEST':
        command.manifest = true;
        break;
      case 'FORMAT': {
        optionalAs();
        const format = next();
        if (keyword(format, 'JSON')) json();
        else if (keyword(format, 'CSV')) csv();
        else throw new StatementError(`the emulator does not support FORMAT ${format.text}`);
        break;
      }
      case 'JSON':
        json();
        break;
      case 'CSV':
        csv();
        break;
      case 'DELIMITER':
        optionalAs();
        command.delimiter = string();
        break;
      case 'IGNOREHEADER':
        optionalAs();
        command.ignoreHeader = Number(next().text);
        break;
      case 'GZIP':
        command.gzip = true;
        break;
      case 'MAXERROR':
        optionalAs();
        command.maxError = Number(next().text);
        break;
      case 'TIMEFORMAT':
        optionalAs();
        command.timeFormat = string();
        if (!['auto', 'epochsecs', 'epochmillisecs'].includes(command.timeFormat.toLowerCase())) {
          throw new StatementError(`the emulator supports TIMEFORMAT 'auto', 'epochsecs' and 'epochmillisecs', not '${command.timeFormat}'`);
        }
        break;
      case 'DATEFORMAT':
        optionalAs();
        if (string().toLowerCase() !== 'auto') throw new StatementError("the emulator supports only DATEFORMAT 'auto'");
        break;
      case 'TRUNCATECOLUMNS':
        command.truncateColumns = true;
        break;
      case 'BLANKSASNULL':
        command.blanksAsNull = true;
        break;
      case 'EMPTYASNULL':
        command.emptyAsNull = true;
        break;
      case 'ACCEPTINVCHARS':
        command.acceptInvChars = '?';
        if (keyword(peek(), 'AS')) {
          position++;
          command.acceptInvChars = string();
        }
        break;
      case 'COMPUPDATE':
      case 'STATUPDATE':
        if (keyword(peek(), 'ON') || keyword(peek(), 'OFF') || keyword(peek(), 'TRUE') || keyword(peek(), 'FALSE')) position++;
        break;
      case 'REGION':
        optionalAs();
        string();
        break;
      default:
        throw new StatementError(`the emulator does not support the COPY option ${option}`);
    }
  }
  if (!command.hasCredentials) throw new StatementError('COPY needs IAM_ROLE or CREDENTIALS to read from S3');
  if (!formatGiven) throw new StatementError("the emulator needs FORMAT AS JSON or CSV (Redshift's default pipe-delimited text is not emulated)");
  return command;
}

function parseS3Url(url: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(url);
  if (match === null) throw new StatementError(`'${url}' is not an s3:// URL`);
  return { bucket: match[1]!, key: match[2]! };
}

async function tableColumns(client: pg.PoolClient, table: string, listed: string[] | undefined): Promise<TableColumn[]> {
  let result;
  try {
    result = await client.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category,
              CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS length,
              t.typname AS typname
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [table],
    );
  } catch (error) {
    throw new StatementError(redshiftMessage(error));
  }
  const all = result.rows.map((row: Record<string, string | null>) => ({
    name: row.name!,
    type: row.type!,
    text: row.category === 'S',
    length: row.length === null ? undefined : Number(row.length),
    timestamp: row.typname === 'timestamp' || row.typname === 'timestamptz',
  }));
  if (listed === undefined) return all;
  return listed.map((wanted) => {
    const bare = wanted.startsWith('"') ? wanted.slice(1, -1) : wanted.toLowerCase();
    const column = all.find((candidate) => candidate.name === bare);
    if (column === undefined) throw new StatementError(`column "${bare}" of relation ${table} does not exist`);
    return column;
  });
}

/** The rows of one file, each value converted as COPY's options say; bad lines become load errors. */
function decodeFile(file: CopyFile, command: CopyCommand, columns: TableColumn[], errors: LoadError[]): PendingRow[] {
  let body = file.body;
  if (command.gzip) {
    try {
      body = gunzipSync(body);
    } catch {
      throw new StatementError(`gzip: ${file.url}: invalid compressed data--format violated`);
    }
  }
  const lines = splitLines(body, command.acceptInvChars);
  const rows: PendingRow[] = [];
  const fail = (line: number, raw: string, code: number, message: string, column?: TableColumn, rawField = '') => {
    errors.push({ file: file.url, line, raw, rawField, column: column?.name ?? '', columnType: column?.type ?? '', columnLength: column?.length?.toString() ?? '', code, message });
  };
  if (command.format === 'json') {
    const paths = command.jsonPathList;
    if (paths !== undefined && paths.length !== columns.length) {
      throw new StatementError(`Number of jsonpaths and the number of columns should match. JSONPath size: ${paths.length}, Number of columns in table or column list: ${columns.length}`);
    }
    lines.forEach(({ text, line, invalid }) => {
      if (text.trim() === '') return;
      if (invalid) return fail(line, text, 1220, 'String contains invalid or unsupported UTF8 codepoints');
      let document: unknown;
      try {
        document = JSON.parse(text);
      } catch {
        return fail(line, text, 1224, 'Invalid JSON object or array');
      }
      if (typeof document !== 'object' || document === null || Array.isArray(document)) return fail(line, text, 1224, 'Invalid JSON object or array');
      const values = columns.map((column, index) => {
        const value = paths === undefined ? autoField(document as Record<string, unknown>, column.name) : evaluateJsonPath(document, paths[index]!);
        return jsonText(value);
      });
      rows.push({ file: file.url, line, raw: text, values });
    });
  } else {
    const text = lines.map((entry) => entry.text).join('\n');
    let records: { record: string[]; info: { lines: number } }[];
    try {
      records = parseCsv(text, { delimiter: command.delimiter, quote: command.quote, from_line: command.ignoreHeader + 1, relax_column_count: true, info: true, skip_empty_lines: true }) as unknown as typeof records;
    } catch (error) {
      throw new StatementError(`Delimiter or quote error in ${file.url}: ${(error as Error).message}`);
    }
    for (const { record, info } of records) {
      if (record.length !== columns.length) {
        fail(info.lines, lines[info.lines - 1]?.text ?? '', 1214, `Delimiter not found: the line has ${record.length} fields for ${columns.length} columns`);
        continue;
      }
      rows.push({ file: file.url, line: info.lines, raw: lines[info.lines - 1]?.text ?? '', values: record.map((value, index) => (value === '' && !columns[index]!.text ? null : value)) });
    }
  }
  const accepted: PendingRow[] = [];
  for (const row of rows) {
    row.values = row.values.map((value, index) => convert(value, columns[index]!, command));
    // Redshift measures CHAR and VARCHAR lengths in bytes, PostgreSQL in characters.
    const tooLong = columns.findIndex((column, index) => column.length !== undefined && Buffer.byteLength(row.values[index] ?? '') > column.length);
    if (tooLong >= 0) fail(row.line, row.raw, 1204, 'String length exceeds DDL length', columns[tooLong], row.values[tooLong] ?? '');
    else accepted.push(row);
  }
  return accepted;
}

function splitLines(body: Buffer, acceptInvChars: string | undefined): { text: string; line: number; invalid: boolean }[] {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const lines: { text: string; line: number; invalid: boolean }[] = [];
  let start = 0;
  let line = 1;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    const bytes = body.subarray(start, end);
    if (end === body.length && bytes.length === 0) break;
    let text: string;
    let invalid = false;
    try {
      text = strict.decode(bytes);
    } catch {
      text = bytes.toString('utf8');
      if (acceptInvChars === undefined) invalid = true;
      else text = text.replaceAll('\uFFFD', acceptInvChars);
    }
    lines.push({ text: text.endsWith('\r') ? text.slice(0, -1) : text, line, invalid });
    start = end + 1;
    line++;
  }
  return lines;
}

function autoField(document: Record<string, unknown>, column: string): unknown {
  for (const [key, value] of Object.entries(document)) if (key.toLowerCase() === column) return value;
  return undefined;
}

/** Evaluates the JSONPath subset Redshift accepts: `$`, then `.name`, `['name']` or `[index]` steps. */
function evaluateJsonPath(document: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new StatementError(`Invalid JSONPath format: ${path}`);
  let value: unknown = document;
  let rest = path.slice(1);
  while (rest.length > 0) {
    let step: string | number;
    const dotted = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
    const bracketed = /^\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\d+))\s*\]/.exec(rest);
    if (dotted !== null) {
      step = dotted[1]!;
      rest = rest.slice(dotted[0].length);
    } else if (bracketed !== null) {
      step = bracketed[3] !== undefined ? Number(bracketed[3]) : (bracketed[1] ?? bracketed[2])!;
      rest = rest.slice(bracketed[0].length);
    } else {
      throw new StatementError(`Invalid JSONPath format: ${path}`);
    }
    if (typeof step === 'number') value = Array.isArray(value) ? value[step] : undefined;
    else value = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, step) ? (value as Record<string, unknown>)[step] : undefined;
    if (value === undefined) return undefined;
  }
  return value;
}

function jsonText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function convert(value: string | null, column: TableColumn, command: CopyCommand): string | null {
  if (value === null) return null;
  if (column.text) {
    if (command.emptyAsNull && value === '') return null;
    if (command.blanksAsNull && value.trim() === '' && value !== '') return null;
    if (command.truncateColumns && column.length !== undefined) return truncateBytes(value, column.length);
    return value;
  }
  if (column.timestamp && /^epoch/i.test(command.timeFormat) && /^-?\d+(\.\d+)?$/.test(value)) {
    const milliseconds = command.timeFormat.toLowerCase() === 'epochsecs' ? Number(value) * 1000 : Number(value);
    return new Date(milliseconds).toISOString();
  }
  return value;
}

/** Cuts a string to at most `bytes` UTF-8 bytes without splitting a character, as TRUNCATECOLUMNS does. */
function truncateBytes(value: string, bytes: number): string {
  if (Buffer.byteLength(value) <= bytes) return value;
  let result = '';
  let used = 0;
  for (const char of value) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes) break;
    result += char;
    used += size;
  }
  return result;
}

const INSERT_CHUNK_ROWS = 500;

/**
 * Inserts rows in chunks under a savepoint; a chunk that fails is inserted row by row, each under
 * its own savepoint, so that only the bad rows are rejected (and recorded) as Redshift does.
 */
async function insertRows(client: pg.PoolClient, table: string, columns: TableColumn[], rows: PendingRow[], errors: LoadError[]): Promise<number> {
  let loaded = 0;
  const columnList = columns.map((column) => `"${column.name.replaceAll('"', '""')}"`).join(', ');
  const insert = async (chunk: PendingRow[]) => {
    const values: (string | null)[] = [];
    const tuples = chunk.map((row) => `(${row.values.map((value) => `$${values.push(value)}`).join(', ')})`);
    await client.query(`INSERT INTO ${table} (${columnList}) VALUES ${tuples.join(', ')}`, values);
  };
  for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
    const chunk = rows.slice(start, start + INSERT_CHUNK_ROWS);
    await client.query('SAVEPOINT ingest_emulator_chunk');
    try {
      await insert(chunk);
      await client.query('RELEASE SAVEPOINT ingest_emulator_chunk');
      loaded += chunk.length;
      continue;
    } catch {
      await client.query('ROLLBACK TO SAVEPOINT ingest_emulator_chunk');
    }
    for (const row of chunk) {
      await client.query('SAVEPOINT ingest_emulator_row');
      try {
        await insert([row]);
        await client.query('RELEASE SAVEPOINT ingest_emulator_row');
        loaded++;
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT ingest_emulator_row');
        errors.push(await describeRowError(client, row, columns, error));
      }
    }
  }
  return loaded;
}

/** Finds the first column whose value does not convert to its type, for the load error. */
async function describeRowError(client: pg.PoolClient, row: PendingRow, columns: TableColumn[], error: unknown): Promise<LoadError> {
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index]!;
    const value = row.values[index];
    if (value === null || value === undefined) continue;
    await client.query('SAVEPOINT ingest_emulator_cast');
    try {
      await client.query(`SELECT $1::${column.type}`, [value]);
      await client.query('RELEASE SAVEPOINT ingest_emulator_cast');
    } catch (castError) {
      await client.query('ROLLBACK TO SAVEPOINT ingest_emulator_cast');
      return loadError(row, columns, column, castError);
    }
  }
  const named = columns.find((column) => column.name === (error as { column?: string }).column);
  return loadError(row, columns, named, error);
}

function loadError(row: PendingRow, columns: TableColumn[], column: TableColumn | undefined, error: unknown): LoadError {
  const { code, message } = error as { code?: string; message?: string };
  return {
    file: row.file,
    line: row.line,
    raw: row.raw,
    rawField: column === undefined ? '' : (row.values[columns.indexOf(column)] ?? ''),
    column: column?.name ?? '',
    columnType: column?.type ?? '',
    columnLength: column?.length?.toString() ?? '',
    code: REDSHIFT_ERROR_CODES[code ?? ''] ?? 1200,
    message: message ?? String(error),
  };
}

/** PostgreSQL SQLSTATEs of conversion failures, as the Redshift load error codes closest to them. */
const REDSHIFT_ERROR_CODES: Record<string, number> = {
  '22P02': 1207, // invalid text representation: "Invalid digit, Value 'x'"
  '22003': 1208, // numeric value out of range
  '22007': 1206, // invalid datetime format
  '22008': 1206, // datetime field overflow
  '22001': 1204, // string longer than the column
  '23502': 1213, // NULL in a NOT NULL column
};

async function recordErrors(pool: pg.Pool, queryId: number, database: string, startTime: Date, table: string, errors: LoadError[], session: pg.PoolClient): Promise<void> {
  const pid = (session as unknown as { processID?: number }).processID ?? 0;
  for (const error of errors) {
    await pool.query(
      `INSERT INTO ingest_emulator_load_errors (query_id, session_id, database_name, table_id, start_time, file_name, line_number,
                                               column_name, column_type, column_length, error_code, error_message, raw_line, raw_field_value)
       VALUES ($1, $2, $3, coalesce(to_regclass($4)::oid::int, 0), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [queryId, pid, database, table, startTime, error.file, error.line, error.column, error.columnType.slice(0, 10), error.columnLength, error.code,
        error.message.slice(0, 512), error.raw.slice(0, 1024), error.rawField.slice(0, 1024)],
    );
  }
}

/**
 * Creates, once per database, what the emulator adds to PostgreSQL: the load error table and
 * the functions Redshift has and PostgreSQL lacks. An advisory lock keeps parallel test files
 * from racing on `CREATE ... IF NOT EXISTS`.
 */
async function prepareDatabase(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(4242)');
    await client.query(`
      CREATE TABLE IF NOT EXISTS public.ingest_emulator_load_errors (
        query_id bigint, session_id integer, database_name character(64), table_id integer, start_time timestamp,
        file_name character(256), line_number bigint, column_name character(127), column_type character(10), column_length character(10),
        error_code integer, error_message character(512), raw_line character(1024), raw_field_value character(1024));
      CREATE OR REPLACE VIEW public.sys_load_error_detail AS
        SELECT 100 AS user_id, query_id, query_id AS transaction_id, session_id, database_name, table_id, start_time, file_name, line_number,
               column_name, column_type, column_length, 0 AS position, error_code, error_message
          FROM public.ingest_emulator_load_errors;
      CREATE OR REPLACE VIEW public.stl_load_errors AS
        SELECT 100 AS userid, 0 AS slice, table_id AS tbl, start_time AS starttime, session_id AS session, query_id AS query,
               file_name AS filename, line_number, column_name AS colname, column_type AS type, column_length AS col_length, 0 AS position,
               raw_line, raw_field_value, error_code AS err_code, CAST(error_message AS character(100)) AS err_reason
          FROM public.ingest_emulator_load_errors;
      CREATE SEQUENCE IF NOT EXISTS public.ingest_emulator_query_id;
      CREATE OR REPLACE FUNCTION public.pg_last_copy_id() RETURNS bigint LANGUAGE sql STABLE
        AS $$ SELECT coalesce(nullif(current_setting('ingest_emulator.last_copy_id', true), ''), '-1')::bigint $$;
      CREATE OR REPLACE FUNCTION public.pg_last_copy_count() RETURNS bigint LANGUAGE sql STABLE
        AS $$ SELECT coalesce(nullif(current_setting('ingest_emulator.last_copy_count', true), ''), '0')::bigint $$;
      CREATE OR REPLACE FUNCTION public.getdate() RETURNS timestamp LANGUAGE sql STABLE
        AS $$ SELECT (now() AT TIME ZONE 'UTC')::timestamp(0) $$;`);
  } finally {
    await client.query('SELECT pg_advisory_unlock(4242)').catch(() => undefined);
    client.release();
  }
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') throw new ApiError('ValidationException', `${name} is required`);
  return value;
}

function parseParameters(value: unknown): Record<string, string> {
  const parameters: Record<string, string> = Object.create(null);
  if (value === undefined) return parameters;
  if (!Array.isArray(value)) throw new ApiError('ValidationException', 'Parameters must be a list');
  for (const entry of value as { name?: unknown; value?: unknown }[]) {
    if (typeof entry.name !== 'string' || typeof entry.value !== 'string') throw new ApiError('ValidationException', 'each parameter needs a name and a string value');
    parameters[entry.name] = entry.value;
  }
  return parameters;
}

/** The connection fields a submission answer repeats. */
function echo(body: Record<string, unknown>): Record<string, unknown> {
  const fields = ['Database', 'WorkgroupName', 'ClusterIdentifier', 'DbUser', 'SecretArn'];
  return Object.fromEntries(fields.filter((name) => body[name] !== undefined).map((name) => [name, body[name]]));
}

function field(value: unknown, typeName: string): Record<string, unknown> {
  if (value === null || value === undefined) return { isNull: true };
  const text = String(value);
  if (LONG_TYPES.has(typeName)) return { longValue: Number(text) };
  if (DOUBLE_TYPES.has(typeName)) return { doubleValue: Number(text) };
  if (typeName === 'bool') return { booleanValue: text === 't' || text === 'true' };
  return { stringValue: text };
}

function redshiftMessage(error: unknown): string {
  if (error instanceof StatementError) return `ERROR: ${error.message}`;
  const { message, detail } = error as { message?: string; detail?: string };
  return `ERROR: ${message ?? String(error)}${detail ? `\n  Detail: ${detail}` : ''}`;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID() });
  response.end(text);
}
