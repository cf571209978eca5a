/**
 * The work a redshift or postgres sink owes across invocations (docs/decisions/0031, section 4):
 * seal the open batch when it is due, then load sealed batches one transaction each, under a
 * lease, resuming a statement an earlier invocation submitted instead of submitting it again.
 *
 * Exactly-once rests on three things this file keeps: the file list of a batch is final before
 * its manifest is written (missing slots are abandoned first); a statement id is recorded in the
 * ledger before it is followed, so a later loader resumes it; and the load transaction itself is
 * a no-op for a batch the target database has loaded already, so submitting again after a crash
 * or a FAILED/unknown statement is safe. Dead letters of rejected rows are written before the
 * batch is finished, so a crash between the two writes them again rather than losing them.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { BatchRecord, Ledger, SlotFile } from '../../ports/ledger.ts';
import { batchDue, isLeaseRefusal } from '../../ports/ledger.ts';
import type { Notification } from '../../ports/notifier.ts';
import type { ObjectStore } from '../../ports/object-store.ts';
import type { StatementDescription, Warehouse, WaitOptions } from '../../ports/warehouse.ts';
import { query, TERMINAL_STATUSES, waitForStatement } from '../../ports/warehouse.ts';
import { InjectedCrash } from '../../plugin/types.ts';
import type { MaintenanceContext, MaintenanceReport } from '../../plugin/types.ts';
import type { SinkConfig } from '../../spec/spec-types.ts';
import { compileTemplate, TemplateRenderError } from '../../template/index.ts';
import type { CompiledTemplate } from '../../template/index.ts';
import type { LoadErrorTable, LoadPlan, LoadTransaction } from '../sql/load-transaction.ts';
import { loadErrorsSelect, redshiftLoadTransaction, stateTableStatements } from '../sql/load-transaction.ts';
import { copyData, postgresLoadTransaction } from '../sql/postgres-load.ts';
import { distinctFiles, jsonPathsKey, manifestKey, s3Url, stagingPrefix, writeManifest } from './manifest.ts';
import type { ManifestLocation } from './manifest.ts';
import { describeRejection, rejectedLetters, rejectedRows } from './quarantine.ts';
import type { RejectedRow } from './quarantine.ts';

/** What a loader is built with, once per cold start. */
export interface LoaderSettings {
  /** The sink's ledger scope, `<pipeline>/<sink id>`. */
  scope: string;
  sinkId: string;
  config: SinkConfig<'redshift' | 'postgres'>;
  ledger: Ledger;
  warehouse: Warehouse;
  /** Where the staged files are, and where manifests are written. */
  objects: ObjectStore;
  /** Epoch milliseconds now [Date.now]; tests move it forward to let leases lapse. */
  clock?: () => number;
  /** Back-off of the describe calls following a load [100 ms, growing 1.5 times, at most 5 s]. */
  polling?: { initialDelayMs?: number; maxDelayMs?: number };
}

/** The longest lease: a Lambda never runs longer, so a lease never outlives the loader that took it by more. */
const MAX_LEASE_MS = 15 * 60_000;
/** Below this much time before the deadline no batch is claimed: the claim would lapse before anything is submitted. */
const MIN_CLAIM_MS = 1_000;
/** Each polling round ends this often to fire the `polling` fault step and keep the lease. */
const POLL_ROUND_MS = 10_000;
/** Rejected rows named in a failed batch's error and notification. */
const MAX_REJECTIONS_SHOWN = 10;
/** Rejected rows read after a failed load: fewer than this means all were seen, which splitting needs. */
const MAX_REJECTIONS_READ = 100;
/** A failed batch's error is kept in the ledger item; bounded so it never nears DynamoDB's item size. */
const MAX_ERROR_CHARS = 2_000;
/** The Data API's limit on a client token. */
const MAX_CLIENT_TOKEN = 64;

/** How one batch's turn ended: `done` lets a later upsert batch load; anything else holds it. */
type Turn = 'done' | 'held';

/**
 * Seals and loads the batches of one sink. Built once per cold start by the sink; `maintain` runs
 * on the scheduled sweep and after invocations that sealed a batch. Safe to run concurrently in
 * any number of invocations: every state change goes through the ledger's conditional writes.
 */
