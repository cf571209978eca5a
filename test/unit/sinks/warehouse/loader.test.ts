import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '../../../../engine/ports/memory-ledger.ts';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import { MemoryWarehouse } from '../../../../engine/ports/memory-warehouse.ts';
import type { MemoryOutcome, MemorySubmission } from '../../../../engine/ports/memory-warehouse.ts';
import type { Notification } from '../../../../engine/ports/notifier.ts';
import type { StagedFile } from '../../../../engine/ports/ledger.ts';
import type { ResultSet } from '../../../../engine/ports/warehouse.ts';
import type { DeadLetter } from '../../../../engine/pipeline/dead-letters.ts';
import { InjectedCrash } from '../../../../engine/plugin/types.ts';
import type { FaultStep, MaintenanceContext } from '../../../../engine/plugin/types.ts';
import type { Sink, SinkConfig } from '../../../../engine/spec/spec-types.ts';
import { IDENTITY_FIELD, jsonPathsDocument } from '../../../../engine/sinks/sql/load-transaction.ts';
import { clientToken, Loader } from '../../../../engine/sinks/warehouse/loader.ts';
import { jsonPathsKey, manifestDocument, manifestKey } from '../../../../engine/sinks/warehouse/manifest.ts';
import { rejectedLetters } from '../../../../engine/sinks/warehouse/quarantine.ts';
import { stagedPosition, stagedSubPosition } from '../../../../engine/staging/record-identity.ts';
import { checkTemplate } from '../../../../engine/template/index.ts';
import { resolvedSink } from '../../../support/resolved-config.ts';

const SCOPE = 'shop/orders';
const BUCKET = 'staging';
const COLUMNS = ['id', 'amount'];

type Row = { id: string; amount: unknown };

/** A scripted warehouse answer: what load transactions do, and what a later read of load errors returns. */
interface Script {
  load?: (submission: MemorySubmission, index: number) => MemoryOutcome;
  loadErrors?: ResultSet;
}

const ERROR_COLUMNS = ['file_name', 'line_number', 'column_name', 'error_code', 'error_message'];

/** A finished load that staged `staged` rows and wrote `written`, with `rejected` rows from its errors statement. */
function finished(submission: MemorySubmission, staged: number, written: number, rejected: unknown[][] = []): MemoryOutcome {
  const results: (ResultSet | undefined)[] = submission.sqls.map(() => undefined);
  results[submission.sqls.length - 1] = { columns: ['rows_staged', 'rows_written'], rows: [[staged, written]] };
  const errors = submission.sqls.findIndex((sql) => sql.includes('pg_last_copy_id()'));
  if (errors !== -1) results[errors] = { columns: ERROR_COLUMNS, rows: rejected as ResultSet['rows'] };
  return { status: 'FINISHED', results };
}

/** MemoryWarehouse with the query ids Redshift gives each statement, which a failed load's errors are read by. */
class QueryIdWarehouse extends MemoryWarehouse {
  override async describe(id: string) {
    const description = await super.describe(id);
    description?.statements.forEach((statement, index) => {
      statement.queryId = 1000 + index;
    });
    return description;
  }
}

