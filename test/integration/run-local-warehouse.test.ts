import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngest } from '../support/ingest-binary.ts';
import type { IngestRun } from '../support/ingest-binary.ts';

// `ingest run --local` as a user runs it on a fresh machine: the built CLI in a directory of its
// own, redshift and postgres sinks loading into PGlite under .ingest/pglite/. The first start of a
// PGlite database runs initdb in WebAssembly, which takes long on a busy machine.
const RUN_TIMEOUT_MS = 240_000;
const UPSERT_EXAMPLE = join(import.meta.dirname, '../../examples/s3-events-to-redshift.yaml');

function environment(): NodeJS.ProcessEnv {
  const kept = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !entry[0].startsWith('AWS_'));
  return { ...Object.fromEntries(kept), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
}

function ingest(args: readonly string[], cwd: string): Promise<IngestRun> {
  return runIngest(args, { cwd, env: environment() });
}

/** Reads the local database a run left behind, as a user would with any PostgreSQL client. */
async function selectLocal<T>(cwd: string, sql: string): Promise<T[]> {
  const db = await PGlite.create({ dataDir: join(cwd, '.ingest', 'pglite') });
  try {
    return (await db.query<T>(sql)).rows;
  } finally {
    await db.close();
  }
}

describe('ingest run --local with warehouse sinks', () => {
  let workdir: string;

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'ingest-local-warehouse-'));
  });

  afterAll(async () => {
    await rm(workdir, { recursive: true, force: true });
  });

  it('upserts the Redshift example into a local SQL table, prints its rows, and a second run duplicates nothing', async () => {
    const cwd = await mkdtemp(join(workdir, 'upsert-'));
    const input = join(cwd, 'events.jsonl.gz');
    await writeFile(input, gzipSync([
      { eventId: 'e-1', eventType: 'Page_View', userId: 4211, occurredAt: '2026-05-02T08:15:00.250+02:00', context: { page: '/pricing' }, properties: { plan: 'team', seats: 5 } },
      { eventId: 'e-2', eventType: 'signup_started', occurredAt: '2026-05-02T06:16:00Z', context: { page: '/signup' } },
      { eventId: 'e-3', eventType: 'click', occurredAt: '02/05/2026 08:17', context: { page: '/' } },
      { eventId: 'e-1', eventType: 'Page_View', userId: 4211, occurredAt: '2026-05-02T06:15:01Z', context: { page: '/pricing/team' } },
    ].map((event) => JSON.stringify(event)).join('\n')));
    const args = ['run', UPSERT_EXAMPLE, '--local', '--input', `events=${input}`];

    const first = await ingest(args, cwd);
    const second = await ingest(args, cwd);

    expect(first).toMatchObject({ code: 0, stderr: '' });
    // e-3's time cannot be read: dead-lettered by the transform; e-1 twice merges into one row, the later version winning.
    expect(first.stdout).toContain('records: 4 in, 3 written, 0 filtered, 1 dead-lettered, 0 failed\n');
    expect(first.stdout).toContain('sink warehouse: loaded batch 1 (3 rows)\n');
    expect(first.stdout).toContain('note: warehouse: created table analytics.app_events in .ingest/pglite/ with every column text (the spec names columns, not their types)\n');
    expect(first.stdout).toMatch(/analytics\.app_events \(\.ingest\/pglite\/\): 2 rows\n {2}event_id +event_type +user_id +occurred_at +page +properties +source_object\n {2}e-1 +page_view +4211 +2026-05-02T06:15:01Z +\/pricing\/team +\{\} +events\/events\.jsonl\.gz\n {2}e-2 +signup_started +anonymous /);
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.stdout).toContain('sink warehouse: loaded batch 2 (0 rows)\n');
    expect(second.stdout).not.toContain('created table');
    expect(second.stdout).toContain('analytics.app_events (.ingest/pglite/): 2 rows\n');
    expect(await selectLocal(cwd, 'SELECT event_id, page, properties FROM analytics.app_events ORDER BY event_id')).toEqual([
      { event_id: 'e-1', page: '/pricing/team', properties: '{}' },
      { event_id: 'e-2', page: '/signup', properties: '{}' },
    ]);
    // Staging went to the local object store, and the ledger remembers both batches for the next run.
    const ledger = JSON.parse(await readFile(join(cwd, '.ingest', 'ledger.json'), 'utf8')) as { scopes: [string, { open: { batch: number } }][] };
    expect(ledger.scopes).toEqual([['app-events-warehouse/warehouse', expect.objectContaining({ open: expect.objectContaining({ batch: 3 }) })]]);
    expect(first.stdout).toMatch(/\n {2}\.ingest\/s3\/acme-ingest-staging\/app-events\/warehouse\/files\/\S+\.jsonl\.gz\n/);
  }, RUN_TIMEOUT_MS);

  it('appends into a postgres sink\'s existing typed table once per record, and fails a batch whose value the table refuses with its staged file and line', async () => {
    const cwd = await mkdtemp(join(workdir, 'append-'));
    const spec = join(cwd, 'orders.yaml');
    await writeFile(spec, [
      'version: 1',
      'name: orders-local',
      'parameters:',
      '  database_url: { type: string, secret: true }',
      'dead_letter: { bucket: local-errors }',
      'sources:',
      '  orders: { type: s3, bucket: local-orders, format: jsonl }',
      'sinks:',
      '  db:',
      '    type: postgres',
      '    inputs: [orders]',
      '    connection: { url: "${param.database_url}" }',
      '    table: shop.orders',
      '    columns: [order_id, amount, note]',
      '    staging: { bucket: local-staging, format: csv }',
    ].join('\n'));
    // A table the user made with real types, before the first run.
    await mkdir(join(cwd, '.ingest', 'pglite'), { recursive: true });
    const db = await PGlite.create({ dataDir: join(cwd, '.ingest', 'pglite') });
    await db.exec('CREATE SCHEMA shop; CREATE TABLE shop.orders (order_id int, amount numeric(10, 2))');
    await db.close();
    const orders = join(cwd, 'orders.jsonl');
    await writeFile(orders, '{"order_id": 1, "amount": 2.5, "note": "first, \\"quoted\\""}\n{"order_id": 2, "amount": 4}\n');
    const refused = join(cwd, 'refused.jsonl');
    await writeFile(refused, '{"order_id": 3, "amount": 1}\n{"order_id": 4, "amount": "four"}\n');

    const first = await ingest(['run', spec, '--local', '--input', `orders=${orders}`], cwd);
    const again = await ingest(['run', spec, '--local', '--input', `orders=${orders}`], cwd);
    const bad = await ingest(['run', spec, '--local', '--input', `orders=${refused}`], cwd);

    expect(first).toMatchObject({ code: 0, stderr: '' });
    // The connection's parameter is not needed: locally the sink loads into PGlite.
    expect(first.stdout).toContain('sink db: loaded batch 1 (2 rows)\n');
    expect(first.stdout).toContain('note: db: added columns note to shop.orders as text\n');
    expect(again.stdout).toContain('sink db: loaded batch 2 (0 rows)\n');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/sink db: load failed\n {2}batch 3 failed: invalid input syntax for type numeric: "four", at staged file s3:\/\/local-staging\/orders-local\/db\/files\/\S+\.csv\.gz line 2, column amount: "four"\n/);
    expect(await selectLocal(cwd, 'SELECT order_id, amount::text, note FROM shop.orders ORDER BY order_id')).toEqual([
      { order_id: 1, amount: '2.50', note: 'first, "quoted"' },
      { order_id: 2, amount: '4.00', note: null },
    ]);
  }, RUN_TIMEOUT_MS);

  it('exits 2 with one line when a Redshift table name is longer than PostgreSQL, which local runs load into, allows', async () => {
    const cwd = await mkdtemp(join(workdir, 'long-'));
    const spec = join(cwd, 'long.yaml');
    const long = `events_${'x'.repeat(60)}`;
    await writeFile(spec, (await readFile(UPSERT_EXAMPLE, 'utf8')).replace('table: analytics.app_events', `table: analytics.${long}`));
    const input = join(cwd, 'events.jsonl');
    await writeFile(input, '{"eventId": "e-1", "eventType": "click", "occurredAt": "2026-05-02T06:16:00Z"}\n');

    const run = await ingest(['run', spec, '--local', '--input', `events=${input}`], cwd);

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe(`ingest run: sink warehouse: invalid SQL identifier: "${long}": a local run loads into PostgreSQL (PGlite), whose names are letters, digits, _ and $, starting with a letter or _, at most 63 bytes\n`);
  }, RUN_TIMEOUT_MS);
});
