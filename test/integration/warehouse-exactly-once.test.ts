import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FaultStep, MaintenanceReport } from '../../engine/plugin/types.ts';
import { InjectedCrash } from '../../engine/plugin/types.ts';
import { motoEndpoint, pgConnectionString } from '../support/env.ts';
import { reconciling } from '../support/reconciliation.ts';
import { kinesisBatch, s3Event, WarehouseHarness } from '../support/warehouse-harness.ts';
import type { PipelineOptions, TestRow, WarehousePipeline } from '../support/warehouse-harness.ts';

// The fault-injection matrix of issue 7 (docs/decisions/0031-exactly-once-warehouse-loads.md):
// a pipeline with a redshift sink runs against moto S3, moto DynamoDB (through the serializing
// proxy, so its writes are atomic as DynamoDB's are), and the Data API emulator over the run's
// PostgreSQL; the production sink, ledger and Data API adapter run unchanged. Each case breaks
// delivery or crashes the engine after a named step, recovers as Lambda and the schedule would
// (redelivery, sweeps, `ingest batches retry`), and then compares the target table's full row
// set with every input record exactly once (for upsert: the newest version of each key). Every
// invocation also asserts that its counts reconcile (`reconciling`).
//
// The postgres sink runs the crash steps and duplicate deliveries too.
//
// `Date` is faked (advancing with real time) so that sweeps can move it past `max_seconds` and
// past leases without waiting.

type Mode = 'append' | 'upsert';
const MODES: Mode[] = ['append', 'upsert'];
const CRASH_STEPS: FaultStep[] = ['staged', 'registered', 'sealed', 'manifest', 'submitted', 'committed', 'polling'];
/** The steps of the sink writer; the others are the loader's, the same whatever the source. */
const WRITER_STEPS: FaultStep[] = ['staged', 'registered', 'sealed'];
const LAPSE_MS = 16 * 60_000;
/** A Lambda's remaining time short enough to end while a held load runs, long enough to claim and submit on a loaded machine. */
const REMAINING_MS = 8_000;

/**
 * `count` input rows. Append: distinct ids. Upsert: four keys, each seen several times with a
 * growing version, so the table must end with each key's last version.
 */
function inputRows(count: number, mode: Mode, prefix = 'e'): TestRow[] {
  return Array.from({ length: count }, (_, index) => ({
    id: mode === 'append' ? `${prefix}${String(index).padStart(3, '0')}` : `${prefix}k${index % 4}`,
    version: index,
    body: `body of ${prefix} ${index}`,
  }));
}

/** What the table must hold after loading `rows` exactly once, sorted as `WarehousePipeline.rows` sorts. */
function expectedRows(mode: Mode, rows: readonly TestRow[]): TestRow[] {
  let kept = [...rows];
  if (mode === 'upsert') {
    const latest = new Map<string, TestRow>();
    for (const row of rows) if ((latest.get(row.id)?.version ?? -1) < row.version) latest.set(row.id, row);
    kept = [...latest.values()];
  }
  return kept.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.version - b.version || (a.body < b.body ? -1 : a.body > b.body ? 1 : 0)));
}

