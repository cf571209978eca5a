// One place that builds a pipeline with a redshift or postgres sink against real parts, for the
// exactly-once fault-injection matrix (test/integration/warehouse-exactly-once.test.ts) and the
// redshift benchmark (test/bench/redshift.bench.ts): moto S3 for the source and staging buckets,
// moto DynamoDB through the serializing proxy for the ledger, the Data API emulator over the
// run's PostgreSQL for redshift sinks, PostgreSQL itself for postgres sinks.
//
// Deliberately free of vitest (the benchmark runs outside it): callers pass the endpoints, and a
// test wraps handlers with its assertions through `wrap` (reconciliation.ts `reconciling`).
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { KinesisStreamEvent, KinesisStreamRecord, SQSEvent } from 'aws-lambda';
import pg from 'pg';
import { gunzipSync } from 'node:zlib';
import { createHandler } from '../../engine/handler.ts';
import type { HandlerOptions, IngestHandler, InvocationSummary } from '../../engine/handler.ts';
import { kinesisEvent, s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import type { SpecFiles } from '../../engine/plugin/checks.ts';
import { InjectedCrash } from '../../engine/plugin/types.ts';
import type { FaultStep, MaintenanceReport } from '../../engine/plugin/types.ts';
import { DynamoDbLedger } from '../../engine/ports/dynamodb-ledger.ts';
import type { BatchRecord, Ledger } from '../../engine/ports/ledger.ts';
import { ledgerScope } from '../../engine/ports/ledger.ts';
import { MemoryNotifier } from '../../engine/ports/memory-notifier.ts';
import { PostgresWarehouse } from '../../engine/ports/postgres-warehouse.ts';
import { RedshiftDataWarehouse } from '../../engine/ports/redshift-data-warehouse.ts';
import { S3ObjectStore } from '../../engine/ports/s3-object-store.ts';
import { loadSpec } from '../../engine/spec/load.ts';
import { resolveSpec } from '../../engine/spec/resolve.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import { validateLoadedSpec } from '../../engine/spec/validate.ts';
import { RedshiftDataApiEmulator } from './redshift-data-api.ts';
import { countRequests } from './request-counter.ts';
import { startSerializingProxy } from './serializing-proxy.ts';
import type { SerializingProxy } from './serializing-proxy.ts';
import { createScratchDatabase } from './scratch-database.ts';
import type { ScratchDatabase } from './scratch-database.ts';

/** Where the servers of the run listen (test/support/env.ts in tests; the benchmark starts its own). */
export interface HarnessEndpoints {
  motoUrl: string;
  /** Any connection string of the PostgreSQL server; the harness creates a database of its own on it. */
  pgUrl: string;
}

/** The rows every pipeline of the harness loads: a key, a version of it, and free text. */
export interface TestRow {
  id: string;
  version: number;
  body: string;
}

/** The target table's columns, in order. */
export const COLUMNS = ['id', 'version', 'body'] as const;

const NO_FILES: SpecFiles = { exists: () => false, read: () => undefined };
const ACCOUNT = '123456789012';
const COPY_ROLE = `arn:aws:iam::${ACCOUNT}:role/RedshiftCopy`;
/** Longer than any lease the loader takes (at most 15 minutes) and any `max_seconds` a test sets. */
const SWEEP_STEP_MS = 16 * 60_000;

/**
 * The test-only fault hook of the handler (`HandlerOptions.faults`): records every step sinks
 * report and, once armed with {@link crashAfter}, throws `InjectedCrash` at the `nth` occurrence
 * of a step from then on, once, as a Lambda dying right after it would.
 */
export class FaultSwitch {
  /** Every step reported, in order. */
  readonly seen: FaultStep[] = [];
  /** Steps after which a crash was injected. */
  readonly fired: FaultStep[] = [];
  private armed: { step: FaultStep; remaining: number } | undefined;

  crashAfter(step: FaultStep, nth = 1): void {
    this.armed = { step, remaining: nth };
  }

  /** True while a crash is armed and has not fired. */
  get pending(): boolean {
    return this.armed !== undefined;
  }

  readonly hook = (step: FaultStep): void => {
    this.seen.push(step);
    if (this.armed === undefined || this.armed.step !== step) return;
    if (--this.armed.remaining > 0) return;
    this.armed = undefined;
    this.fired.push(step);
    throw new InjectedCrash(step);
  };
}

/** What a pipeline of the harness is built with. */
export interface PipelineOptions {
  sink: 'redshift' | 'postgres';
  mode: 'append' | 'upsert';
  source: 'kinesis' | 's3';
  /** The sink's `batch` thresholds; `max_seconds` cannot be below 60 (the sweep makes it lapse). */
  batch?: { max_records?: number; max_bytes?: number | string; max_files?: number; max_seconds?: number };
  /** The redshift sink's `copy` options. */
  copy?: Record<string, unknown>;
  /** Width of the `body` column [200]: a narrow one makes long bodies bad rows. */
  bodyWidth?: number;
  /** The dead-letter bucket; a fresh one is created unless `createDeadLetterBucket` is false. */
  deadLetterBucket?: string;
  createDeadLetterBucket?: boolean;
  /** Wraps each handler built (a test's reconciliation assertions). */
  wrap?: (handler: IngestHandler, lines: string[]) => IngestHandler;
  /**
   * Moves the clock every part reads (`Date`) forward, so that batch ages and leases lapse
   * without waiting: a test passes `(ms) => vi.setSystemTime(Date.now() + ms)` under fake `Date`.
   * Without it, `sweepUntilQuiet` flushes open batches instead of letting `max_seconds` pass.
   */
  advanceTime?: (ms: number) => void;
}

/** What `invoke` is told about the Lambda's remaining time. */
export interface InvokeOptions {
  /** `getRemainingTimeInMillis()` at the start [Lambda's maximum]. */
  remainingMs?: number;
}

/**
 * The shared parts of one test file or benchmark run: clients, the serializing proxy, the
 * ledger table, a database of its own, the Data API emulator and the buckets. Start once, build
 * a {@link WarehousePipeline} per case, stop at the end.
 */
export class WarehouseHarness {
  private constructor(
    readonly endpoints: HarnessEndpoints,
    readonly s3: S3Client,
    /** The ledger's DynamoDB client, through the serializing proxy. */
    readonly dynamodb: DynamoDBClient,
    /** Requests the ledger's client sent, by command, since the harness started. */
    readonly ledgerRequests: Map<string, number>,
    /** Requests the handlers' S3 client sent, by command (staging writes, manifests, source reads). */
    readonly s3Requests: Map<string, number>,
    readonly ledgerTable: string,
    readonly ledger: Ledger,
    readonly database: string,
    /** A pool on the harness's database. */
    readonly pool: pg.Pool,
    readonly emulator: RedshiftDataApiEmulator,
    readonly redshiftData: RedshiftDataClient,
    private readonly proxy: SerializingProxy,
    private readonly scratch: ScratchDatabase,
    /** The handlers' S3 client (counted); `s3` is the test's own. */
    readonly handlerS3: S3Client,
  ) {}

  static async start(endpoints: HarnessEndpoints): Promise<WarehouseHarness> {
    const s3 = new S3Client(awsConfig(endpoints.motoUrl));
    const handlerS3 = new S3Client(awsConfig(endpoints.motoUrl));
    const s3Requests = countRequests(handlerS3);
    const proxy = await startSerializingProxy(endpoints.motoUrl);
    const dynamodb = new DynamoDBClient(awsConfig(proxy.url));
    const ledgerRequests = countRequests(dynamodb);
    const ledgerTable = `ingest-ledger-${randomUUID().slice(0, 8)}`;
    await dynamodb.send(new CreateTableCommand({
      TableName: ledgerTable,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
    ledgerRequests.clear();
    const database = `warehouse_${randomUUID().slice(0, 8)}`;
    const scratch = await createScratchDatabase(endpoints.pgUrl, database);
    const pool = new pg.Pool({ connectionString: scratch.url, max: 8 });
    // An idle connection closed by the server (the database dropped at the end) is no failure.
    pool.on('error', () => undefined);
    const emulator = await RedshiftDataApiEmulator.start({ connectionString: endpoints.pgUrl, s3 });
    const { region, credentials } = awsConfig(emulator.url);
    const redshiftData = new RedshiftDataClient({ region, credentials, endpoint: emulator.url });
    const ledger = new DynamoDbLedger(dynamodb, { tableName: ledgerTable });
    return new WarehouseHarness(endpoints, s3, dynamodb, ledgerRequests, s3Requests, ledgerTable, ledger, database, pool, emulator, redshiftData, proxy, scratch, handlerS3);
  }

  async stop(): Promise<void> {
    this.redshiftData.destroy();
    await this.emulator.stop();
    await this.pool.end();
    await this.scratch.drop();
    this.dynamodb.destroy();
    await this.proxy.close();
    this.s3.destroy();
    this.handlerS3.destroy();
  }

  /** Creates each bucket in moto. */
  async createBuckets(...buckets: string[]): Promise<void> {
    await Promise.all(buckets.map((bucket) => this.s3.send(new CreateBucketCommand({ Bucket: bucket }))));
  }

  /** A pipeline of its own: names, buckets, schema, target table, clock, fault switch and notifier. */
  async pipeline(options: PipelineOptions): Promise<WarehousePipeline> {
    const name = `p${randomUUID().slice(0, 8)}`;
    const buckets = { source: `${name}-source`, staging: `${name}-staging`, deadLetters: options.deadLetterBucket ?? `${name}-errors` };
    await this.createBuckets(buckets.source, buckets.staging, ...(options.createDeadLetterBucket === false ? [] : [buckets.deadLetters]));
    const schema = name;
    const table = `${schema}.events`;
    await this.pool.query(`CREATE SCHEMA ${schema}`);
    await this.pool.query(`CREATE TABLE ${table} (id VARCHAR(40) NOT NULL, version INTEGER NOT NULL, body VARCHAR(${options.bodyWidth ?? 200}))`);
    return new WarehousePipeline(this, options, name, buckets, table);
  }
}

/**
 * One pipeline under test: `events` (a Kinesis stream or an S3 prefix) → sink `warehouse` (a
 * redshift or postgres sink on `<name>.events`). `handler` is one cold start; `coldStart()`
 * builds a fresh one, as Lambda does after a crash.
 */
export class WarehousePipeline {
  readonly faults = new FaultSwitch();
  readonly notifier = new MemoryNotifier();
  readonly spec: ResolvedSpec;
  /** The Kinesis stream of a `kinesis` source. */
  readonly stream: string;
  /** Log lines of every invocation, in order. */
  readonly lines: string[] = [];
  /** The ledger scope of the sink. */
  readonly scope: string;
  handler!: IngestHandler;

  constructor(
    readonly harness: WarehouseHarness,
    readonly options: PipelineOptions,
    readonly name: string,
    readonly buckets: { source: string; staging: string; deadLetters: string },
    readonly table: string,
  ) {
    this.stream = `${name}-stream`;
    this.scope = ledgerScope(name, 'warehouse');
    this.spec = validatedSpec(this.specValue());
    this.coldStart();
  }

  /** A new cold start of the function: fresh sinks, nothing kept from earlier invocations. */
  coldStart(): void {
    this.handler = this.newInstance();
  }

  /**
   * Another instance of the function beside `handler` (concurrent invocations run in instances
   * of their own). Its log lines go to `lines` [the pipeline's]: give concurrent instances
   * arrays of their own, so that each invocation's lines can be told apart.
   */
  newInstance(lines: string[] = this.lines): IngestHandler {
    const { harness } = this;
    const handler = createHandler(this.spec, {
      ports: {
        objects: new S3ObjectStore(harness.handlerS3),
        ledger: harness.ledger,
        warehouse: (_sinkId, config) => config.type === 'redshift'
          ? new RedshiftDataWarehouse(harness.redshiftData, { workgroup: 'analytics', database: harness.database })
          : new PostgresWarehouse(harness.pool),
        notifier: this.notifier,
      },
      files: NO_FILES,
      parameters: { pg_url: harness.pool.options.connectionString ?? '' },
      write: (line) => lines.push(line),
      faults: this.faults.hook,
    } satisfies HandlerOptions);
    return this.options.wrap ? this.options.wrap(handler, lines) : handler;
  }

  /** One invocation with `event` [of `handler`]. Rejects as the handler does (an injected crash, a whole failure). */
  invoke(event: unknown, options: InvokeOptions = {}, instance: IngestHandler = this.handler): Promise<InvocationSummary> {
    return instance.invoke(event, this.context(options));
  }

  /** A Lambda context whose remaining time counts down from `remainingMs`. */
  private context(options: InvokeOptions): { awsRequestId: string; getRemainingTimeInMillis: () => number } {
    const remaining = options.remainingMs ?? 900_000;
    const started = Date.now();
    return { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => remaining - (Date.now() - started) };
  }

  /**
   * Invokes with `event` as Lambda does until an invocation answers: after an injected crash
   * Lambda delivers the same event again to a fresh instance. Resolves to the answering
   * invocation's summary; rejects after `attempts` crashes, or on any other error.
   */
  async deliver(event: unknown, options: InvokeOptions & { attempts?: number } = {}): Promise<InvocationSummary> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.invoke(event, options);
      } catch (error) {
        if (!(error instanceof InjectedCrash) || attempt >= (options.attempts ?? 3)) throw error;
        this.coldStart();
      }
    }
  }

  /** One scheduled sweep (the EventBridge rule's event). */
  async sweep(options: InvokeOptions = {}): Promise<MaintenanceReport | undefined> {
    const summary = await this.invoke(scheduledEvent(new Date()), options);
    return maintenanceOf(summary);
  }

  /**
   * Runs scheduled sweeps, each after moving the clock past `max_seconds` and any lease (without
   * `advanceTime`: a flush, which seals whatever is open), until no file waits in the open batch
   * and no batch is sealed or loading (failed and skipped batches wait for a person). A sweep that
   * crashes (an armed fault) is followed by a cold start and another sweep. Resolves to the
   * reports; rejects when still busy after `maxSweeps`.
   */
  async sweepUntilQuiet(options: { maxSweeps?: number; remainingMs?: number } = {}): Promise<MaintenanceReport[]> {
    const reports: MaintenanceReport[] = [];
    const maxSweeps = options.maxSweeps ?? 10;
    for (let sweep = 1; sweep <= maxSweeps; sweep++) {
      try {
        let report: MaintenanceReport | undefined;
        if (this.options.advanceTime) {
          this.options.advanceTime(SWEEP_STEP_MS);
          report = await this.sweep(options);
        } else {
          report = (await this.handler.maintain('flush', this.context(options)))['warehouse'];
        }
        if (report) reports.push(report);
      } catch (error) {
        if (!(error instanceof InjectedCrash)) throw error;
        this.coldStart();
        continue;
      }
      if (await this.quiet()) return reports;
    }
    throw new Error(`pipeline ${this.name} still has work after ${maxSweeps} sweeps: ${JSON.stringify(await this.ledgerState())}`);
  }

  /** True when nothing is owed: no file in the open batch, no batch sealed or loading. */
  async quiet(): Promise<boolean> {
    const { open, busy } = await this.ledgerState();
    return open === 0 && busy.length === 0;
  }

  private async ledgerState(): Promise<{ open: number; busy: { batch: number; state: string }[] }> {
    const open = await this.harness.ledger.openBatch(this.scope);
    const busy = await this.harness.ledger.batches(this.scope, ['sealed', 'loading']);
    return { open: open.totals.files, busy: busy.map((batch) => ({ batch: batch.batch, state: batch.state })) };
  }

  /** The sink's sealed batches, in seal order. */
  batches(): Promise<BatchRecord[]> {
    return this.harness.ledger.batches(this.scope);
  }

  /** Every row of the target table, sorted by id, version, body. */
  async rows(): Promise<TestRow[]> {
    const result = await this.harness.pool.query<TestRow>(`SELECT id, version, body FROM ${this.table} ORDER BY id, version, body`);
    return result.rows;
  }

  /** Rows in the target table. */
  rowsIn(): Promise<number> {
    return rowsIn(this.harness.pool, this.table);
  }

  /** Load submissions the emulator received for this pipeline (those whose COPY reads its staging bucket). */
  loadSubmissions(): { id: string; status: string }[] {
    return this.harness.emulator.submissions()
      .filter((submission) => submission.sqls.some((sql) => /^\s*COPY\b/i.test(sql) && sql.includes(`s3://${this.buckets.staging}/`)))
      .map(({ id, status }) => ({ id, status }));
  }

  /** The dead letters written to the pipeline's dead-letter bucket, parsed. */
  async deadLetters(): Promise<Record<string, unknown>[]> {
    const letters: Record<string, unknown>[] = [];
    let token: string | undefined;
    do {
      const page = await this.harness.s3.send(new ListObjectsV2Command({ Bucket: this.buckets.deadLetters, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const response = await this.harness.s3.send(new GetObjectCommand({ Bucket: this.buckets.deadLetters, Key: object.Key! }));
        const bytes = Buffer.from(await response.Body!.transformToByteArray());
        const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
        letters.push(...text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return letters;
  }

  /** Kinesis records of this pipeline's stream, one per row, with consecutive sequence numbers from `firstSequence`. */
  kinesisRecords(rows: readonly (TestRow | string)[], firstSequence = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n): KinesisStreamRecord[] {
    const payloads = rows.map((row) => Buffer.from(typeof row === 'string' ? row : JSON.stringify(row)));
    return kinesisEvent(this.stream, payloads, { arrival: new Date(), firstSequence }).Records;
  }

  /** Puts an object of JSON lines (rows, or raw lines) under the source prefix; resolves to what a notification says of it. */
  async putObject(key: string, rows: readonly (TestRow | string)[]): Promise<{ bucket: string; key: string; size: number; etag: string }> {
    const fullKey = `events/${key}`;
    const body = rows.map((row) => (typeof row === 'string' ? row : JSON.stringify(row))).join('\n') + '\n';
    await this.harness.s3.send(new PutObjectCommand({ Bucket: this.buckets.source, Key: fullKey, Body: body }));
    const head = await this.harness.s3.send(new HeadObjectCommand({ Bucket: this.buckets.source, Key: fullKey }));
    return { bucket: this.buckets.source, key: fullKey, size: head.ContentLength!, etag: head.ETag!.replace(/^"|"$/g, '') };
  }

  private specValue(): Record<string, unknown> {
    const { options, buckets } = this;
    const connection = options.sink === 'redshift' ? { workgroup: 'analytics', database: this.harness.database } : { url: '${param.pg_url}' };
    return {
      version: 1,
      name: this.name,
      ...(options.sink === 'postgres' ? { parameters: { pg_url: { type: 'string', secret: true } } } : {}),
      dead_letter: { bucket: buckets.deadLetters },
      notifications: { topic: `arn:aws:sns:us-east-1:${ACCOUNT}:${this.name}`, on: ['load_failed', 'dead_letter'] },
      sources: {
        events: options.source === 'kinesis'
          ? { type: 'kinesis', stream: this.stream, format: 'json' }
          : { type: 's3', bucket: buckets.source, prefix: 'events/', format: 'jsonl' },
      },
      sinks: {
        warehouse: {
          type: options.sink,
          inputs: ['events'],
          connection,
          table: this.table,
          columns: [...COLUMNS],
          mode: options.mode,
          ...(options.mode === 'upsert' ? { keys: ['id'] } : {}),
          ...(options.sink === 'redshift' ? { iam_role: COPY_ROLE, copy: options.copy ?? {} } : {}),
          staging: { bucket: buckets.staging, prefix: `${this.name}/warehouse/` },
          batch: options.batch ?? {},
        },
      },
    };
  }
}

/** A Kinesis event holding `records` (a slice of {@link WarehousePipeline.kinesisRecords}): one delivery with its own boundaries. */
export function kinesisBatch(records: readonly KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: [...records] };
}

/** SQS-wrapped S3 "Object Created" events for `objects`, one message each, as the generator wires them. */
export function s3Event(objects: readonly { bucket: string; key: string; size: number; etag: string }[]): SQSEvent {
  return s3ObjectCreatedEvent(objects);
}

/** The EventBridge schedule rule's event, which runs maintenance alone. */
export function scheduledEvent(time: Date): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: time.toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:${ACCOUNT}:rule/ingest-sweep`],
    detail: {},
  };
}

/** The warehouse sink's maintenance report of an invocation, if it ran. */
export function maintenanceOf(summary: InvocationSummary): MaintenanceReport | undefined {
  return summary.maintenance?.warehouse;
}

/** Rows in `table`, counted through `pg`. */
export async function rowsIn(pool: pg.Pool, table: string): Promise<number> {
  const result = await pool.query<{ count: string }>(`SELECT count(*) AS count FROM ${table}`);
  return Number(result.rows[0]!.count);
}

/** Validates `value` as `ingest validate` would and resolves it; throws listing the errors of an invalid spec. */
function validatedSpec(value: Record<string, unknown>): ResolvedSpec {
  const loaded = loadSpec('spec.yaml', Buffer.from(JSON.stringify(value)));
  const diagnostics = loaded.ok ? validateLoadedSpec(loaded.spec, NO_FILES) : loaded.diagnostics;
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 'error');
  if (errors.length > 0) throw new Error(`harness spec is invalid:\n${errors.map((error) => `  ${error.instancePath} ${error.code}: ${error.message}`).join('\n')}`);
  return resolveSpec(value);
}

function awsConfig(endpoint: string) {
  return {
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    forcePathStyle: true,
    requestHandler: new NodeHttpHandler(),
  };
}