export class Loader {
  private readonly scope: string;
  private readonly sinkId: string;
  private readonly config: SinkConfig<'redshift' | 'postgres'>;
  private readonly ledger: Ledger;
  private readonly warehouse: Warehouse;
  private readonly objects: ObjectStore;
  private readonly clock: () => number;
  private readonly polling: { initialDelayMs: number; maxDelayMs: number };
  private readonly prefix: string;
  private readonly stateSchema: string;
  private readonly preSql: CompiledTemplate[];
  private readonly postSql: CompiledTemplate[];
  /**
   * The lowest batch that may still need loading, as far as this cold start knows: every batch
   * below it is loaded or skipped. Sweeps list batches from here, not from 1.
   */
  private floor = 1;
  /** Settles once the loads and ranges tables exist; reset when creating them failed, so the next load tries again. */
  private stateTables: Promise<void> | undefined;

  constructor(settings: LoaderSettings) {
    this.scope = settings.scope;
    this.sinkId = settings.sinkId;
    this.config = settings.config;
    this.ledger = settings.ledger;
    this.warehouse = settings.warehouse;
    this.objects = settings.objects;
    this.clock = settings.clock ?? Date.now;
    this.polling = { initialDelayMs: settings.polling?.initialDelayMs ?? 100, maxDelayMs: settings.polling?.maxDelayMs ?? 5_000 };
    this.prefix = stagingPrefix(settings.config.staging.prefix, settings.scope);
    const dot = settings.config.table.indexOf('.');
    // The loads and ranges tables live beside the target; PostgreSQL's unqualified tables are in `public`.
    this.stateSchema = dot === -1 ? 'public' : settings.config.table.slice(0, dot);
    const templates = (sources: readonly string[] | undefined) => (sources ?? []).map((source) => compileTemplate(source));
    this.preSql = templates(settings.config.type === 'redshift' ? settings.config.pre_sql : undefined);
    this.postSql = templates(settings.config.type === 'redshift' ? settings.config.post_sql : undefined);
  }

  /**
   * Seals the open batch when a threshold is reached (or whenever it holds files, for `flush`),
   * then loads sealed batches in seal order until the invocation's deadline: append sinks skip
   * over batches they cannot load now, upsert sinks stop at the first one (a later version of a
   * key must never be overwritten by an earlier one). Rejects only when the ledger cannot be
   * read; a batch whose load hits an error is released and reported pending.
   */
  async maintain(context: MaintenanceContext): Promise<MaintenanceReport> {
    const report: MaintenanceReport = { sealed: [], loaded: [], failed: [], resumed: [], deadLettered: 0, pending: [] };
    const open = await this.sweep(context, report);
    const upsert = this.config.mode === 'upsert';
    let held = false;
    const active = await this.ledger.batches(this.scope, ['sealed', 'loading', 'failed'], this.floor);
    for (const record of active) {
      if (held) {
        report.pending.push(record.batch);
        continue;
      }
      if (record.state === 'failed') {
        // A failed batch waits for `ingest batches retry` or `skip`; only upsert sinks wait with it.
        held = upsert;
        continue;
      }
      if (context.invocation.deadline - this.clock() < MIN_CLAIM_MS) {
        report.pending.push(record.batch);
        held = true;
        continue;
      }
      const turn = await this.load(record, context, report);
      if (turn === 'held' && upsert) held = true;
    }
    // Batches sealed from now on are numbered `open` or above; of those listed, only the loaded are done.
    const loaded = new Set(report.loaded.map((load) => load.batch));
    this.floor = Math.min(open, ...active.filter((record) => !loaded.has(record.batch)).map((record) => record.batch));
    return report;
  }

  /** Seals the open batch when it is due; resolves to the number of the batch open after it, which every batch sealed later is at or above. */
  private async sweep(context: MaintenanceContext, report: MaintenanceReport): Promise<number> {
    const open = await this.ledger.openBatch(this.scope);
    const now = this.clock();
    const due = context.reason === 'flush' ? (open.totals.files > 0 ? 'flush' : undefined) : batchDue(open.totals, this.config.batch, now);
    if (due === undefined) return open.batch;
    const sealed = await this.ledger.seal(this.scope, open.batch, now);
    if (sealed === undefined) return open.batch;
    report.sealed.push(sealed.batch);
    context.logger.log('info', 'batch sealed', { sink: this.sinkId, batch: sealed.batch, reason: due, files: sealed.totals.files, records: sealed.totals.records, bytes: sealed.totals.bytes });
    context.invocation.fault?.('sealed');
    return sealed.batch + 1;
  }

