import { readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { UsageError } from '../../engine/errors.ts';
import { DEAD_LETTER_BUCKET_VARIABLE } from '../../engine/function-environment.ts';
import { createHandler } from '../../engine/handler.ts';
import type { InvocationSummary } from '../../engine/handler.ts';
import { InvocationFailedError } from '../../engine/handler.ts';
import { dynamoDbInsertEvent, kinesisEvent, s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import { localSearchSink } from '../../engine/local/file-search-index.ts';
import { RecordingObjectStore } from '../../engine/local/recording-object-store.ts';
import { LocalWarehouses } from '../../engine/local/warehouse.ts';
import type { LocalWarehouseSink } from '../../engine/local/warehouse.ts';
import type { MaintenanceReport } from '../../engine/plugin/types.ts';
import { FileLedger, LedgerFileError } from '../../engine/ports/file-ledger.ts';
import { dynamoDbTableName } from '../../engine/sources/dynamodb/table-name.ts';
import { FsObjectStore } from '../../engine/ports/fs-object-store.ts';
import type { ObjectStore } from '../../engine/ports/object-store.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import { parameterReferences } from '../../engine/spec/resolved-spec.ts';
import { filesBeside } from '../../engine/spec/validate.ts';
import { SINK_PLUGINS } from '../../engine/plugin/registry.ts';
import { reason } from '../files.ts';
import { readSpecWithParameters } from '../spec-with-parameters.ts';

/**
 * Sinks that run as themselves in a local run, because their only port is the object store (files
 * under `.ingest/s3/`). Search sinks run with their requests written to files, warehouse sinks
 * against local stand-ins (below).
 */
const LOCAL_SINK_TYPES: ReadonlySet<string> = new Set(['s3']);

/**
 * Sinks that run as themselves in a local run against local stand-ins of their ports: the ledger
 * in `.ingest/ledger.json`, staging under `.ingest/s3/`, and PGlite in `.ingest/pglite/` as the
 * warehouse (docs/decisions/0036-local-warehouse-runs.md). Their `connection` and `iam_role` are
 * not used, so the parameters only those name are not needed.
 */
const LOCAL_WAREHOUSE_TYPES: ReadonlySet<string> = new Set(['redshift', 'postgres']);

/** Rows of each warehouse sink's table shown after a local run. */
const SAMPLE_ROWS = 10;

/** In local runs, the stand-in for the dead-letter bucket the stack would create: `.ingest/s3/dead-letters/`. */
export const LOCAL_DEAD_LETTER_BUCKET = 'dead-letters';

export interface RunOptions {
  event?: string;
  local: boolean;
  inputs: string[];
  parameters: string[];
  verbose: boolean;
  /** Working directory of the local object store (`.ingest/`). */
  workdir: string;
}

/**
 * `ingest run <spec>`: invokes the handler in-process. With `--event`, a captured Lambda event
 * runs against the AWS endpoint the environment names (`AWS_ENDPOINT_URL` for moto). With
 * `--local`, objects live under `.ingest/s3/<bucket>/<key>` and nothing reaches AWS; `--input
 * <source>=<file>` turns a file into the event that source would receive.
 */
export async function runCommand(positionals: readonly string[], options: RunOptions, out: (text: string) => void): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('run needs exactly one spec file');
  if (!options.event && options.inputs.length === 0) throw new UsageError('run needs --event <file.json> or --local --input <source>=<file>');
  if (options.inputs.length > 0 && !options.local) throw new UsageError('--input runs locally: add --local');
  const specPath = positionals[0]!;
  const resolved = loadValidSpec(specPath, options.parameters, options.local, out);
  if (!resolved) return 1;
  const { spec, parameters } = resolved;
  if (!options.local) {
    // Without --local nothing stands in for such a sink: say so as a usage error, not as a crash of the handler.
    const missing = Object.entries(spec.sinks).find(([, config]) => !SINK_PLUGINS.has(config.type));
    if (missing) throw new UsageError(`sink ${missing[0]}: the ${missing[1].type} sink does not run in this version yet; run it with --local against local stand-ins`);
  }

  // A spec without a dead-letter bucket uses the one the stack creates (docs/decisions/0025-dead-letter-bucket.md).
  const deadLetterBucket = spec.dead_letter.bucket !== undefined ? undefined : options.local ? LOCAL_DEAD_LETTER_BUCKET : process.env[DEAD_LETTER_BUCKET_VARIABLE] || undefined;
  if (spec.dead_letter.bucket === undefined && deadLetterBucket === undefined) {
    throw new UsageError(`the spec names no dead_letter bucket, so its dead letters go to the bucket the stack creates: set ${DEAD_LETTER_BUCKET_VARIABLE} to that bucket, or run with --local (dead letters under .ingest/s3/${LOCAL_DEAD_LETTER_BUCKET}/)`);
  }

  const localRoot = join(options.workdir, '.ingest');
  const store = new RecordingObjectStore(options.local ? new FsObjectStore(join(localRoot, 's3')) : await awsObjectStore());
  const substitutes = new Map<string, string>();
  const warehouseSinks = options.local ? Object.entries(spec.sinks).filter(([, config]) => LOCAL_WAREHOUSE_TYPES.has(config.type)) as [string, LocalWarehouseSink][] : [];
  const local = warehouseSinks.length > 0 ? await localWarehousePorts(localRoot) : undefined;
  try {
    return await runEvents(spec, parameters, specPath, options, out, { store, substitutes, localRoot, deadLetterBucket, warehouseSinks, local });
  } finally {
    await local?.warehouses.close();
  }
}

interface RunSetting {
  store: RecordingObjectStore;
  substitutes: Map<string, string>;
  localRoot: string;
  deadLetterBucket: string | undefined;
  /** The redshift and postgres sinks of a local run. */
  warehouseSinks: [string, LocalWarehouseSink][];
  local: { ledger: FileLedger; warehouses: LocalWarehouses } | undefined;
}

/** The ledger and warehouses of a local run with warehouse sinks; a ledger file that cannot be read is a usage error. */
async function localWarehousePorts(localRoot: string): Promise<{ ledger: FileLedger; warehouses: LocalWarehouses }> {
  try {
    return { ledger: await FileLedger.open(join(localRoot, 'ledger.json')), warehouses: new LocalWarehouses(join(localRoot, 'pglite')) };
  } catch (error) {
    if (error instanceof LedgerFileError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

async function runEvents(spec: ResolvedSpec, parameters: Record<string, string>, specPath: string, options: RunOptions, out: (text: string) => void, setting: RunSetting): Promise<number> {
  const { store, substitutes, localRoot, deadLetterBucket, warehouseSinks, local } = setting;
  const handler = createHandler(spec, {
    ports: { objects: store, ...(local ? { ledger: local.ledger, warehouse: local.warehouses.warehouse } : {}) },
    files: filesBeside(specPath),
    parameters,
    ...(deadLetterBucket === undefined ? {} : { deadLetterBucket }),
    sinkOverride: (id, config) => {
      // A search sink runs for real locally, its bulk requests written to files instead of sent.
      const searchDirectory = join(localRoot, 'search', id);
      const search = options.local ? localSearchSink(id, config, searchDirectory) : undefined;
      if (search) {
        substitutes.set(id, `${config.type} bulk requests written to ${relative(options.workdir, searchDirectory)}/ (answered as accepted)`);
        return search;
      }
      return undefined;
    },
    write: options.verbose ? (line) => process.stderr.write(line + '\n') : () => {},
  });

  const events = options.event ? [readJson(options.event)] : await inputEvents(spec, options.inputs, store);
  store.written.length = 0; // the inputs just staged are not outputs
  let exitCode = 0;
  for (const event of events) {
    let summary: InvocationSummary;
    try {
      summary = await handler.invoke(event);
    } catch (error) {
      // Failing as a whole is how Lambda retries an invocation; what it did and why still shows.
      if (error instanceof InvocationFailedError) printSummary(spec, error.summary, substitutes, store, options, out);
      out(`invocation failed: ${(error as Error).message}`);
      exitCode = 1;
      continue;
    }
    printSummary(spec, summary, substitutes, store, options, out);
    // An item can fail with no record counted (an object that could not be read at all).
    if (summary.counts.failed > 0 || summary.items.some((item) => item.failed)) exitCode = 1;
  }
  if (local && warehouseSinks.length > 0) {
    // Whatever the batch thresholds, everything staged is loaded before the run ends.
    const reports = await handler.maintain('flush');
    if (!(await printWarehouses(warehouseSinks, reports, local.warehouses, options, out))) exitCode = 1;
  }
  return exitCode;
}

/**
 * What the flush did for each warehouse sink, and the rows its local table now holds. Resolves to
 * false when a sink's load failed or its maintenance could not run.
 */
async function printWarehouses(sinks: [string, LocalWarehouseSink][], reports: Record<string, MaintenanceReport>, warehouses: LocalWarehouses, options: RunOptions, out: (text: string) => void): Promise<boolean> {
  let ok = true;
  const database = relative(options.workdir, warehouses.directory);
  for (const [id, config] of sinks) {
    const report = reports[id];
    if (report === undefined) {
      out(`sink ${id}: loading into ${database}/ did not run (run with --verbose to see why)`);
      ok = false;
      continue;
    }
    const done: string[] = [];
    // Rows new to the table: records loaded before (a duplicate event, a run repeated) are not counted again.
    if (report.loaded.length > 0) done.push(`loaded batch ${report.loaded.map((load) => `${load.batch} (${load.rows} ${load.rows === 1 ? 'row' : 'rows'})`).join(', ')}`);
    if (report.deadLettered > 0) done.push(`${report.deadLettered} rows dead-lettered`);
    out(`sink ${id}: ${done.join(', ') || (report.failed.length > 0 ? 'load failed' : 'no batch to load')}`);
    for (const failure of report.failed) {
      out(`  batch ${failure.batch} failed: ${failure.error}`);
      ok = false;
    }
    if (report.pending.length > 0) out(`  batches left for a later run: ${report.pending.join(', ')}`);
  }
  const prepared = await warehouses.preparedTables();
  for (const [id, config] of sinks) {
    const table = prepared.get(id);
    if (table?.created) out(`note: ${id}: created table ${config.table} in ${database}/ with every column text (the spec names columns, not their types)`);
    if (table && table.added.length > 0) out(`note: ${id}: added columns ${table.added.join(', ')} to ${config.table} as text`);
    let sample;
    try {
      sample = await warehouses.sample(id, config, SAMPLE_ROWS);
    } catch (error) {
      out(`sink ${id}: cannot read ${config.table} in ${database}/: ${reason(error)}`);
      ok = false;
      continue;
    }
    out(`${config.table} (${database}/): ${sample.count} ${sample.count === 1 ? 'row' : 'rows'}${sample.count > sample.rows.length ? `, the first ${sample.rows.length} shown` : ''}`);
    if (sample.rows.length > 0) out(formatTable(sample.columns, sample.rows.map((row) => row.map(cellText))));
  }
  return ok;
}

/** A value as one table cell: NULL spelled out, long text cut. */
function cellText(value: unknown): string {
  if (value === null) return 'NULL';
  const text = String(value).replace(/\s+/g, ' ');
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** Columns padded to their widest cell, under a header. */
function formatTable(header: readonly string[], rows: readonly string[][]): string {
  const all = [[...header], ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  return all.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}`).join('\n');
}

/** The spec with its `--param` values; a run needs every parameter its sources, transforms, dead letters and running sinks use. */
function loadValidSpec(path: string, parameterArguments: string[], local: boolean, out: (text: string) => void): { spec: ResolvedSpec; parameters: Record<string, string> } | undefined {
  return readSpecWithParameters(path, parameterArguments, out, (spec) => {
    const running = Object.values(spec.sinks)
      .filter((sink) => !local || LOCAL_SINK_TYPES.has(sink.type) || LOCAL_WAREHOUSE_TYPES.has(sink.type))
      // Locally a warehouse sink loads into PGlite: its connection and IAM role are not used.
      .map((sink) => (local && LOCAL_WAREHOUSE_TYPES.has(sink.type) ? withoutRemoteSettings(sink) : sink));
    return parameterReferences([spec.sources, spec.transforms, spec.dead_letter, running]);
  });
}

/** A warehouse sink's config without what only reaches the remote warehouse. */
function withoutRemoteSettings(sink: ResolvedSpec['sinks'][string]): Record<string, unknown> {
  const { connection: _connection, iam_role: _role, ...rest } = sink as unknown as Record<string, unknown>;
  return rest;
}

/** S3 through the SDK, loaded only by runs that reach AWS: a local run does not pay for the SDK's import. */
async function awsObjectStore(): Promise<ObjectStore> {
  const [{ S3Client }, { S3ObjectStore }] = await Promise.all([import('@aws-sdk/client-s3'), import('../../engine/ports/s3-object-store.ts')]);
  // A custom endpoint (moto, LocalStack) serves buckets by path, not by virtual host.
  return new S3ObjectStore(new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3) }));
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${reason(error)}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path} is not JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Turns each `--input <source>=<file>` into the event that source would receive from AWS. */
async function inputEvents(spec: ResolvedSpec, inputs: readonly string[], store: RecordingObjectStore): Promise<unknown[]> {
  const events: unknown[] = [];
  for (const input of inputs) {
    const separator = input.indexOf('=');
    if (separator <= 0) throw new UsageError(`--input takes <source>=<file>, got ${input}`);
    const [sourceId, file] = [input.slice(0, separator), input.slice(separator + 1)];
    const source = Object.hasOwn(spec.sources, sourceId) ? spec.sources[sourceId] : undefined;
    if (!source) throw new UsageError(`--input names source ${sourceId}, which the spec does not declare (sources: ${Object.keys(spec.sources).join(', ')})`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${reason(error)}`, { cause: error });
    }
    const lines = () => bytes.toString('utf8').split('\n').filter((line) => line.trim() !== '');
    switch (source.type) {
      case 's3': {
        let key = `${source.prefix ?? ''}${basename(file)}`;
        if (source.suffix && !key.endsWith(source.suffix)) key += source.suffix;
        // The same content again is left as it is, keeping its identity (the ETag): a second run is a
        // duplicate event, which S3 would send for the same upload, not an overwrite with new records.
        if (!(await holds(store, source.bucket, key, bytes))) await store.put(source.bucket, key, bytes, { contentType: 'application/octet-stream' });
        events.push(s3ObjectCreatedEvent([{ bucket: source.bucket, key, size: statSync(file).size }]));
        break;
      }
      case 'kinesis':
        events.push(kinesisEvent(source.stream, lines().map((line) => Buffer.from(line))));
        break;
      case 'dynamodb': {
        const items = lines().map((line, index) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            throw new UsageError(`${file}:${index + 1}: each line of a DynamoDB input is one item as JSON`);
          }
        });
        try {
          // The declared stream ARN, as AWS would send it: with several dynamodb sources it is what tells them apart.
          const streamArn = source.stream_arn?.startsWith('arn:') ? { streamArn: source.stream_arn } : {};
          events.push(dynamoDbInsertEvent(dynamoDbTableName(source, sourceId), items, Object.keys(items[0] ?? {}).slice(0, 1), streamArn));
        } catch (error) {
          // marshall refuses values DynamoDB cannot hold exactly, such as integers beyond 2^53.
          throw new UsageError(`${file}: an item cannot be written as DynamoDB attributes: ${reason(error)}`, { cause: error });
        }
        break;
      }
    }
  }
  return events;
}

