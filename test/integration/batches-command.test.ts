import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchesCommand } from '../../cli/commands/batches.ts';
import type { BatchesOptions } from '../../cli/commands/batches.ts';
import { UsageError } from '../../engine/errors.ts';
import { DynamoDbLedger } from '../../engine/ports/dynamodb-ledger.ts';
import { isLeaseRefusal } from '../../engine/ports/ledger.ts';
import { awsClientConfig, motoEndpoint } from '../support/env.ts';

// `ingest batches` against a ledger table in moto that DynamoDbLedger filled: two sealed batches
// (one failed), one open. A few cases run the binary in a process of its own, as a user does
// (exit codes, streams, no stack traces); the rest call the command in this process, since each
// process costs seconds.

const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(REPOSITORY, 'node_modules', '.bin', 'tsx');
const CLI = join(REPOSITORY, 'cli', 'ingest.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ingest(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const kept = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !entry[0].startsWith('AWS_') && !entry[0].startsWith('INGEST_'));
  const environment = {
    ...Object.fromEntries(kept),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [CLI, ...args], { cwd: REPOSITORY, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const T0 = Date.now() - 20 * 60_000;
const SCOPE = 'orders-warehouse/warehouse';

describe('ingest batches against a DynamoDB ledger in moto', { timeout: 60_000 }, () => {
  const client = new DynamoDBClient(awsClientConfig());
  const table = `ingest-batches-${randomUUID().slice(0, 8)}`;
  const ledger = new DynamoDbLedger(client, { tableName: table });
  let directory: string;
  let spec: string;
  const moto = () => ['--table', table, '--endpoint', motoEndpoint()];

  /** Runs the command in this process; resolves to its exit code and what it printed. */
  async function batches(args: readonly string[], options: Partial<BatchesOptions> = {}): Promise<{ code: number; stdout: string }> {
    let stdout = '';
    const code = await batchesCommand([spec, ...args], { format: 'text', parameters: [], environment: {}, table, client, ...options }, (text) => (stdout += `${text}\n`));
    return { code, stdout };
  }

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'ingest-batches-'));
    spec = join(directory, 'orders.yaml');
    await writeFile(spec, [
      'version: 1',
      'name: orders-warehouse',
      'dead_letter: { bucket: errors }',
      'sources:',
      '  orders: { type: kinesis, stream: orders, format: json }',
      'sinks:',
      '  warehouse:',
      '    type: redshift',
      '    inputs: [orders]',
      '    connection: { workgroup: analytics, database: dev }',
      '    table: public.orders',
      '    columns: [order_id, amount]',
      '    staging: { bucket: staging }',
      '  archive: { type: s3, inputs: [orders], bucket: archive, key: "orders/" }',
    ].join('\n'));
    await client.send(new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    const file = (name: string, records: number) => ({ bucket: 'staging', key: `orders-warehouse/warehouse/${name}.json.gz`, records, bytes: records * 100 });
    // Batch 1: two files, loaded and failed.
    await ledger.register(SCOPE, file('a', 10), T0);
    await ledger.register(SCOPE, file('b', 5), T0 + 1000);
    await ledger.seal(SCOPE, 1, T0 + 2000);
    const claimed = await ledger.claim(SCOPE, 1, 'loader-1', T0 + 3000, 60_000);
    if (isLeaseRefusal(claimed)) throw new Error(`claim refused: ${claimed}`);
    await ledger.recordStatement(SCOPE, 1, 'loader-1', 'statement-0001');
    await ledger.finish(SCOPE, 1, 'loader-1', { state: 'failed', error: 'Invalid timestamp format: column occurred_at, line 3 of orders-warehouse/warehouse/b.json.gz' }, T0 + 4000);
    // Batch 2: one file, sealed. Batch 3: open with one file.
    await ledger.register(SCOPE, file('c', 7), T0 + 5000);
    await ledger.seal(SCOPE, 2, T0 + 6000);
    await ledger.register(SCOPE, file('d', 3), T0 + 7000);
  });

  afterAll(async () => {
    client.destroy();
    await rm(directory, { recursive: true, force: true });
  });

  it('lists every batch of the sink with its state, sizes, attempts, statement and error', async () => {
    const run = await ingest(['batches', spec, 'list', ...moto()]);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('sink warehouse (redshift → public.orders), ledger scope orders-warehouse/warehouse\n');
    expect(run.stdout).toMatch(/^ {2}batch +state +age +files +records +bytes +attempts +statement +error$/m);
    expect(run.stdout).toMatch(/^ {2}1 +failed +20m\d\ds +2 +15 +1\.5 KiB +1 +statement-0001 +Invalid timestamp format: column occurred_at, line 3 of ord…$/m);
    expect(run.stdout).toMatch(/^ {2}2 +sealed +\d+m\d\ds +1 +7 +700 B +0$/m);
    expect(run.stdout).toMatch(/^ {2}3 +open +\d+m\d\ds +1 +3 +300 B$/m);
    expect(run.stdout).toContain(`1 failed batch: see why with \`ingest batches ${spec} show warehouse 1\``);
  });

  it('says that the batches of an upsert sink wait behind its failed batch, and those of an append sink do not', async () => {
    const upsert = join(directory, 'upsert.yaml');
    await writeFile(upsert, (await readFile(spec, 'utf8')).replace('    columns: [order_id, amount]', '    columns: [order_id, amount]\n    mode: upsert\n    keys: [order_id]'));
    let stdout = '';

    const code = await batchesCommand([upsert, 'list'], { format: 'text', parameters: [], environment: {}, table, client }, (text) => (stdout += `${text}\n`));
    const append = await batches(['list']);

    expect(code).toBe(0);
    expect(stdout).toContain('  upsert sink: batches after 1 wait until it is retried or skipped\n');
    expect(append.stdout).not.toContain('upsert sink');
  });

  it('lists as JSON with the table named by INGEST_LEDGER_TABLE', async () => {
    const run = await batches([], { format: 'json', table: undefined, environment: { INGEST_LEDGER_TABLE: table } });

    expect(run.code).toBe(0);
    const listing = JSON.parse(run.stdout);
    expect(listing.table).toBe(table);
    expect(listing.sinks).toHaveLength(1);
    expect(listing.sinks[0].open).toMatchObject({ batch: 3, totals: { files: 1, records: 3 } });
    expect(listing.sinks[0].batches.map((batch: { batch: number; state: string }) => [batch.batch, batch.state])).toEqual([[1, 'failed'], [2, 'sealed']]);
  });

  it('lists only the batches in the states --state names', async () => {
    const failed = await batches(['list'], { state: 'failed' });
    const none = await batches(['list'], { state: 'loading,skipped' });

    expect(failed.code).toBe(0);
    expect(failed.stdout).toMatch(/^ {2}1 +failed /m);
    expect(failed.stdout).not.toMatch(/^ {2}[23] /m);
    expect(none.stdout).toContain('  no loading or skipped batches\n');
  });

  it('refuses a --state that is not a batch state', async () => {
    await expect(batches(['list'], { state: 'failed,broken' })).rejects.toThrow('--state takes states separated by commas, from: open, sealed, loading, loaded, failed, skipped; not broken');
  });

  it('shows one batch with its error and staged files', async () => {
    const run = await batches(['show', 'warehouse', '1']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('sink warehouse, batch 1: failed\n');
    expect(run.stdout).toContain('  statement  statement-0001\n');
    expect(run.stdout).toContain('  error      Invalid timestamp format: column occurred_at, line 3 of orders-warehouse/warehouse/b.json.gz\n');
    expect(run.stdout).toContain('files (2):\n     1  s3://staging/orders-warehouse/warehouse/a.json.gz  10 records, 1000 B\n     2  s3://staging/orders-warehouse/warehouse/b.json.gz  5 records, 500 B\n');
  });

  it('refuses to retry a batch that is not failed, changing nothing, with exit 1', async () => {
    const run = await ingest(['batches', spec, 'retry', 'warehouse', '2', ...moto()]);

    expect(run).toMatchObject({ code: 1, stderr: '' });
    expect(run.stdout).toBe('batch 2 of sink warehouse is sealed: only a failed batch can be retried; nothing changed\n');
    expect(await ledger.batch(SCOPE, 2)).toMatchObject({ state: 'sealed', attempts: 0 });
  });

  it('retries a failed batch: it is sealed again and its statement forgotten', async () => {
    const run = await batches(['retry', 'warehouse', '1']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('batch 1 of sink warehouse: failed → sealed');
    const batch = await ledger.batch(SCOPE, 1);
    expect(batch?.state).toBe('sealed');
    expect(batch?.statementId).toBeUndefined();
  });

  it('skips a sealed batch with the reason given, and refuses to skip it twice', async () => {
    const first = await batches(['skip', 'warehouse', '2'], { reason: 'test export sent by mistake' });
    const second = await batches(['skip', 'warehouse', '2']);

    expect(first.code).toBe(0);
    expect(first.stdout).toContain('batch 2 of sink warehouse: skipped (test export sent by mistake); its 7 records will not be loaded\n');
    expect(await ledger.batch(SCOPE, 2)).toMatchObject({ state: 'skipped', error: 'test export sent by mistake' });
    expect(second.code).toBe(1);
    expect(second.stdout).toBe('batch 2 of sink warehouse is skipped: only a sealed or failed batch can be skipped; nothing changed\n');
  });

  it('answers exit 1 for a batch the sink does not have', async () => {
    const run = await batches(['show', 'warehouse', '42']);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('sink warehouse has no batch 42 (the open batch is 3)\n');
  });

  it.each([
    ['a sink that does not load in batches', ['show', 'archive', '1'], /sink archive is not a redshift or postgres sink of orders-warehouse \(archive is a s3 sink, which does not load in batches\); its warehouse sinks: warehouse/],
    ['a batch number that is not a number', ['retry', 'warehouse', 'latest'], /batch must be a positive whole number, not latest/],
    ['an unknown action', ['load', 'warehouse', '1'], /unknown action load; expected one of: list, show, retry, skip/],
  ])('refuses %s as a usage error', async (_, args, message) => {
    const attempt = batches(args);

    await expect(attempt).rejects.toBeInstanceOf(UsageError);
    await expect(attempt).rejects.toThrow(message);
  });

  it('reads the table from a state.table parameter given with --param', async () => {
    const parameterised = join(directory, 'parameterised.yaml');
    await writeFile(parameterised, (await readFile(spec, 'utf8')).replace('dead_letter:', 'parameters:\n  ledger: { type: string }\nstate: { table: "${param.ledger}" }\ndead_letter:'));
    let stdout = '';
    const print = (text: string) => (stdout += `${text}\n`);
    const options: BatchesOptions = { format: 'text', parameters: [], environment: {}, client };

    const withoutValue = await batchesCommand([parameterised, 'show', 'warehouse', '1'], options, print).catch((error: unknown) => error as Error);
    const code = await batchesCommand([parameterised, 'show', 'warehouse', '1'], { ...options, parameters: [`ledger=${table}`] }, print);

    expect(withoutValue).toBeInstanceOf(UsageError);
    expect((withoutValue as Error).message).toBe('state.table is the parameter ledger: give its value with --param ledger=<table>, or --table <name>');
    expect(code).toBe(0);
    expect(stdout).toContain('sink warehouse, batch 1: ');
  });

  it('names a ledger table that does not exist, in one line and without a stack trace', async () => {
    const run = await ingest(['batches', spec, 'list', '--table', 'no-such-ledger', '--endpoint', motoEndpoint()]);

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('ingest batches: the ledger table no-such-ledger does not exist in this account and region\n');
  });

  it('asks for the ledger table when neither --table, state.table nor INGEST_LEDGER_TABLE names one', async () => {
    const attempt = batches(['list'], { table: undefined, environment: {} });

    await expect(attempt).rejects.toThrow(/^name the ledger table with --table <name>/);
  });
});