  /** One batch's turn: claim it, submit or resume its load, follow it, finish it. */
  private async load(record: BatchRecord, context: MaintenanceContext, report: MaintenanceReport): Promise<Turn> {
    const { invocation } = context;
    const { batch } = record;
    const owner = `${invocation.requestId}/${randomUUID().slice(0, 8)}`;
    const claimedAt = this.clock();
    const claimed = await this.ledger.claim(this.scope, batch, owner, claimedAt, Math.min(invocation.deadline - claimedAt, MAX_LEASE_MS));
    if (isLeaseRefusal(claimed)) return this.refused(batch, claimed, report);
    try {
      let statementId: string | undefined;
      if (claimed.statementId !== undefined) {
        const earlier = await this.warehouse.describe(claimed.statementId);
        // FAILED, ABORTED or forgotten: never committed, or committed and recorded in the load
        // ledger table, which makes a new submission a no-op. Anything else is followed.
        if (earlier !== undefined && earlier.status !== 'FAILED' && earlier.status !== 'ABORTED') {
          statementId = claimed.statementId;
          report.resumed.push(statementId);
          context.logger.log('info', 'resuming a load an earlier invocation submitted', { sink: this.sinkId, batch, statement_id: statementId, status: earlier.status });
        }
      }
      let files: SlotFile[] | undefined;
      let transaction: LoadTransaction & { copyStatement: number };
      try {
        transaction = this.transaction(record, this.location(batch), invocation.now);
      } catch (error) {
        if (!(error instanceof TemplateRenderError)) throw error;
        if (statementId === undefined) return await this.unrenderable(record, owner, error.message, context, report);
        // Following a statement already submitted needs only the transaction's shape, and its
        // results are found whatever that shape is (`rejectedInLoad`, `loadErrors`).
        transaction = this.transaction(record, this.location(batch), invocation.now, false);
      }
      if (statementId === undefined) {
        files = await this.finalFiles(batch);
        if (files.length === 0) return await this.finishEmpty(record, owner, context, report);
        // Same keys as `location(batch)`, which the transaction above was built with.
        await writeManifest({
          objects: this.objects, bucket: this.config.staging.bucket, prefix: this.prefix, batch, files, columns: this.config.columns, format: this.config.staging.format,
        });
        invocation.fault?.('manifest');
        await this.ensureStateTables(invocation.deadline);
        statementId = await this.submit(batch, claimed.attempts, transaction, files);
        if (!(await this.ledger.recordStatement(this.scope, batch, owner, statementId))) return this.lost(batch, report, context);
        invocation.fault?.('submitted');
      }
      const description = await this.follow(statementId, batch, owner, claimed.leaseExpiresAt ?? invocation.deadline, context);
      if (description === 'lost') return this.lost(batch, report, context);
      if (description === undefined || !TERMINAL_STATUSES.has(description.status)) {
        // Still running at the deadline (or not known yet): the lease lapses with this
        // invocation and the next loader resumes following the statement.
        report.pending.push(batch);
        context.logger.log('info', 'load still running at the deadline; a later run resumes it', { sink: this.sinkId, batch, statement_id: statementId });
        return 'held';
      }
      const done = { record, owner, statementId, transaction, started: claimedAt, attempt: claimed.attempts };
      if (description.status === 'FINISHED') return await this.loaded(done, description, files, context, report);
      return await this.failed(done, description, context, report);
    } catch (error) {
      if (error instanceof InjectedCrash) throw error;
      // Let another loader take the batch over at once rather than when the lease would lapse.
      await this.ledger.renew(this.scope, batch, owner, this.clock() - 1).catch(() => false);
      report.pending.push(batch);
      context.logger.log('error', 'batch load stopped by an error; it is left for a later run', { sink: this.sinkId, batch, error: messageOf(error) });
      return 'held';
    }
  }

  private async refused(batch: number, refusal: 'not-found' | 'not-claimable' | 'lease-held', report: MaintenanceReport): Promise<Turn> {
    if (refusal !== 'lease-held') {
      // Finished or skipped by another loader since the listing: a later batch may go on.
      const now = await this.ledger.batch(this.scope, batch);
      if (now === undefined || now.state === 'loaded' || now.state === 'skipped') return 'done';
      if (now.state === 'failed') return 'held';
    }
    report.pending.push(batch);
    return 'held';
  }