/** Whether the store holds exactly `bytes` at `bucket`/`key`. */
async function holds(store: RecordingObjectStore, bucket: string, key: string, bytes: Buffer): Promise<boolean> {
  const stored = await store.get(bucket, key);
  if (stored === undefined) return false;
  if (stored.size !== undefined && stored.size !== bytes.length) {
    stored.body.destroy();
    return false;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stored.body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).equals(bytes);
}

function printSummary(spec: ResolvedSpec, summary: InvocationSummary, substitutes: Map<string, string>, store: RecordingObjectStore, options: RunOptions, out: (text: string) => void): void {
  const { counts, metrics, response } = summary;
  out(`records: ${counts.records_in} in, ${counts.written} written, ${counts.filtered} filtered, ${counts.dead_lettered} dead-lettered, ${counts.failed} failed`);
  const rows = [['component', 'in', 'out', 'filtered', 'dead-lettered', 'failed']];
  const ids = [...Object.keys(spec.sources), ...Object.keys(spec.transforms ?? {}), ...Object.keys(spec.sinks)];
  for (const id of ids) {
    rows.push([id, ...(['records_in', 'records_out', 'filtered', 'dead_lettered', 'failed'] as const).map((counter) => String(metrics.get(id, counter)))]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) out(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
  for (const note of substitutes.values()) out(`note: ${note}`);
  const written = store.written.splice(0);
  if (written.length > 0) {
    out('objects written:');
    for (const { bucket, key } of written) out(options.local ? `  ${relative(options.workdir, join(options.workdir, '.ingest', 's3', bucket, key))}` : `  s3://${bucket}/${key}`);
  }
  if (summary.failures.length > 0) {
    out('item failures:');
    for (const failure of summary.failures) out(`  ${failure.item ?? 'the event'}: ${failure.retried ? 'retried' : 'dead-lettered whole'}: ${failure.reason}`);
  }
  if (response) out(`response: ${JSON.stringify(response)}`);
}
