import { readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { UsageError } from '../../engine/errors.ts';
import { DEAD_LETTER_BUCKET_VARIABLE } from '../../engine/function-environment.ts';
import { createHandler } from '../../engine/handler.ts';
import type { InvocationSummary } from '../../engine/handler.ts';
import { InvocationFailedError } from '../../engine/handler.ts';
import { dynamoDbInsertEvent, kinesisEvent, s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import { localSearchSink } from '../../engine/local/file-search-index.ts';
import { FileSink } from '../../engine/local/file-sink.ts';
import { RecordingObjectStore } from '../../engine/local/recording-object-store.ts';
import { dynamoDbTableName } from '../../engine/sources/dynamodb/table-name.ts';
import { FsObjectStore } from '../../engine/ports/fs-object-store.ts';
import { S3ObjectStore } from '../../engine/ports/s3-object-store.ts';
import { readSpec } from '../../engine/spec/read-spec.ts';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import { ParameterError, checkParameters, parameterReferences, substituteParameters } from '../../engine/spec/resolved-spec.ts';
import { filesBeside } from '../../engine/spec/validate.ts';
import { SINK_PLUGINS } from '../../engine/plugin/registry.ts';
import { displayPath, reason } from '../files.ts';
import { formatDiagnostics } from '../output.ts';

/**
 * Sinks that run as themselves in a local run, because their only port is the object store (files
 * under `.ingest/s3/`). Any other sink would reach a network service, so `--local` replaces it by a
 * file of its records, whether or not the runtime has it.
 */
const LOCAL_SINK_TYPES: ReadonlySet<string> = new Set(['s3']);

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
    if (missing) throw new UsageError(`sink ${missing[0]}: the ${missing[1].type} sink does not run in this version yet; run with --local to see its records in .ingest/sinks/${missing[0]}.jsonl`);
  }

  // A spec without a dead-letter bucket uses the one the stack creates (docs/decisions/0025-dead-letter-bucket.md).
  const deadLetterBucket = spec.dead_letter.bucket !== undefined ? undefined : options.local ? LOCAL_DEAD_LETTER_BUCKET : process.env[DEAD_LETTER_BUCKET_VARIABLE] || undefined;
  if (spec.dead_letter.bucket === undefined && deadLetterBucket === undefined) {
    throw new UsageError(`the spec names no dead_letter bucket, so its dead letters go to the bucket the stack creates: set ${DEAD_LETTER_BUCKET_VARIABLE} to that bucket, or run with --local (dead letters under .ingest/s3/${LOCAL_DEAD_LETTER_BUCKET}/)`);
  }

  const localRoot = join(options.workdir, '.ingest');
  const store = new RecordingObjectStore(options.local ? new FsObjectStore(join(localRoot, 's3')) : new S3ObjectStore(awsS3Client()));
  const substitutes = new Map<string, string>();
  const handler = createHandler(spec, {
    ports: { objects: store },
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
      if (!options.local || LOCAL_SINK_TYPES.has(config.type)) return undefined;
      const path = join(localRoot, 'sinks', `${id}.jsonl`);
      substitutes.set(id, `${config.type} is not available locally yet; records appended to ${relative(options.workdir, path)}`);
      return new FileSink(path);
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
  return exitCode;
}

function loadValidSpec(path: string, parameterArguments: string[], local: boolean, out: (text: string) => void): { spec: ResolvedSpec; parameters: Record<string, string> } | undefined {
  const read = readSpec(path, displayPath(path));
  if (!read.ok) {
    out(formatDiagnostics(read.errors, 'text'));
    return undefined;
  }
  const parameters: Record<string, string> = Object.create(null);
  for (const argument of parameterArguments) {
    const separator = argument.indexOf('=');
    if (separator <= 0) throw new UsageError(`--param takes name=value, got ${argument}`);
    parameters[argument.slice(0, separator)] = argument.slice(separator + 1);
  }
  const spec = applyDefaults(read.spec.value);
  try {
    const running = Object.values(spec.sinks).filter((sink) => !local || LOCAL_SINK_TYPES.has(sink.type));
    const used = [spec.sources, spec.transforms, spec.dead_letter, running];
    checkParameters(spec, parameters, (name) => `--param ${name}=<value>`, { required: parameterReferences(used) });
  } catch (error) {
    if (error instanceof ParameterError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  return { spec: substituteParameters(spec, parameters), parameters };
}

function awsS3Client(): S3Client {
  // A custom endpoint (moto, LocalStack) serves buckets by path, not by virtual host.
  return new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3) });
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
        await store.put(source.bucket, key, bytes, { contentType: 'application/octet-stream' });
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