  private lost(batch: number, report: MaintenanceReport, context: MaintenanceContext): Turn {
    report.pending.push(batch);
    context.logger.log('warn', 'the lease of a batch was taken over by another loader', { sink: this.sinkId, batch });
    return 'held';
  }

  /**
   * The batch's files, final: slots still without a file are abandoned (their registrars
   * register again into the open batch), and files that were written meanwhile are kept.
   */
  private async finalFiles(batch: number): Promise<SlotFile[]> {
    const { files, missing } = await this.ledger.files(this.scope, batch);
    if (missing.length === 0) return files;
    const late = await this.ledger.abandonSlots(this.scope, batch, missing, this.clock());
    return [...files, ...late].sort((a, b) => a.slot - b.slot);
  }

  /** Where the manifest and jsonpaths documents of a batch are, without writing them (their keys are deterministic). */
  private location(batch: number): ManifestLocation {
    const { bucket, format } = this.config.staging;
    return {
      manifestUrl: s3Url(bucket, manifestKey(this.prefix, batch)),
      ...(format === 'jsonl' ? { jsonPathsUrl: s3Url(bucket, jsonPathsKey(this.prefix, this.config.columns)) } : {}),
    };
  }

  private transaction({ batch, sealedAt }: BatchRecord, location: ManifestLocation, now: Date, withTemplates = true): LoadTransaction & { copyStatement: number } {
    const { config } = this;
    const render = (template: CompiledTemplate) => template({ sink: this.sinkId, table: config.table, now });
    const preSql = withTemplates ? this.preSql.map(render) : [];
    const postSql = withTemplates ? this.postSql.map(render) : [];
    const plan: LoadPlan = {
      dialect: this.warehouse.dialect,
      scope: this.scope,
      batch,
      sealedAt,
      table: config.table,
      columns: config.columns,
      mode: config.mode,
      ...(config.keys === undefined ? {} : { keys: config.keys }),
      stateSchema: this.stateSchema,
      loadedAt: new Date(this.clock()),
      preSql,
      postSql,
    };
    // A warehouse that copies from the client (PostgreSQL, and local runs of either sink type)
    // reads the staged files through the loader; Redshift reads them from S3 by the manifest.
    if (this.warehouse.copiesFromClient) return postgresLoadTransaction(plan, config.staging.format);
    return redshiftLoadTransaction(plan, {
      manifestUrl: location.manifestUrl,
      format: config.staging.format,
      ...(location.jsonPathsUrl === undefined ? {} : { jsonPathsUrl: location.jsonPathsUrl }),
      ...(config.type === 'redshift' && config.iam_role !== undefined ? { iamRole: config.iam_role } : {}),
      ...(config.type === 'redshift' ? { copy: config.copy, errorTable: this.errorTable() } : {}),
    });
  }

  private errorTable(): LoadErrorTable {
    return this.config.type === 'redshift' && this.config.connection.cluster !== undefined ? 'stl_load_errors' : 'sys_load_error_detail';
  }

  private async submit(batch: number, attempt: number, transaction: LoadTransaction & { copyStatement: number }, files: readonly SlotFile[]): Promise<string> {
    const { columns, staging } = this.config;
    return this.warehouse.executeTransaction(transaction.statements, {
      // A new token per claim: a retried batch must run again, not get its failed statement back.
      clientToken: clientToken(`${this.scope}/${batch}/${attempt}`),
      name: `ingest ${this.scope} batch ${batch}`,
      ...(this.warehouse.copiesFromClient
        ? { copyIn: { statement: transaction.copyStatement, data: () => copyData(this.objects, distinctFiles(files), columns, staging.format) } }
        : {}),
    });
  }

  /** Creates the loads and ranges tables once per cold start, outside any load transaction. */
  private ensureStateTables(deadline: number): Promise<void> {
    this.stateTables ??= (async () => {
      for (const statement of stateTableStatements(this.warehouse.dialect, this.stateSchema)) await query(this.warehouse, statement, undefined, this.waitOptions(deadline));
    })().catch((error: unknown) => {
      this.stateTables = undefined;
      throw error;
    });
    return this.stateTables;
  }