function harness(options: { sink?: Partial<Sink>; script?: Script } = {}) {
  const ledger = new MemoryLedger();
  const objects = new MemoryObjectStore();
  let loads = 0;
  const warehouse = new QueryIdWarehouse({
    answer: (submission) => {
      if (submission.transaction) return options.script?.load?.(submission, loads++) ?? finished(submission, 2, 2);
      if (submission.sqls[0]!.includes('load_error') || submission.sqls[0]!.includes('stl_load_errors')) {
        return { status: 'FINISHED', results: [options.script?.loadErrors ?? { columns: ERROR_COLUMNS, rows: [] }] };
      }
      return { status: 'FINISHED' };
    },
  });
  const sinkOf = (over: Partial<Sink> = {}) => resolvedSink({
    type: 'redshift', inputs: ['orders'], connection: { workgroup: 'analytics', database: 'dev' }, table: 'sales.orders', columns: COLUMNS,
    mode: 'append', staging: { bucket: BUCKET }, batch: { max_files: 2 }, ...options.sink, ...over,
  } as Sink) as SinkConfig<'redshift'>;
  const config = sinkOf();
  const time = { offset: 0 };
  const clock = () => Date.now() + time.offset;
  /** A loader of this sink, as a cold start builds it; `redeployed` changes its config as a deploy would. */
  const loader = (redeployed?: Partial<Sink>) => new Loader({ scope: SCOPE, sinkId: 'orders', config: redeployed ? sinkOf(redeployed) : config, ledger, warehouse, objects, clock, polling: { initialDelayMs: 2, maxDelayMs: 10 } });
  const letters: DeadLetter[] = [];
  const notifications: Notification[] = [];
  const faults: FaultStep[] = [];
  const logs: { level: string; message: string }[] = [];
  function context(settings: { reason?: MaintenanceContext['reason']; deadlineMs?: number; crashAfter?: FaultStep; deadLetter?: (letter: DeadLetter) => Promise<void> } = {}): MaintenanceContext {
    return {
      reason: settings.reason ?? 'schedule',
      invocation: {
        state: new Map(), now: new Date('2026-12-03T10:00:00Z'), requestId: 'request-1', deadline: clock() + (settings.deadlineMs ?? 3_000),
        fault: (step) => {
          faults.push(step);
          if (step === settings.crashAfter) throw new InjectedCrash(step);
        },
      },
      logger: { log: (level, message) => logs.push({ level, message }) },
      deadLetter: settings.deadLetter ?? (async (letter) => {
        letters.push(letter);
      }),
      notify: async (notification) => {
        notifications.push(notification);
      },
    };
  }
  let files = 0;
  /** Stages a gzip JSON-lines file in the 0031 §1 format and registers it. */
  async function stage(rows: Row[], key = `shop/orders/files/${++files}.jsonl.gz`): Promise<StagedFile> {
    const first = stagedPosition(files * 100) + stagedSubPosition(0, 0, 0);
    const body = gzipSync(rows.map((row, index) => JSON.stringify({
      ...row, [IDENTITY_FIELD]: ['orders', 'stream/shard-0', stagedPosition(files * 100 + index), stagedSubPosition(0, 0, 0), '2026-12-03 09:59:00.000', first],
    }) + '\n').join(''));
    objects.set(BUCKET, key, body);
    const file = { bucket: BUCKET, key, records: rows.length, bytes: body.byteLength };
    await ledger.register(SCOPE, file, clock());
    return file;
  }
  return { ledger, objects, warehouse, loader, context, stage, letters, notifications, faults, logs, time, config };
}

const transactions = (warehouse: MemoryWarehouse) => warehouse.submissions.filter((submission) => submission.transaction);