describe('exactly-once loads into warehouse sinks under faults', () => {
  let harness: WarehouseHarness;
  const advanceTime = (ms: number) => vi.setSystemTime(Date.now() + ms);

  beforeAll(async () => {
    // Before any handler is built: sinks read the clock they were built with.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    harness = await WarehouseHarness.start({ motoUrl: motoEndpoint(), pgUrl: pgConnectionString() });
  });

  afterAll(async () => {
    await harness?.stop();
    vi.useRealTimers();
  });

  function open(options: Omit<PipelineOptions, 'sink'> & { sink?: PipelineOptions['sink'] }): Promise<WarehousePipeline> {
    return harness.pipeline({ sink: 'redshift', wrap: reconciling, advanceTime, ...options });
  }

  describe.each(MODES)('for a redshift sink in %s mode', (mode) => {
    it.each(CRASH_STEPS)('holds every record exactly once after a crash after %s', async (step) => {
      // One file per batch: each delivery seals on registration and loads before answering, so
      // every step of the writer and the loader runs inside the delivery that crashes.
      const pipeline = await open({ mode, source: 'kinesis', batch: { max_files: 1 } });
      const input = inputRows(12, mode);
      const records = pipeline.kinesisRecords(input);
      pipeline.faults.crashAfter(step);

      await pipeline.deliver(kinesisBatch(records.slice(0, 6)));
      await pipeline.deliver(kinesisBatch(records.slice(6)));
      await pipeline.sweepUntilQuiet();

      expect(pipeline.faults.fired).toEqual([step]);
      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
      expect((await pipeline.batches()).map((batch) => batch.state)).not.toContain('failed');
    }, 60_000);

    it.each(WRITER_STEPS)('holds every record of SQS-announced S3 objects exactly once after a crash after %s', async (step) => {
      // S3 objects arrive as independent SQS items (each retried alone), not as a stream with a
      // checkpoint; the writer's steps are where that difference shows.
      const pipeline = await open({ mode, source: 's3', batch: { max_files: 1 } });
      const first = inputRows(5, mode, 'a-');
      const second = inputRows(4, mode, 'b-');
      const objects = [await pipeline.putObject('a.jsonl', first), await pipeline.putObject('b.jsonl', second)];
      pipeline.faults.crashAfter(step);

      await pipeline.deliver(s3Event(objects));
      await pipeline.sweepUntilQuiet();

      expect(pipeline.faults.fired).toEqual([step]);
      expect(await pipeline.rows()).toEqual(expectedRows(mode, [...first, ...second]));
    }, 60_000);

    it('resumes a load still running when its Lambda ran out of time, through the lapsed lease, and never submits it again', async () => {
      const pipeline = await open({ mode, source: 'kinesis', batch: { max_files: 100, max_seconds: 60 } });
      const input = inputRows(10, mode);
      const records = pipeline.kinesisRecords(input);
      // A first load creates the loads and ranges tables, which a held emulator would hold too.
      await pipeline.deliver(kinesisBatch(records.slice(0, 5)));
      await pipeline.sweepUntilQuiet();
      await pipeline.deliver(kinesisBatch(records.slice(5)));
      advanceTime(61_000);

      const release = harness.emulator.hold();
      let timedOut: MaintenanceReport | undefined;
      let takenOver: MaintenanceReport | undefined;
      try {
        timedOut = await pipeline.sweep({ remainingMs: REMAINING_MS });
        advanceTime(LAPSE_MS);
        takenOver = await pipeline.sweep({ remainingMs: REMAINING_MS });
      } finally {
        release();
      }
      await pipeline.sweepUntilQuiet();

      const submissions = pipeline.loadSubmissions();
      expect(timedOut?.pending).toHaveLength(1);
      expect(takenOver?.resumed).toEqual([submissions[1]!.id]);
      expect(submissions.map((submission) => submission.status)).toEqual(['FINISHED', 'FINISHED']);
      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
    }, 60_000);

    it('loads the records of an object announced twice in one invocation, then again after the load, exactly once', async () => {
      const pipeline = await open({ mode, source: 's3' });
      const input = inputRows(8, mode);
      const object = await pipeline.putObject('a.jsonl', input);

      // Twice in one event: both files join one batch. Then again once that batch is loaded: a
      // later batch, deduplicated against what the first load recorded.
      await pipeline.deliver(s3Event([object, object]));
      await pipeline.sweepUntilQuiet();
      await pipeline.deliver(s3Event([object]));
      await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
      expect((await pipeline.batches()).map((batch) => batch.state)).toEqual(['loaded', 'loaded']);
    }, 60_000);

    it('loads both versions of an overwritten S3 key, as two partitions', async () => {
      const pipeline = await open({ mode, source: 's3' });
      const first = inputRows(5, mode, 'v1-');
      const second = inputRows(6, mode, 'v2-');

      const before = await pipeline.putObject('same-key.jsonl', first);
      await pipeline.deliver(s3Event([before]));
      const after = await pipeline.putObject('same-key.jsonl', second);
      await pipeline.deliver(s3Event([after]));
      await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, [...first, ...second]));
      const partitions = await harness.pool.query<{ partition: string }>(
        `SELECT DISTINCT partition FROM ${pipeline.name}.ingest_loaded_ranges WHERE sink = $1 ORDER BY partition`, [pipeline.scope]);
      expect(partitions.rows.map((row) => row.partition).sort()).toEqual([
        `${before.bucket}/${before.key}@${before.etag}`,
        `${after.bucket}/${after.key}@${after.etag}`,
      ].sort());
    }, 60_000);

    it('loads the same Kinesis batch delivered twice, then once more after the load, exactly once', async () => {
      const pipeline = await open({ mode, source: 'kinesis' });
      const input = inputRows(10, mode);
      const event = kinesisBatch(pipeline.kinesisRecords(input));

      await pipeline.deliver(event);
      await pipeline.deliver(event);
      await pipeline.sweepUntilQuiet();
      await pipeline.deliver(event);
      await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
      expect((await pipeline.batches()).map((batch) => [batch.state, batch.totals.records])).toEqual([['loaded', 20], ['loaded', 10]]);
    }, 60_000);

    it('registers nothing at or after the checkpoint of a partial batch response, and loads the redelivery with new boundaries exactly once', async () => {
      // No dead-letter bucket yet: the record that is not JSON cannot be set aside, so its item
      // fails and Lambda retries the shard from it.
      const pipeline = await open({ mode, source: 'kinesis', createDeadLetterBucket: false });
      const input = inputRows(12, mode);
      const records = pipeline.kinesisRecords(input.map((row, index) => (index === 5 ? '{"id": "broken", ' : row)));

      const first = await pipeline.invoke(kinesisBatch(records.slice(0, 8)));
      expect(first.response).toEqual({ batchItemFailures: [{ itemIdentifier: records[5]!.kinesis.sequenceNumber }] });
      expect((await harness.ledger.openBatch(pipeline.scope)).totals.records).toBe(5);
      await pipeline.sweepUntilQuiet();

      await harness.createBuckets(pipeline.buckets.deadLetters);
      await pipeline.deliver(kinesisBatch(records.slice(5, 10)));
      await pipeline.deliver(kinesisBatch(records.slice(10)));
      await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, input.filter((_, index) => index !== 5)));
      expect((await pipeline.deadLetters()).map((letter) => letter.code)).toEqual(['invalid-json']);
    }, 60_000);

    it('loads a batch that crashed after registering and was then delivered as two halves (bisect_on_error) exactly once', async () => {
      const pipeline = await open({ mode, source: 'kinesis' });
      const input = inputRows(12, mode);
      const records = pipeline.kinesisRecords(input);
      pipeline.faults.crashAfter('registered');

      await expect(pipeline.invoke(kinesisBatch(records))).rejects.toThrow(InjectedCrash);
      // The crashed invocation's file is loaded before the halves come, so they are told apart
      // from it by what that load recorded, not within one batch.
      pipeline.coldStart();
      await pipeline.sweepUntilQuiet();
      await pipeline.deliver(kinesisBatch(records.slice(0, 6)));
      await pipeline.sweepUntilQuiet();
      await pipeline.deliver(kinesisBatch(records.slice(6)));
      await pipeline.sweepUntilQuiet();

      expect(pipeline.faults.fired).toEqual(['registered']);
      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
      expect((await pipeline.batches()).map((batch) => [batch.state, batch.totals.records])).toEqual([['loaded', 12], ['loaded', 6], ['loaded', 6]]);
    }, 60_000);

    it('puts every record of 8 concurrent instances in the table exactly once while batches seal and load', async () => {
      // Each instance handles three objects in turn; two files fill a batch, so registrations,
      // seals on arrival, the sweeper's seals and loads all interleave.
      const pipeline = await open({ mode, source: 's3', batch: { max_files: 2 } });
      const inputs = Array.from({ length: 8 }, (_, instance) => Array.from({ length: 3 }, (_, object) => inputRows(3, mode, `i${instance}-o${object}-`)));
      const objects = await Promise.all(inputs.map((rows, instance) => Promise.all(rows.map((each, object) => pipeline.putObject(`concurrent-${instance}-${object}.jsonl`, each)))));
      let registering = true;
      const sweeper = (async () => {
        while (registering) await pipeline.sweep();
      })();

      await Promise.all(objects.map(async (mine) => {
        const instance = pipeline.newInstance([]);
        for (const object of mine) await pipeline.invoke(s3Event([object]), {}, instance);
      }));
      registering = false;
      await sweeper;
      await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, inputs.flat(2)));
      const batches = await pipeline.batches();
      expect(batches.length).toBeGreaterThan(1);
      expect(batches.every((batch) => batch.state === 'loaded')).toBe(true);
      expect(batches.reduce((sum, batch) => sum + batch.totals.files, 0)).toBeGreaterThanOrEqual(24);
    }, 90_000);

    it('fails a batch with a bad row under max_error 0, with details and a notification, and loads it exactly once when retried after the fix', async () => {
      const pipeline = await open({ mode, source: 'kinesis', bodyWidth: 24 });
      const input = inputRows(6, mode);
      input[3] = { ...input[3]!, body: 'a body far longer than the twenty-four bytes its column holds' };

      await pipeline.deliver(kinesisBatch(pipeline.kinesisRecords(input)));
      const reports = await pipeline.sweepUntilQuiet();

      const [batch] = await pipeline.batches();
      expect(batch).toMatchObject({ state: 'failed' });
      expect(batch!.error).toMatch(/:4 column body/);
      expect(reports.flatMap((report) => report.failed)).toEqual([{ batch: batch!.batch, error: expect.any(String) }]);
      const notifications = pipeline.notifier.of('load_failed');
      expect(notifications).toHaveLength(1);
      expect(notifications[0]).toMatchObject({ component: 'warehouse', detail: { batch: batch!.batch, rejected_rows: [{ line: 4, column: 'body' }] } });
      expect(await pipeline.rowsIn()).toBe(0);

      await harness.pool.query(`ALTER TABLE ${pipeline.table} ALTER COLUMN body TYPE VARCHAR(200)`);
      expect(await harness.ledger.retry(pipeline.scope, batch!.batch)).toBe(true);
      const retried = await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
      expect(retried.flatMap((report) => report.loaded.map((load) => load.batch))).toEqual([batch!.batch]);
      expect((await pipeline.batches()).map((each) => each.state)).toEqual(['loaded']);
    }, 60_000);

    it('loads the good rows under max_error 10 and dead-letters the bad row with its line and column', async () => {
      const pipeline = await open({ mode, source: 'kinesis', bodyWidth: 24, copy: { max_error: 10 } });
      const input = inputRows(6, mode);
      input[3] = { ...input[3]!, body: 'a body far longer than the twenty-four bytes its column holds' };

      await pipeline.deliver(kinesisBatch(pipeline.kinesisRecords(input)));
      const reports = await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, input.filter((_, index) => index !== 3)));
      expect(reports.reduce((sum, report) => sum + report.deadLettered, 0)).toBe(1);
      const letters = await pipeline.deadLetters();
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ code: 'load-rejected', component: 'warehouse', position: expect.stringMatching(/^s3:\/\/.+:4$/) });
      expect(letters[0]!.message).toMatch(/body/);
      expect(letters[0]!.raw).toContain(input[3]!.body);
      expect((await pipeline.batches()).map((batch) => batch.state)).toEqual(['loaded']);
    }, 60_000);
  });

  // The postgres sink shares the writer, ledger and loader; its warehouse runs COPY FROM STDIN
  // through `pg` and knows only the statements its own instance submitted, so a load resumed
  // after a crash is submitted again and the load ledger table must make it a no-op.
  describe.each(MODES)('for a postgres sink in %s mode', (mode) => {
    it.each(CRASH_STEPS)('holds every record exactly once after a crash after %s', async (step) => {
      const pipeline = await open({ sink: 'postgres', mode, source: 'kinesis', batch: { max_files: 1 } });
      const input = inputRows(12, mode);
      const records = pipeline.kinesisRecords(input);
      pipeline.faults.crashAfter(step);

      await pipeline.deliver(kinesisBatch(records.slice(0, 6)));
      await pipeline.deliver(kinesisBatch(records.slice(6)));
      await pipeline.sweepUntilQuiet();

      expect(pipeline.faults.fired).toEqual([step]);
      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
      expect((await pipeline.batches()).map((batch) => batch.state)).not.toContain('failed');
    }, 60_000);

    it('loads the same Kinesis batch delivered twice, then once more after the load, exactly once', async () => {
      const pipeline = await open({ sink: 'postgres', mode, source: 'kinesis' });
      const input = inputRows(10, mode);
      const event = kinesisBatch(pipeline.kinesisRecords(input));

      await pipeline.deliver(event);
      await pipeline.deliver(event);
      await pipeline.sweepUntilQuiet();
      await pipeline.deliver(event);
      await pipeline.sweepUntilQuiet();

      expect(await pipeline.rows()).toEqual(expectedRows(mode, input));
      expect((await pipeline.batches()).map((batch) => [batch.state, batch.totals.records])).toEqual([['loaded', 20], ['loaded', 10]]);
    }, 60_000);
  });
});