  /**
   * Follows a statement until it ends or the deadline passes, in rounds: each round fires the
   * `polling` fault step and, when the lease would lapse before the deadline, extends it.
   * Resolves to `lost` when another loader holds the lease now.
   */
  private async follow(id: string, batch: number, owner: string, leaseExpiresAt: number, context: MaintenanceContext): Promise<StatementDescription | undefined | 'lost'> {
    const { deadline } = context.invocation;
    let delay = this.polling.initialDelayMs;
    let lease = leaseExpiresAt;
    for (;;) {
      context.invocation.fault?.('polling');
      const now = this.clock();
      const description = await waitForStatement(this.warehouse, id, { ...this.waitOptions(Math.min(deadline, now + POLL_ROUND_MS)), initialDelayMs: delay });
      if (description === undefined || TERMINAL_STATUSES.has(description.status) || this.clock() >= deadline) return description;
      delay = Math.min(this.polling.maxDelayMs, delay * 1.5);
      if (lease < deadline && lease - this.clock() < 2 * POLL_ROUND_MS) {
        lease = Math.min(deadline, this.clock() + MAX_LEASE_MS);
        if (!(await this.ledger.renew(this.scope, batch, owner, lease))) return 'lost';
      }
    }
  }

  private waitOptions(deadline: number): WaitOptions {
    return { deadline, initialDelayMs: this.polling.initialDelayMs, maxDelayMs: this.polling.maxDelayMs, now: this.clock };
  }

  /** A batch whose slots were all abandoned holds nothing to load: it is finished as loaded with no rows. */
  private async finishEmpty(record: BatchRecord, owner: string, context: MaintenanceContext, report: MaintenanceReport): Promise<Turn> {
    if (!(await this.ledger.finish(this.scope, record.batch, owner, { state: 'loaded', rows: 0 }, this.clock()))) return this.lost(record.batch, report, context);
    report.loaded.push({ batch: record.batch, rows: 0, duplicates: 0, ms: 0, ageSeconds: this.ageSeconds(record) });
    return 'done';
  }

  private async loaded(done: Finished, description: StatementDescription, known: SlotFile[] | undefined, context: MaintenanceContext, report: MaintenanceReport): Promise<Turn> {
    const { record, owner, transaction } = done;
    const { invocation } = context;
    // Counts come last in every load transaction, whatever the spec's pre_sql and post_sql.
    const countsId = description.statements.at(-1)?.id;
    const counts = countsId === undefined ? undefined : (await this.warehouse.results(countsId)).rows[0];
    const staged = Number(counts?.[0] ?? 0);
    const rows = Number(counts?.[1] ?? 0);
    let deadLettered = 0;
    const rejected = await this.rejectedInLoad(description, transaction);
    if (rejected.length > 0) {
      const files = known ?? (await this.ledger.files(this.scope, record.batch)).files;
      const letters = await rejectedLetters(rejected, { objects: this.objects, sinkId: this.sinkId, columns: this.config.columns, format: this.config.staging.format, files });
      // Before `finish`: a crash in between resumes this FINISHED statement and writes them again.
      for (const letter of letters) await context.deadLetter(letter);
      deadLettered = letters.length;
    }
    invocation.fault?.('committed');
    const finishedAt = this.clock();
    if (!(await this.ledger.finish(this.scope, record.batch, owner, { state: 'loaded', rows }, finishedAt))) return this.lost(record.batch, report, context);
    const loaded = { batch: record.batch, rows, duplicates: Math.max(0, staged - rows), ms: finishedAt - done.started, ageSeconds: this.ageSeconds(record, finishedAt) };
    report.loaded.push(loaded);
    report.deadLettered += deadLettered;
    invocation.measure?.(this.sinkId, 'rows_loaded', loaded.rows);
    invocation.measure?.(this.sinkId, 'duplicate_rows', loaded.duplicates);
    invocation.measure?.(this.sinkId, 'load_ms', loaded.ms);
    invocation.measure?.(this.sinkId, 'batch_age_s', loaded.ageSeconds);
    context.logger.log('info', 'batch loaded', { sink: this.sinkId, batch: record.batch, statement_id: done.statementId, rows, duplicates: loaded.duplicates, rejected: deadLettered, ms: loaded.ms });
    await this.notify(context, {
      event: 'load_succeeded',
      component: this.sinkId,
      subject: subject(`${this.sinkId}: batch ${record.batch} loaded ${rows} rows into ${this.config.table}`),
      detail: {
        sink: this.sinkId, table: this.config.table, batch: record.batch, rows, duplicates: loaded.duplicates, rejected: deadLettered,
        files: record.totals.files, statement_id: done.statementId, age_seconds: loaded.ageSeconds,
      },
    });
    return 'done';
  }

