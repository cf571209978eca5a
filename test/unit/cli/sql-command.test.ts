import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sinkStatements } from '../../../cli/commands/sql.ts';
import { readSpecWithParameters } from '../../../cli/spec-with-parameters.ts';
import { warehouseSinks } from '../../../cli/warehouse-spec.ts';
import { ledgerScope } from '../../../engine/ports/ledger.ts';
import { MemoryLedger } from '../../../engine/ports/memory-ledger.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { MemoryWarehouse } from '../../../engine/ports/memory-warehouse.ts';
import type { MemorySubmission } from '../../../engine/ports/memory-warehouse.ts';
import { IDENTITY_COLUMNS } from '../../../engine/sinks/sql/load-transaction.ts';
import { Loader } from '../../../engine/sinks/warehouse/loader.ts';
import { ingestInProcess as ingest } from '../../support/ingest-in-process.ts';

// `ingest sql` in-process through main(): what it prints for redshift and postgres sinks, and
// that a spec whose names could change the SQL never gets that far.


const directory = mkdtempSync(join(tmpdir(), 'ingest-sql-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let specs = 0;
/** Writes a spec with the given sinks (YAML lines under `sinks:`) and returns its path. */
function specWith(sinkLines: string[], header: string[] = []): string {
  const path = join(directory, `spec-${++specs}.yaml`);
  writeFileSync(path, [
    'version: 1',
    'name: orders-warehouse',
    ...header,
    'dead_letter: { bucket: errors }',
    'sources:',
    '  orders: { type: kinesis, stream: orders, format: json }',
    'sinks:',
    ...sinkLines,
  ].join('\n'));
  return path;
}

const REDSHIFT_APPEND = [
  '  warehouse:',
  '    type: redshift',
  '    inputs: [orders]',
  '    connection: { workgroup: analytics, database: dev }',
  '    table: sales.orders',
  '    columns: [order_id, amount, placed_at]',
  '    staging: { bucket: staging }',
  '    copy: { max_error: 10, truncate_columns: true }',
];

const REDSHIFT_UPSERT = [
  '  latest:',
  '    type: redshift',
  '    inputs: [orders]',
  '    connection: { cluster: main, db_user: loader, database: dev }',
  '    table: sales.latest_orders',
  '    columns: [order_id, status, amount]',
  '    mode: upsert',
  '    keys: [order_id]',
  '    iam_role: "${param.copy_role}"',
  '    staging: { bucket: staging, prefix: loads/latest/ }',
  '    copy: { max_error: 5 }',
  '    pre_sql: ["DELETE FROM sales.latest_orders_audit WHERE sink = \'{{sink}}\'"]',
];

const POSTGRES_UPSERT = [
  '  shipments:',
  '    type: postgres',
  '    inputs: [orders]',
  '    connection: { url: "${param.database_url}" }',
  '    table: shipments',
  '    columns: [shipment_id, status]',
  '    mode: upsert',
  '    keys: [shipment_id]',
  '    staging: { bucket: staging, format: csv }',
];

const PARAMETERS = [
  'parameters:',
  '  copy_role: { type: string }',
  '  database_url: { type: string, secret: true }',
];

/** The SQL statements printed: lines ending in `;` that are not comments. */
function statements(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.endsWith(';') && !line.startsWith('--')).map((line) => line.slice(0, -1));
}

describe('ingest sql', () => {
  it('prints the state tables and the append load of a redshift sink, COPY reading the manifest of <batch>', async () => {
    const run = await ingest('sql', specWith(REDSHIFT_APPEND));

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const sql = statements(run.stdout);
    expect(sql.slice(0, 2)).toEqual([
      expect.stringMatching(/^CREATE TABLE IF NOT EXISTS "sales"\."ingest_loads" /),
      expect.stringMatching(/^CREATE TABLE IF NOT EXISTS "sales"\."ingest_loaded_ranges" /),
    ]);
    const transaction = sql.slice(2);
    expect(transaction[0]).toBe('LOCK "sales"."ingest_loads"');
    const copy = transaction.find((statement) => statement.startsWith('COPY '));
    expect(copy).toMatch(new RegExp(
      `^COPY "ingest_staged" \\("order_id", "amount", "placed_at", ${IDENTITY_COLUMNS.map((column) => `"${column.name}"`).join(', ')}\\) `
      + "FROM 's3://staging/orders-warehouse/warehouse/manifests/<batch>\\.json' IAM_ROLE default MANIFEST "
      + "FORMAT AS JSON 's3://staging/orders-warehouse/warehouse/jsonpaths/[0-9a-f]{64}\\.json' GZIP TIMEFORMAT 'auto' DATEFORMAT 'auto' MAXERROR 10 TRUNCATECOLUMNS",
    ));
    expect(transaction).toContainEqual(expect.stringMatching(/FROM sys_load_error_detail WHERE query_id = pg_last_copy_id\(\)/));
    expect(transaction).toContain('INSERT INTO "sales"."orders" ("order_id", "amount", "placed_at") SELECT "order_id", "amount", "placed_at" FROM "ingest_fresh"');
    expect(transaction.join('\n')).not.toMatch(/MERGE/);
    expect(transaction).toContainEqual(expect.stringMatching(/^INSERT INTO "sales"\."ingest_loads" .* 'orders-warehouse\/warehouse', <batch>, <sealed at>, staged\.n, fresh\.n, '<load time>' .* batch = <batch> AND sealed_at = <sealed at>\)$/));
    expect(run.stdout).toContain(`-- jsonpaths document s3://staging/orders-warehouse/warehouse/jsonpaths/`);
    expect(run.stdout).not.toMatch(/9876543210|2999-12-31/);
  });

  it('prints the merge on the keys of an upsert sink, with pre_sql rendered and unset parameters shown as references', async () => {
    const run = await ingest('sql', specWith([...REDSHIFT_UPSERT, ...REDSHIFT_APPEND], PARAMETERS), 'latest');

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('-- ingest sql: sink latest of pipeline orders-warehouse (redshift, upsert into sales.latest_orders)\n');
    expect(run.stdout).not.toContain('sink warehouse');
    const transaction = statements(run.stdout).slice(2);
    expect(transaction[1]).toBe("DELETE FROM sales.latest_orders_audit WHERE sink = 'latest'");
    expect(transaction).toContainEqual(expect.stringContaining("FROM 's3://staging/loads/latest/manifests/<batch>.json' IAM_ROLE '${param.copy_role}' MANIFEST"));
    // A provisioned cluster reports rejected rows in stl_load_errors.
    expect(transaction).toContainEqual(expect.stringMatching(/FROM stl_load_errors WHERE query = pg_last_copy_id\(\)/));
    expect(transaction).toContainEqual(expect.stringMatching(
      /^MERGE INTO "sales"\."latest_orders" USING "ingest_latest" ON "sales"\."latest_orders"\."order_id" = "ingest_latest"\."order_id" WHEN MATCHED THEN UPDATE SET "status" = "ingest_latest"\."status", "amount" = "ingest_latest"\."amount" WHEN NOT MATCHED THEN INSERT/,
    ));
    expect(transaction.join('\n')).not.toMatch(/INSERT INTO "sales"\."latest_orders"/);
  });

  it('puts --param values where the spec refers to them', async () => {
    const run = await ingest('sql', specWith(REDSHIFT_UPSERT, PARAMETERS), '--param', 'copy_role=arn:aws:iam::123456789012:role/copy');

    expect(run.code).toBe(0);
    expect(run.stdout).toContain("IAM_ROLE 'arn:aws:iam::123456789012:role/copy' MANIFEST");
  });

  it('prints the COPY FROM STDIN load of a postgres sink, its state tables in public', async () => {
    const run = await ingest('sql', specWith(POSTGRES_UPSERT, PARAMETERS));

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const sql = statements(run.stdout);
    expect(sql[0]).toMatch(/^CREATE TABLE IF NOT EXISTS "public"\."ingest_loads" /);
    expect(sql).toContainEqual(expect.stringMatching(/^COPY "ingest_staged" \("shipment_id", "status", "_ingest_source", .*\) FROM STDIN WITH \(FORMAT csv\)$/));
    expect(sql).toContainEqual(expect.stringMatching(/^MERGE INTO "shipments" USING "ingest_latest" ON "shipments"\."shipment_id" = "ingest_latest"\."shipment_id" /));
    expect(run.stdout).not.toMatch(/manifest|s3:\/\//);
    // The url parameter is a secret: it is not part of any statement.
    expect(run.stdout).not.toContain('database_url');
  });

  it('prints JSON with the statements of every warehouse sink and the placeholders named', async () => {
    const run = await ingest('sql', specWith([...REDSHIFT_APPEND, ...POSTGRES_UPSERT], PARAMETERS), '--format', 'json');

    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout);
    expect(printed.placeholders).toEqual({ batch: '<batch>', sealedAt: '<sealed at>', loadTime: '<load time>' });
    expect(printed.sinks.map((sink: { sink: string; type: string; mode: string }) => [sink.sink, sink.type, sink.mode])).toEqual([['warehouse', 'redshift', 'append'], ['shipments', 'postgres', 'upsert']]);
    expect(printed.sinks[0].manifestUrl).toBe('s3://staging/orders-warehouse/warehouse/manifests/<batch>.json');
    expect(printed.sinks[0].jsonPaths.jsonpaths.slice(0, 4)).toEqual(["$['order_id']", "$['amount']", "$['placed_at']", "$['_ingest'][0]"]);
  });

  // Every way a name could carry SQL into the statements: validate refuses the spec, and the
  // command prints its diagnostics and not one statement.
  it.each([
    ['a quote and a statement in a column', 'columns: [order_id, "amount\\"; DROP TABLE sales.orders; --"]'],
    ['a space in a column', 'columns: [order_id, "unit price"]'],
    ['a non-ASCII column', 'columns: [order_id, "montant_€"]'],
    ['a column starting with a digit', 'columns: [order_id, 1amount]'],
    ['a column Ingest reserves for record identity', 'columns: [order_id, _ingest_source]'],
    ['a column longer than Redshift allows', `columns: [order_id, ${'a'.repeat(128)}]`],
    ['a table of three parts', 'table: dev.sales.orders'],
    ['a quote in the table', 'table: "sales.orders\\" CASCADE"'],
    ['an upsert key with a quote', 'mode: upsert\n    keys: ["order_id\\"--"]'],
  ])('refuses a spec with %s, printing no SQL', async (_, line) => {
    const [field] = line.split(':');
    const sink = REDSHIFT_APPEND.filter((existing) => !existing.trimStart().startsWith(`${field}:`)).concat(`    ${line}`);

    const run = await ingest('sql', specWith(sink));

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/ error (invalid-identifier|keys-not-in-columns|out-of-range|invalid-value): /);
    expect(statements(run.stdout)).toEqual([]);
    expect(run.stdout).not.toMatch(/CREATE|COPY|INSERT|MERGE/);
  });

  // What validate accepts but a load cannot run: the command says why, as the loader would fail the batch, and prints no SQL.
  it.each([
    ['a pre_sql path below table', REDSHIFT_APPEND.concat('    pre_sql: ["DELETE FROM {{table.name}}"]'), [], /^sink warehouse: pre_sql\[0\] cannot be rendered, so every load of this sink would fail: /],
    ['a post_sql path below sink', REDSHIFT_APPEND.concat('    post_sql: ["ANALYZE {{sink.id}}"]'), [], /^sink warehouse: post_sql\[0\] cannot be rendered/],
    ['a parameter value with a quote in the IAM role', REDSHIFT_UPSERT, ["copy_role=arn:aws:iam::1:role/it's"], /^sink latest: a load of this sink would fail: value cannot be written as a SQL literal/],
  ])('reports %s with exit 1 instead of SQL', async (_, sinkLines, parameters, message) => {
    const run = await ingest('sql', specWith(sinkLines, PARAMETERS), ...parameters.flatMap((parameter) => ['--param', parameter]));

    expect(run).toMatchObject({ code: 1, stderr: '' });
    expect(run.stdout).toMatch(message);
    expect(statements(run.stdout)).toEqual([]);
  });

  it('refuses a sink that does not load in batches, as a usage error naming the warehouse sinks', async () => {
    const run = await ingest('sql', specWith([...REDSHIFT_APPEND, '  archive: { type: s3, inputs: [orders], bucket: archive, key: "orders/" }']), 'archive');

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('ingest sql: sink archive is not a redshift or postgres sink of orders-warehouse (archive is a s3 sink, which does not load in batches); its warehouse sinks: warehouse\n');
  });
});