describe('Loader', () => {
  it('seals a due batch on the sweep, loads it once and reports what it wrote', async () => {
    const h = harness();
    await h.stage([{ id: 'a', amount: 1 }]);
    await h.stage([{ id: 'b', amount: 2 }]);
    const registering = h.ledger.requests;

    const report = await h.loader().maintain(h.context());

    // open batch 1, seal 3, list 1, claim 1, files 1, statement 1, finish 1: per batch, whatever its size.
    expect(h.ledger.requests - registering).toBe(9);
    expect(report).toMatchObject({ sealed: [1], loaded: [{ batch: 1, rows: 2, duplicates: 0 }], failed: [], resumed: [], pending: [], deadLettered: 0 });
    expect(transactions(h.warehouse)).toHaveLength(1);
    expect(transactions(h.warehouse)[0]!.clientToken).toBe('shop/orders/1/1');
    expect(await h.ledger.batch(SCOPE, 1)).toMatchObject({ state: 'loaded', rows: 2 });
    expect(h.notifications.map((n) => n.event)).toEqual(['load_succeeded']);
    expect(h.faults).toEqual(['sealed', 'manifest', 'submitted', 'polling', 'committed']);
  });

  it('lists batches from the lowest one it has not seen finish, so a sweep does not read every loaded batch the ledger keeps', async () => {
    const h = harness();
    const loader = h.loader();
    const listed: (number | undefined)[] = [];
    const batches = h.ledger.batches.bind(h.ledger);
    h.ledger.batches = (scope, states, from) => (listed.push(from), batches(scope, states, from));
    for (let batch = 1; batch <= 3; batch++) {
      await h.stage([{ id: `a${batch}`, amount: 1 }]);
      await h.stage([{ id: `b${batch}`, amount: 2 }]);
      await loader.maintain(h.context());
    }
    await h.stage([{ id: 'c', amount: 3 }]);
    await h.stage([{ id: 'd', amount: 4 }]);

    const report = await loader.maintain(h.context());

    expect(listed).toEqual([1, 2, 3, 4]);
    expect(report.loaded.map((load) => load.batch)).toEqual([4]);
  });

  it('keeps listing a failed batch until it is retried and loaded', async () => {
    const h = harness({ script: { load: (submission, attempt) => (attempt === 0 ? { status: 'FAILED', error: 'refused' } : finished(submission, 2, 2)) } });
    const loader = h.loader();
    await h.stage([{ id: 'a', amount: 1 }]);
    await h.stage([{ id: 'b', amount: 2 }]);
    await loader.maintain(h.context());
    await h.stage([{ id: 'c', amount: 3 }]);
    await h.stage([{ id: 'd', amount: 4 }]);
    await loader.maintain(h.context());

    await h.ledger.retry(SCOPE, 1);
    const report = await loader.maintain(h.context());

    expect(report.loaded.map((load) => load.batch)).toEqual([1]);
    expect(await h.ledger.batch(SCOPE, 1)).toMatchObject({ state: 'loaded' });
  });

  it('leaves a batch below every threshold open on the schedule, and seals it on flush', async () => {
    const h = harness();
    await h.stage([{ id: 'a', amount: 1 }]);

    const scheduled = await h.loader().maintain(h.context());
    const flushed = await h.loader().maintain(h.context({ reason: 'flush' }));

    expect(scheduled.sealed).toEqual([]);
    expect(flushed).toMatchObject({ sealed: [1], loaded: [{ batch: 1 }] });
  });

  it('seals on age once the oldest file is max_seconds old', async () => {
    const h = harness({ sink: { batch: { max_seconds: 60 } } as Partial<Sink> });
    await h.stage([{ id: 'a', amount: 1 }]);
    const early = await h.loader().maintain(h.context());
    h.time.offset = 61_000;

    const late = await h.loader().maintain(h.context());

    expect(early.sealed).toEqual([]);
    expect(late.sealed).toEqual([1]);
  });

  it('writes a deterministic manifest: slot order, each object once, mandatory, with its registered size', async () => {
    const h = harness({ sink: { batch: { max_files: 3 } } as Partial<Sink> });
    const first = await h.stage([{ id: 'a', amount: 1 }]);
    const second = await h.stage([{ id: 'b', amount: 2 }]);
    await h.ledger.register(SCOPE, first, Date.now()); // a duplicate S3 event registers the same object again

    await h.loader().maintain(h.context());
    const written = h.objects.object(BUCKET, 'shop/orders/manifests/0000000001.json')!.body;

    expect(JSON.parse(Buffer.from(written).toString())).toEqual({
      entries: [first, second].map((file) => ({ url: `s3://${BUCKET}/${file.key}`, mandatory: true, meta: { content_length: file.bytes } })),
    });
    expect(manifestDocument([first, second, first])).toEqual(JSON.parse(Buffer.from(written).toString()));
    const digest = createHash('sha256').update(JSON.stringify(COLUMNS)).digest('hex');
    expect(jsonPathsKey('shop/orders/', COLUMNS)).toBe(`shop/orders/jsonpaths/${digest}.json`);
    expect(JSON.parse(Buffer.from(h.objects.object(BUCKET, `shop/orders/jsonpaths/${digest}.json`)!.body).toString())).toEqual(jsonPathsDocument(COLUMNS));
    expect(transactions(h.warehouse)[0]!.sqls.join('\n')).toContain(`FROM 's3://${BUCKET}/shop/orders/manifests/0000000001.json'`);
  });

  it('names manifests by batch under the staging prefix, and refuses a batch number that is not one', () => {
    expect(manifestKey('p/', 7)).toBe('p/manifests/0000000007.json');
    expect(manifestKey('p/', 1234567890)).toBe('p/manifests/1234567890.json');
    expect(() => manifestKey('p/', 0)).toThrow(RangeError);
    expect(() => manifestKey('p/', 1.5)).toThrow(RangeError);
  });

  it('abandons a slot whose file was never written before building the manifest', async () => {
    const h = harness();
    const placed = await h.stage([{ id: 'a', amount: 1 }]);
    const late = { bucket: BUCKET, key: 'shop/orders/files/late.jsonl.gz', records: 1, bytes: 10 };
    const reservation = h.ledger.reserve(SCOPE, late, Date.now()); // its registrar dies before writing the file

    await h.loader().maintain(h.context());

    const manifest = JSON.parse(Buffer.from(h.objects.object(BUCKET, 'shop/orders/manifests/0000000001.json')!.body).toString());
    expect(manifest.entries.map((entry: { url: string }) => entry.url)).toEqual([`s3://${BUCKET}/${placed.key}`]);
    expect(h.ledger.place(SCOPE, reservation, late)).toBe(false);
  });

  it('runs the state tables once per loader, before its first load', async () => {
    const h = harness({ sink: { batch: { max_files: 1 } } as Partial<Sink> });
    const loader = h.loader();
    await h.stage([{ id: 'a', amount: 1 }]);
    await loader.maintain(h.context());
    await h.stage([{ id: 'b', amount: 2 }]);
    await loader.maintain(h.context());

    const setup = h.warehouse.submissions.filter((submission) => !submission.transaction);
    expect(setup.map((submission) => submission.sqls[0]!.slice(0, 27))).toEqual(['CREATE TABLE IF NOT EXISTS ', 'CREATE TABLE IF NOT EXISTS ']);
    expect(transactions(h.warehouse)).toHaveLength(2);
    expect(h.warehouse.submissions.indexOf(setup[1]!)).toBeLessThan(h.warehouse.submissions.indexOf(transactions(h.warehouse)[0]!));
  });

  it('renders pre_sql and post_sql with the sink, table and time, inside the load transaction', async () => {
    const h = harness({ sink: { pre_sql: ['DELETE FROM {{table}} WHERE note = \'{{sink}}\''], post_sql: ["ANALYZE {{table}} -- {{date now 'yyyy-MM-dd'}}"] } as Partial<Sink> });
    await h.stage([{ id: 'a', amount: 1 }]);
    await h.stage([{ id: 'b', amount: 2 }]);

    await h.loader().maintain(h.context());

    const sqls = transactions(h.warehouse)[0]!.sqls;
    expect(sqls[1]).toBe("DELETE FROM sales.orders WHERE note = 'orders'");
    expect(sqls[sqls.length - 2]).toBe('ANALYZE sales.orders -- 2026-12-03');
  });

  it('fails a batch whose pre_sql validate accepts but which does not render, without submitting it', async () => {
    const source = 'DELETE FROM {{table.name}}';
    const h = harness({ sink: { pre_sql: [source] } as Partial<Sink> });
    await h.stage([{ id: 'a', amount: 1 }]);
    await h.stage([{ id: 'b', amount: 2 }]);

    const report = await h.loader().maintain(h.context());

    expect(checkTemplate(source, ['sink', 'table', 'now'])).toEqual([]);
    expect(report).toMatchObject({ failed: [{ batch: 1, error: expect.stringContaining('does not render') }], pending: [] });
    expect(transactions(h.warehouse)).toHaveLength(0);
    expect((await h.ledger.batch(SCOPE, 1))?.state).toBe('failed');
    expect(h.notifications[0]?.detail).toMatchObject({ action: expect.stringContaining('Fix pre_sql or post_sql') });
  });

  describe('leases and resuming', () => {
    it('leaves a statement still running at the deadline pending, and a later loader resumes it without submitting again', async () => {
      const h = harness({ script: { load: () => 'running' } });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);

      const first = await h.loader().maintain(h.context({ deadlineMs: 1_200 }));
      const statement = transactions(h.warehouse)[0]!.id;
      h.warehouse.end(statement, finished(transactions(h.warehouse)[0]!, 2, 2) as Exclude<MemoryOutcome, 'running'>);
      h.time.offset = 1_000; // the next invocation comes after the first one's lease lapsed
      const second = await h.loader().maintain(h.context());

      expect(first).toMatchObject({ sealed: [1], loaded: [], pending: [1] });
      expect(second).toMatchObject({ resumed: [statement], loaded: [{ batch: 1, rows: 2 }], pending: [] });
      expect(transactions(h.warehouse)).toHaveLength(1);
      expect(await h.ledger.batch(SCOPE, 1)).toMatchObject({ state: 'loaded', statementId: statement });
    });

    it('does not take over a lease that has not lapsed, and takes it over once it has', async () => {
      const h = harness({ script: { load: () => 'running' } });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);
      await h.ledger.seal(SCOPE, 1, Date.now());
      const held = await h.ledger.claim(SCOPE, 1, 'other-loader', Date.now(), 60_000);
      expect(held).toMatchObject({ state: 'loading' });

      const during = await h.loader().maintain(h.context({ deadlineMs: 1_600 }));
      h.time.offset = 61_000;
      const after = await h.loader().maintain(h.context({ deadlineMs: 1_600 }));

      expect(during).toMatchObject({ loaded: [], pending: [1] });
      expect(transactions(h.warehouse)).toHaveLength(1);
      expect(after.pending).toEqual([1]);
      expect((await h.ledger.batch(SCOPE, 1))?.attempts).toBe(2);
    });

    it('finishes a statement found FINISHED on resume without submitting again', async () => {
      const h = harness();
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);

      await expect(h.loader().maintain(h.context({ crashAfter: 'submitted' }))).rejects.toThrow(InjectedCrash);
      h.time.offset = 5_000; // the crashed invocation's lease lapses with its deadline
      const resumed = await h.loader().maintain(h.context());

      expect(transactions(h.warehouse)).toHaveLength(1);
      expect(resumed).toMatchObject({ resumed: [transactions(h.warehouse)[0]!.id], loaded: [{ batch: 1, rows: 2 }] });
      expect(await h.ledger.batch(SCOPE, 1)).toMatchObject({ state: 'loaded' });
    });

    it.each([
      ['FAILED', (): MemoryOutcome => ({ status: 'FAILED', error: 'connection reset' })],
      ['ABORTED', (): MemoryOutcome => ({ status: 'ABORTED' })],
    ])('submits again, with a new client token, when the statement found on resume %s', async (_, outcome) => {
      const h = harness({ script: { load: (submission, index) => (index === 0 ? outcome() : finished(submission, 2, 2)) } });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);
      await expect(h.loader().maintain(h.context({ crashAfter: 'submitted' }))).rejects.toThrow(InjectedCrash);
      h.time.offset = 5_000;

      const report = await h.loader().maintain(h.context());

      expect(transactions(h.warehouse).map((submission) => submission.clientToken)).toEqual(['shop/orders/1/1', 'shop/orders/1/2']);
      expect(report).toMatchObject({ resumed: [], loaded: [{ batch: 1 }] });
    });

    it('submits again when the warehouse no longer knows the statement', async () => {
      const h = harness();
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);
      await expect(h.loader().maintain(h.context({ crashAfter: 'submitted' }))).rejects.toThrow(InjectedCrash);
      h.warehouse.forget(transactions(h.warehouse)[0]!.id);
      h.time.offset = 5_000;

      const report = await h.loader().maintain(h.context());

      expect(transactions(h.warehouse)).toHaveLength(2);
      expect(report.loaded).toMatchObject([{ batch: 1 }]);
    });

    it.each(['sealed', 'manifest', 'submitted', 'polling', 'committed'] as const)('loads the batch exactly once after a crash after %s', async (step) => {
      const h = harness();
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);

      await expect(h.loader().maintain(h.context({ crashAfter: step }))).rejects.toThrow(InjectedCrash);
      h.time.offset = 5_000;
      const report = await h.loader().maintain(h.context());

      expect(await h.ledger.batch(SCOPE, 1)).toMatchObject({ state: 'loaded' });
      expect(report.loaded).toMatchObject([{ batch: 1 }]);
      // A statement recorded before the crash is resumed; only a crash before submitting submits (once) later.
      expect(transactions(h.warehouse)).toHaveLength(1);
    });
  });

  describe('failures', () => {
    it('marks a failed load failed with the database error and the rejected rows, notifies, and loads it after a retry', async () => {
      let fixed = false;
      const h = harness({
        script: {
          load: (submission) => (fixed ? finished(submission, 2, 2) : { status: 'FAILED', error: "Load into table 'orders' failed. Check 'sys_load_error_detail'", failedStatement: 2 }),
          loadErrors: { columns: ERROR_COLUMNS, rows: [[`s3://${BUCKET}/shop/orders/files/2.jsonl.gz`, 1, 'amount', 1207, 'Invalid digit, Value \'x\'']] },
        },
      });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 'x' }]);

      const failed = await h.loader().maintain(h.context());

      expect(failed.failed).toEqual([{ batch: 1, error: expect.stringContaining('sys_load_error_detail') }]);
      const record = await h.ledger.batch(SCOPE, 1);
      expect(record?.state).toBe('failed');
      expect(record?.error).toContain(`s3://${BUCKET}/shop/orders/files/2.jsonl.gz:1 column amount: Invalid digit`);
      const notification = h.notifications.find((n) => n.event === 'load_failed');
      expect(notification?.detail).toMatchObject({ batch: 1, rejected_rows: [{ line: 1, column: 'amount' }], action: expect.stringContaining('ingest batches <spec> retry orders 1') });
      expect(notification!.subject.length).toBeLessThanOrEqual(100);
      expect(h.objects.object(BUCKET, 'shop/orders/files/2.jsonl.gz')).toBeDefined();

      fixed = true;
      expect(await h.ledger.retry(SCOPE, 1)).toBe(true);
      const retried = await h.loader().maintain(h.context());

      expect(retried.loaded).toMatchObject([{ batch: 1, rows: 2 }]);
      expect(transactions(h.warehouse).map((submission) => submission.clientToken)).toEqual(['shop/orders/1/1', 'shop/orders/1/2']);
    });

    it('registers the good files of a failed append batch again, so they load with a later batch', async () => {
      const badFile = `s3://${BUCKET}/shop/orders/files/2.jsonl.gz`;
      const h = harness({
        script: {
          load: (submission, index) => (index === 0 ? { status: 'FAILED', error: 'Load failed' } : finished(submission, 2, 2)),
          loadErrors: { columns: ERROR_COLUMNS, rows: [[badFile, 1, 'amount', 1207, 'bad'], [badFile, 2, 'amount', 1207, 'bad']] },
        },
        sink: { batch: { max_files: 2 } } as Partial<Sink>,
      });
      const good = await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 'x' }, { id: 'c', amount: 'y' }]);

      await h.loader().maintain(h.context());
      const open = await h.ledger.openBatch(SCOPE);
      const later = await h.loader().maintain(h.context({ reason: 'flush' }));

      expect(open).toMatchObject({ batch: 2, totals: { files: 1, records: 1 } });
      expect(h.notifications[0]?.detail).toMatchObject({ files_loading_again: 1 });
      expect(later).toMatchObject({ sealed: [2], loaded: [{ batch: 2 }] });
      const manifest = JSON.parse(Buffer.from(h.objects.object(BUCKET, 'shop/orders/manifests/0000000002.json')!.body).toString());
      expect(manifest.entries.map((entry: { url: string }) => entry.url)).toEqual([`s3://${BUCKET}/${good.key}`]);
      expect((await h.ledger.files(SCOPE, 1)).files).toHaveLength(2);
    });

    it.each([
      ['an upsert batch', { mode: 'upsert', keys: ['id'] }, [['2.jsonl.gz', 1]], false],
      ['a batch whose rejected rows are in two files', {}, [['1.jsonl.gz', 1], ['2.jsonl.gz', 1]], false],
      ['a batch whose failure names no row', {}, [], false],
      ['a batch on a later claim', {}, [['2.jsonl.gz', 1]], true],
    ])('does not split %s', async (_, sink, rows, retried) => {
      const h = harness({
        sink: sink as Partial<Sink>,
        script: {
          load: () => ({ status: 'FAILED', error: 'Load failed' }),
          loadErrors: { columns: ERROR_COLUMNS, rows: (rows as [string, number][]).map(([file, line]) => [`s3://${BUCKET}/shop/orders/files/${file}`, line, 'amount', 1207, 'bad']) },
        },
      });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 'x' }]);
      if (retried) {
        await h.ledger.seal(SCOPE, 1, Date.now());
        await h.ledger.claim(SCOPE, 1, 'a loader that died', Date.now() - 10_000, 1);
      }

      const report = await h.loader().maintain(h.context());

      expect(report.failed).toMatchObject([{ batch: 1 }]);
      expect((await h.ledger.openBatch(SCOPE)).totals.files).toBe(0);
    });

    it('reads the load errors of a provisioned cluster from stl_load_errors', async () => {
      const h = harness({
        sink: { connection: { cluster: 'main', db_user: 'loader', database: 'dev' } } as Partial<Sink>,
        script: { load: (submission) => ({ status: 'FAILED', error: 'Load failed', failedStatement: submission.sqls.findIndex((sql) => sql.startsWith('COPY ')) }) },
      });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);

      await h.loader().maintain(h.context());

      const read = h.warehouse.submissions.find((submission) => !submission.transaction && submission.sqls[0]!.includes('load_errors'));
      expect(read?.sqls[0]).toMatch(/FROM stl_load_errors WHERE query = CAST\(:query_id AS BIGINT\)/);
      const copyIndex = transactions(h.warehouse)[0]!.sqls.findIndex((sql) => sql.startsWith('COPY '));
      expect(read?.parameters).toEqual({ query_id: String(1000 + copyIndex) });
      expect((await h.ledger.batch(SCOPE, 1))?.state).toBe('failed');
    });

    it('holds later batches of an upsert sink behind a failed one, and loads later batches of an append sink', async () => {
      for (const mode of ['upsert', 'append'] as const) {
        const h = harness({
          sink: { mode, ...(mode === 'upsert' ? { keys: ['id'] } : {}), batch: { max_files: 1 } } as Partial<Sink>,
          script: { load: (submission, index) => (index === 0 ? { status: 'FAILED', error: 'bad row' } : finished(submission, 1, 1)) },
        });
        await h.stage([{ id: 'a', amount: 1 }]);
        await h.loader().maintain(h.context());
        await h.stage([{ id: 'a', amount: 2 }]);

        const report = await h.loader().maintain(h.context());

        if (mode === 'upsert') {
          expect(report).toMatchObject({ sealed: [2], loaded: [], pending: [2] });
          expect(transactions(h.warehouse)).toHaveLength(1);
        } else {
          expect(report).toMatchObject({ sealed: [2], loaded: [{ batch: 2 }], pending: [] });
        }
      }
    });

    it('holds a later upsert batch while an earlier one is still loading', async () => {
      const h = harness({ sink: { mode: 'upsert', keys: ['id'], batch: { max_files: 1 } } as Partial<Sink>, script: { load: () => 'running' } });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.ledger.seal(SCOPE, 1, Date.now());
      await h.stage([{ id: 'a', amount: 2 }]);

      const report = await h.loader().maintain(h.context({ deadlineMs: 1_600 }));

      expect(report.pending).toEqual([1, 2]);
      expect(transactions(h.warehouse)).toHaveLength(1);
    });

    it('releases the lease and reports the batch pending when submitting fails, so another loader takes it at once', async () => {
      const h = harness();
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);
      h.warehouse.executeTransaction = async () => {
        throw new Error('ThrottlingException');
      };

      const report = await h.loader().maintain(h.context());

      expect(report.pending).toEqual([1]);
      expect(await h.ledger.claim(SCOPE, 1, 'next', Date.now(), 1_000)).toMatchObject({ state: 'loading', attempts: 2 });
      expect(h.logs.some((log) => log.level === 'error')).toBe(true);
    });
  });

  describe('quarantine', () => {
    it('dead-letters each rejected row with its staged line, column and position, before finishing the batch', async () => {
      const h = harness({
        sink: { copy: { max_error: 10 } } as Partial<Sink>,
        script: { load: (submission) => finished(submission, 1, 1, [[`s3://${BUCKET}/shop/orders/files/2.jsonl.gz`, 2, 'amount', 1207, "Invalid digit, Value 'x'"]]) },
      });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }, { id: 'c', amount: 'x' }]);

      const report = await h.loader().maintain(h.context());

      expect(report).toMatchObject({ deadLettered: 1, loaded: [{ batch: 1, rows: 1 }] });
      expect(h.letters).toHaveLength(1);
      const letter = h.letters[0]!;
      expect(letter).toMatchObject({
        stage: 'sink', code: 'load-rejected', component: 'orders', source: 'orders',
        position: `s3://${BUCKET}/shop/orders/files/2.jsonl.gz:2`, message: expect.stringMatching(/^column amount: Invalid digit.*1207/),
        meta: { event: 's3', bucket: BUCKET, key: 'shop/orders/files/2.jsonl.gz', line: 2, arrival_time: '2026-12-03T09:59:00.000Z' },
      });
      expect({ ...letter.record }).toEqual({ id: 'c', amount: 'x' });
      const staged = gunzipSync(h.objects.object(BUCKET, 'shop/orders/files/2.jsonl.gz')!.body).toString().split('\n')[1];
      expect(Buffer.from(letter.raw).toString()).toBe(staged);
    });

    it('finds the rejected rows of a statement resumed after a deploy changed pre_sql', async () => {
      const h = harness({
        sink: { copy: { max_error: 10 } } as Partial<Sink>,
        script: { load: (submission) => finished(submission, 1, 1, [[`s3://${BUCKET}/shop/orders/files/1.jsonl.gz`, 1, 'amount', 1207, 'bad']]) },
      });
      await h.stage([{ id: 'a', amount: 'x' }]);
      await h.stage([{ id: 'b', amount: 2 }]);
      await expect(h.loader().maintain(h.context({ crashAfter: 'submitted' }))).rejects.toThrow(InjectedCrash);
      h.time.offset = 5_000;

      const report = await h.loader({ pre_sql: ['SELECT 1', 'SELECT 2'] } as Partial<Sink>).maintain(h.context());

      expect(report).toMatchObject({ resumed: [transactions(h.warehouse)[0]!.id], loaded: [{ batch: 1, rows: 1 }], deadLettered: 1 });
      expect(h.letters).toMatchObject([{ code: 'load-rejected', position: `s3://${BUCKET}/shop/orders/files/1.jsonl.gz:1` }]);
    });

    it('leaves the batch unfinished when a dead letter cannot be written, and dead-letters then finishes on the next run', async () => {
      const h = harness({
        sink: { copy: { max_error: 10 } } as Partial<Sink>,
        script: { load: (submission) => finished(submission, 1, 1, [[`s3://${BUCKET}/shop/orders/files/1.jsonl.gz`, 1, 'amount', 1207, 'bad']]) },
      });
      await h.stage([{ id: 'a', amount: 'x' }]);
      await h.stage([{ id: 'b', amount: 2 }]);

      const first = await h.loader().maintain(h.context({ deadLetter: async () => Promise.reject(new Error('AccessDenied')) }));
      const second = await h.loader().maintain(h.context());

      expect(first).toMatchObject({ loaded: [], pending: [1], deadLettered: 0 });
      expect(second).toMatchObject({ loaded: [{ batch: 1 }], deadLettered: 1 });
      expect(transactions(h.warehouse)).toHaveLength(1);
      expect(h.letters).toHaveLength(1);
    });

    it('keeps a rejected row whose staged file is gone as a dead letter that says so', async () => {
      const h = harness({
        sink: { copy: { max_error: 10 } } as Partial<Sink>,
        script: { load: (submission) => finished(submission, 1, 1, [[`s3://${BUCKET}/shop/orders/files/1.jsonl.gz`, 1, 'amount', 1207, 'bad']]) },
      });
      await h.stage([{ id: 'a', amount: 'x' }]);
      await h.stage([{ id: 'b', amount: 2 }]);
      h.objects.delete(BUCKET, 'shop/orders/files/1.jsonl.gz');

      await h.loader().maintain(h.context());

      expect(h.letters).toMatchObject([{ code: 'load-rejected', message: expect.stringContaining('could not be read back'), raw: new Uint8Array(0) }]);
    });
  });

  describe('deadline', () => {
    it('claims nothing when the deadline is too close, and reports every sealed batch pending', async () => {
      const h = harness({ sink: { batch: { max_files: 1 } } as Partial<Sink> });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.ledger.seal(SCOPE, 1, Date.now());

      const report = await h.loader().maintain(h.context({ deadlineMs: 500 }));

      expect(report).toMatchObject({ loaded: [], pending: [1] });
      expect(transactions(h.warehouse)).toHaveLength(0);
    });

    it('stops following a running statement at the deadline', async () => {
      const h = harness({ script: { load: () => 'running' } });
      await h.stage([{ id: 'a', amount: 1 }]);
      await h.stage([{ id: 'b', amount: 2 }]);
      const started = Date.now();

      await h.loader().maintain(h.context({ deadlineMs: 1_500 }));

      expect(Date.now() - started).toBeLessThan(1_500 + 1_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    });
  });

  it('keeps client tokens within the Data API limit of 64 characters', () => {
    const long = `${'p'.repeat(64)}/${'s'.repeat(64)}/12/1`;
    expect(clientToken('shop/orders/12/1')).toBe('shop/orders/12/1');
    expect(clientToken(long)).toHaveLength(64);
    expect(clientToken(long)).not.toBe(clientToken(`${long}0`));
  });

  describe('rejectedLetters', () => {
    const identity = ['orders', 'stream/shard-0', stagedPosition(7), stagedSubPosition(0, 0, 0), '2026-12-03 09:59:00.000', stagedPosition(7) + stagedSubPosition(0, 0, 0)];
    const lines = {
      jsonl: [JSON.stringify({ id: 'a', amount: 1, [IDENTITY_FIELD]: identity }), JSON.stringify({ id: 'b', amount: 'x', [IDENTITY_FIELD]: identity })],
      csv: [['a', '1', ...identity].join(','), ['b', 'x', ...identity].join(',')],
    };

    it.each(['jsonl', 'csv'] as const)('turns a rejected %s line into a dead letter with its raw line, columns, source and arrival', async (format) => {
      const objects = new MemoryObjectStore({ chunkBytes: 7 });
      const file = { bucket: BUCKET, key: `files/1.${format}.gz`, records: 2, bytes: 0 };
      objects.set(BUCKET, file.key, gzipSync(lines[format].join('\n') + '\n'));

      const letters = await rejectedLetters(
        [{ file: `s3://${BUCKET}/${file.key}`, line: 2, column: 'amount', code: 1207, message: 'Invalid digit' }],
        { objects, sinkId: 'orders', columns: COLUMNS, format, files: [file] },
      );

      expect(letters).toHaveLength(1);
      expect(Buffer.from(letters[0]!.raw).toString()).toBe(lines[format][1]);
      expect({ ...letters[0]!.record }).toEqual({ id: 'b', amount: 'x' });
      expect(letters[0]).toMatchObject({ source: 'orders', meta: { source: 'orders', arrival_time: '2026-12-03T09:59:00.000Z', line: 2 } });
    });

    it('reads a CSV null as null and a quoted empty string as the empty string', async () => {
      const objects = new MemoryObjectStore();
      const file = { bucket: BUCKET, key: 'files/2.csv.gz', records: 1, bytes: 0 };
      objects.set(BUCKET, file.key, gzipSync(`"",,${identity.join(',')}\n`));

      const [letter] = await rejectedLetters([{ file: `s3://${BUCKET}/${file.key}`, line: 1, column: 'id', code: 1, message: 'm' }], { objects, sinkId: 'orders', columns: COLUMNS, format: 'csv', files: [file] });

      expect({ ...letter!.record }).toEqual({ id: '', amount: null });
    });

    it('never reads a file the batch does not hold, and still keeps the row as a dead letter', async () => {
      const objects = new MemoryObjectStore();
      objects.set(BUCKET, 'elsewhere/secret.jsonl.gz', gzipSync(lines.jsonl[0]! + '\n'));
      const read: string[] = [];
      const get = objects.get.bind(objects);
      objects.get = async (bucket, key, options) => {
        read.push(key);
        return get(bucket, key, options);
      };

      const letters = await rejectedLetters([{ file: `s3://${BUCKET}/elsewhere/secret.jsonl.gz`, line: 1, column: 'id', code: 1, message: 'm' }], { objects, sinkId: 'orders', columns: COLUMNS, format: 'jsonl', files: [] });

      expect(read).toEqual([]);
      expect(letters).toMatchObject([{ code: 'load-rejected', raw: new Uint8Array(0), message: expect.stringContaining('could not be read back') }]);
    });
  });
});