  private async failed(done: Finished, description: StatementDescription, context: MaintenanceContext, report: MaintenanceReport): Promise<Turn> {
    const { record, owner, transaction } = done;
    const rejected = await this.loadErrors(description, transaction, context);
    const databaseError = description.error ?? `the load statement was ${description.status.toLowerCase()}`;
    const error = bounded([databaseError, ...rejected.slice(0, MAX_REJECTIONS_SHOWN).map(describeRejection)].join('\n'));
    if (!(await this.ledger.finish(this.scope, record.batch, owner, { state: 'failed', error }, this.clock()))) return this.lost(record.batch, report, context);
    report.failed.push({ batch: record.batch, error: databaseError });
    context.logger.log('error', 'batch load failed; its files are kept for a retry', { sink: this.sinkId, batch: record.batch, statement_id: done.statementId, error });
    const split = await this.split(done, rejected, context);
    await this.notifyFailed(record, databaseError, context, {
      fix: 'Fix the data or the table',
      ...(split > 0 ? { before: `The ${split} staged files without rejected rows were registered again and load with a later batch. ` } : {}),
      detail: {
        statement_id: done.statementId,
        rejected_rows: rejected.slice(0, MAX_REJECTIONS_SHOWN).map((row) => ({ file: row.file, line: row.line, column: row.column, code: row.code, message: row.message })),
        ...(split > 0 ? { files_loading_again: split } : {}),
      },
    });
    return 'held';
  }

  /**
   * A batch whose `pre_sql` or `post_sql` does not render (a path `ingest validate` cannot see
   * is missing, such as `{{table.name}}`): nothing is submitted, and the batch fails with the
   * reason, as a load the database refused would, rather than staying pending at every sweep.
   */
  private async unrenderable(record: BatchRecord, owner: string, reason: string, context: MaintenanceContext, report: MaintenanceReport): Promise<Turn> {
    const error = bounded(`pre_sql or post_sql does not render: ${reason}`);
    if (!(await this.ledger.finish(this.scope, record.batch, owner, { state: 'failed', error }, this.clock()))) return this.lost(record.batch, report, context);
    report.failed.push({ batch: record.batch, error });
    context.logger.log('error', 'batch not loaded: its SQL templates do not render', { sink: this.sinkId, batch: record.batch, error });
    await this.notifyFailed(record, error, context, { fix: 'Fix pre_sql or post_sql in the spec and deploy it', detail: {} });
    return 'held';
  }

  private async notifyFailed(record: BatchRecord, error: string, context: MaintenanceContext, how: { fix: string; before?: string; detail: Record<string, unknown> }): Promise<void> {
    await this.notify(context, {
      event: 'load_failed',
      component: this.sinkId,
      subject: subject(`${this.sinkId}: batch ${record.batch} failed to load into ${this.config.table}`),
      detail: {
        sink: this.sinkId, table: this.config.table, batch: record.batch, error, ...how.detail, files: record.totals.files, records: record.totals.records,
        action: (how.before ?? '')
          + `Nothing of batch ${record.batch} was loaded and its staged files are kept. ${how.fix}, then run `
          + `\`ingest batches <spec> retry ${this.sinkId} ${record.batch}\` (or \`skip\` to give the batch up). The ledger keeps a failed batch for 30 days.`
          + (this.config.mode === 'upsert' ? ' Later batches of this upsert sink wait until it is retried or skipped.' : ''),
      },
    });
  }

  /**
   * The rows a finished load's COPY rejected, from the transaction's errors statement. A statement
   * resumed after a deploy that changed the sink (its `pre_sql`, its `max_error`) may not have
   * the shape this loader would submit; then every result set but the counts is looked at and
   * the one with the load-error columns is taken, so rejected rows are never missed.
   */
  private async rejectedInLoad(description: StatementDescription, transaction: LoadTransaction): Promise<RejectedRow[]> {
    const sameShape = description.statements.length === transaction.statements.length;
    if (sameShape) {
      const id = transaction.errorsStatement === undefined ? undefined : description.statements[transaction.errorsStatement]?.id;
      return id === undefined ? [] : rejectedRows(await this.warehouse.results(id));
    }
    for (const statement of description.statements.slice(0, -1)) {
      if (!statement.hasResultSet) continue;
      const result = await this.warehouse.results(statement.id);
      if (result.columns.includes('file_name') && result.columns.includes('line_number') && result.columns.includes('error_message')) return rejectedRows(result);
    }
    return [];
  }