describe('ingest sql against the loader', () => {
  const finished = (submission: MemorySubmission) => {
    const results = submission.sqls.map(() => undefined as undefined | { columns: string[]; rows: number[][] });
    results[submission.sqls.length - 1] = { columns: ['rows_staged', 'rows_written'], rows: [[1, 1]] };
    // With max_error above 0 the load reads COPY's rejected rows: none here.
    const errors = submission.sqls.findIndex((sql) => sql.includes('pg_last_copy_id()'));
    if (errors !== -1) results[errors] = { columns: ['file_name', 'line_number', 'column_name', 'error_code', 'error_message'], rows: [] };
    return { status: 'FINISHED' as const, results };
  };

  it.each([
    ['a redshift append sink', REDSHIFT_APPEND, 'warehouse'],
    ['a redshift upsert sink on a cluster with pre_sql and max_error', REDSHIFT_UPSERT, 'latest'],
    ['a postgres upsert sink', POSTGRES_UPSERT, 'shipments'],
  ])('prints for %s the statements the loader submits, but for the batch number and load time', async (_, sinkLines, sinkId) => {
    const { spec } = readSpecWithParameters(specWith(sinkLines, PARAMETERS), ['copy_role=arn:aws:iam::123456789012:role/copy'], () => undefined)!;
    const [sink] = warehouseSinks(spec, sinkId);
    const config = sink![1];
    const scope = ledgerScope(spec.name, sinkId);
    const ledger = new MemoryLedger();
    const options = { dialect: config.type, answer: finished };
    const warehouse = new MemoryWarehouse(options);
    // PostgresWarehouse copies from the client, and the loader then builds the PostgreSQL load.
    if (config.type === 'postgres') Object.defineProperty(warehouse, 'copiesFromClient', { value: true });
    const loadedAt = Date.UTC(2026, 11, 3, 10, 30, 15);
    const now = new Date(loadedAt);
    const loader = new Loader({ scope, sinkId, config, ledger, warehouse, objects: new MemoryObjectStore(), clock: () => loadedAt });
    await ledger.register(scope, { bucket: 'staging', key: 'a.jsonl.gz', records: 1, bytes: 100 }, loadedAt);
    await ledger.register(scope, { bucket: 'staging', key: 'b.jsonl.gz', records: 1, bytes: 100 }, loadedAt);
    await ledger.seal(scope, 1, loadedAt);
    const context = {
      reason: 'schedule' as const,
      invocation: { state: new Map(), now, requestId: 'r', deadline: Date.now() + 60_000 },
      logger: { log: () => undefined },
      deadLetter: async () => undefined,
      notify: async () => undefined,
    };

    const report = await loader.maintain(context);
    const printed = sinkStatements(spec, sink!, now);

    expect(report.loaded).toMatchObject([{ batch: 1 }]);
    const submitted = warehouse.submissions.filter((submission) => submission.transaction);
    // The manifest key holds the batch number zero-padded to 10 digits, as the printed header says.
    const asLoaded = (statement: string) => statement.replaceAll('manifests/<batch>.json', 'manifests/0000000001.json').replaceAll('<batch>', '1').replaceAll('<sealed at>', String(loadedAt)).replaceAll("'<load time>'", "'2026-12-03 10:30:15'");
    expect(submitted).toHaveLength(1);
    expect(printed.transaction.map(asLoaded)).toEqual(submitted[0]!.sqls);
    expect(warehouse.submissions.filter((submission) => !submission.transaction).flatMap((submission) => submission.sqls)).toEqual(expect.arrayContaining(printed.stateTables));
  });
});
