/**
 * The `redshift` and `postgres` sinks: records are staged as gzip JSON-lines (or CSV) files under
 * the sink's `staging` location, registered in the ledger once their items are settled for good,
 * and loaded in batches exactly once. Design: docs/decisions/0031-exactly-once-warehouse-loads.md.
 * The writer (writer.ts) stages and registers; the loader (loader.ts) seals, loads and reports.
 */
import { UsageError } from '../../errors.ts';
import type { Sink, SinkEnvironment, SinkPlugin, Ports } from '../../plugin/types.ts';
import { ledgerScope } from '../../ports/ledger.ts';
import type { SinkConfig } from '../../spec/spec-types.ts';
import { stagedRowFormat } from '../../staging/staged-row.ts';
import { Loader } from './loader.ts';
import { stagingPrefix } from './manifest.ts';
import { WarehouseWriter } from './writer.ts';
import type { WarehouseWriterSettings } from './writer.ts';

/** A resolved `redshift` or `postgres` sink: defaults applied, sizes in bytes. */
export type WarehouseSinkConfig = SinkConfig<'redshift' | 'postgres'>;

/**
 * Most uncompressed bytes in one staged file, below the batch's `max_bytes`. Files of 128 MiB
 * compress to some 10-20 MiB, inside the range Redshift recommends for parallel COPY, and bound
 * what an invocation holds per open file.
 */
export const MAX_STAGED_FILE_BYTES = 128 * 1024 * 1024;

/** The `redshift` sink plugin. `create` throws a `UsageError` when the ports lack the ledger or the warehouse. */
export const redshiftSink: SinkPlugin<SinkConfig<'redshift'>> = {
  type: 'redshift',
  create: (id, config, ports, environment) => createWarehouseSink(id, config, ports, environment),
};

/** The `postgres` sink plugin. `create` throws a `UsageError` when the ports lack the ledger or the warehouse. */
export const postgresSink: SinkPlugin<SinkConfig<'postgres'>> = {
  type: 'postgres',
  create: (id, config, ports, environment) => createWarehouseSink(id, config, ports, environment),
};

function createWarehouseSink(id: string, config: WarehouseSinkConfig, ports: Ports, environment: SinkEnvironment): Sink {
  const { ledger } = ports;
  // The deployed function refuses to start before this (ports/aws-ports.ts); a command that builds
  // the engine without these ports gets one line and exit code 2, not a crash.
  if (ledger === undefined) {
    throw new UsageError(`sink ${id}: the ${config.type} sink needs the ledger of its staged files, a DynamoDB table (the spec's state.table, or INGEST_LEDGER_TABLE in the deployed function), and was started without one; run with --local to use local stand-ins`);
  }
  if (ports.warehouse === undefined) {
    throw new UsageError(`sink ${id}: the ${config.type} sink needs a connection to its warehouse, and was started without one; run with --local to use local stand-ins`);
  }
  const { max_records: maxRecords, max_bytes: maxBytes, max_files: maxFiles, max_seconds: maxSeconds } = config.batch;
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) throw new RangeError(`sink ${id}: batch.max_records must be a positive integer, got ${maxRecords}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`sink ${id}: batch.max_bytes must be a positive number of bytes, got ${maxBytes}`);
  const format = stagedRowFormat(config.staging.format, config.columns);
  const scope = ledgerScope(environment.pipeline, id);
  // Lambda keeps order per partition key, not per shard, when it reads a shard with several
  // invocations at once: record identity must then name the key (decision record, section 1).
  const perKeySources = new Set(
    Object.entries(environment.sources ?? {})
      .filter(([, source]) => source.type === 'kinesis' && source.parallelization > 1)
      .map(([sourceId]) => sourceId),
  );
  const settings: WarehouseWriterSettings = {
    sinkId: id,
    scope,
    bucket: config.staging.bucket,
    // Staged files sit under `files/` of the staging prefix; the loader's manifests and jsonpaths beside them.
    filesPrefix: `${stagingPrefix(config.staging.prefix, scope)}files/`,
    format,
    suffix: `.${format.extension}.gz`,
    putOptions: { contentType: format.contentType, contentEncoding: 'gzip' },
    fileMaxRecords: maxRecords,
    fileMaxBytes: Math.min(maxBytes, MAX_STAGED_FILE_BYTES),
    limits: { max_records: maxRecords, max_bytes: maxBytes, max_files: maxFiles, max_seconds: maxSeconds },
    ledger,
    store: ports.objects,
    perPartitionKey: (meta) => meta.event === 'kinesis' && perKeySources.has(meta.source),
  };
  const loader = new Loader({ scope, sinkId: id, config, ledger, warehouse: ports.warehouse(id, config), objects: ports.objects });
  return {
    open: (invocation) => new WarehouseWriter(settings, invocation),
    maintain: (context) => loader.maintain(context),
  };
}