  /**
   * Lets the good files of a failed append batch load: when every rejected row the warehouse
   * reported is in one staged file and the batch holds others, those others are registered again
   * into the open batch (0031 §4). The failed batch keeps every file, so a retry after the fix
   * loads what is still missing and nothing twice (loaded ranges). Only on the batch's first
   * claim, so retries that fail again do not register the same files over and over. Upsert
   * sinks never split: their batches load in seal order. Resolves to the files registered again.
   */
  private async split(done: Finished, rejected: readonly RejectedRow[], context: MaintenanceContext): Promise<number> {
    const bad = new Set(rejected.map((row) => row.file));
    // A full page of rejected rows may not show every file that holds one.
    if (this.config.mode !== 'append' || done.attempt !== 1 || bad.size !== 1 || rejected.length >= MAX_REJECTIONS_READ) return 0;
    try {
      const { files } = await this.ledger.files(this.scope, done.record.batch);
      const good = distinctFiles(files).filter((file) => !bad.has(s3Url(file.bucket, file.key)));
      if (good.length === distinctFiles(files).length) return 0;
      for (const file of good) await this.ledger.register(this.scope, { bucket: file.bucket, key: file.key, records: file.records, bytes: file.bytes }, this.clock());
      context.logger.log('info', 'the good files of a failed batch were registered again', { sink: this.sinkId, batch: done.record.batch, files: good.length, rejected_file: [...bad][0] });
      return good.length;
    } catch (error) {
      // The batch is failed and keeps its files either way; only the early load of the good ones is lost.
      context.logger.log('warn', 'the good files of a failed batch could not be registered again', { sink: this.sinkId, batch: done.record.batch, error: messageOf(error) });
      return 0;
    }
  }

  /**
   * The first rows COPY rejected in a failed load, read by the failed statement's query id (they
   * outlive the rollback): the statement that failed is the COPY when rows were rejected, whatever
   * the transaction's shape (a statement resumed after a deploy changed `pre_sql`). Empty when the
   * warehouse keeps no such table (PostgreSQL names the line in its error instead), when another
   * statement failed, or when reading them fails: the batch is marked failed with the database's
   * error either way.
   */
  private async loadErrors(description: StatementDescription, transaction: LoadTransaction & { copyStatement: number }, context: MaintenanceContext): Promise<RejectedRow[]> {
    const failed = description.statements.find((statement) => statement.status === 'FAILED') ?? description.statements[transaction.copyStatement];
    const queryId = failed?.queryId;
    if (this.warehouse.copiesFromClient || queryId === undefined) return [];
    try {
      const sql = loadErrorsSelect(this.errorTable(), 'CAST(:query_id AS BIGINT)', MAX_REJECTIONS_READ);
      return rejectedRows(await query(this.warehouse, sql, { query_id: String(queryId) }, this.waitOptions(context.invocation.deadline)));
    } catch (error) {
      context.logger.log('warn', 'the rejected rows of a failed load could not be read', { sink: this.sinkId, query_id: queryId, error: messageOf(error) });
      return [];
    }
  }

  private async notify(context: MaintenanceContext, notification: Notification): Promise<void> {
    try {
      await context.notify(notification);
    } catch (error) {
      // The ledger already says what happened; a lost notification must not undo or repeat a load.
      context.logger.log('error', 'load notification could not be published', { sink: this.sinkId, event: notification.event, error: messageOf(error) });
    }
  }

  private ageSeconds(record: BatchRecord, at = this.clock()): number {
    return Math.max(0, Math.round((at - record.totals.openedAt) / 1000));
  }
}

interface Finished {
  record: BatchRecord;
  owner: string;
  statementId: string;
  transaction: LoadTransaction & { copyStatement: number };
  started: number;
  /** The claim this load ran under (1 for the batch's first). */
  attempt: number;
}

/** The Data API's client token: the readable `<scope>/<batch>/<attempt>` when it fits, else its SHA-256 (hex, 64 characters). */
export function clientToken(token: string): string {
  return token.length <= MAX_CLIENT_TOKEN ? token : createHash('sha256').update(token).digest('hex');
}

/** An SNS subject: ASCII (ids and table names are), at most 100 characters. */
function subject(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 97)}...`;
}

function bounded(text: string): string {
  return text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS - 1)}…`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
