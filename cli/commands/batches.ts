import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UsageError } from '../../engine/errors.ts';
import { LEDGER_TABLE_VARIABLE } from '../../engine/function-environment.ts';
import { DynamoDbLedger } from '../../engine/ports/dynamodb-ledger.ts';
import type { BatchFiles, BatchRecord, BatchState, Ledger, OpenBatch } from '../../engine/ports/ledger.ts';
import { BATCH_STATES, ledgerScope } from '../../engine/ports/ledger.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import { plural } from '../output.ts';
import type { WarehouseSink } from '../warehouse-spec.ts';
import { readSpecWithParameters } from '../spec-with-parameters.ts';
import { warehouseSinks } from '../warehouse-spec.ts';

export const BATCH_ACTIONS = ['list', 'show', 'retry', 'skip'] as const;
export type BatchAction = (typeof BATCH_ACTIONS)[number];

export interface BatchesOptions {
  /** The ledger table; else the spec's `state.table`, else `INGEST_LEDGER_TABLE`. */
  table?: string;
  /** AWS endpoint (moto, LocalStack); else the SDK's own settings (`AWS_ENDPOINT_URL`). */
  endpoint?: string;
  format: 'text' | 'json';
  /** Why a batch is skipped, kept in the ledger as the batch's error. */
  reason?: string;
  /** With `list`: only batches in these states, comma-separated (`failed,loading`) [all]. */
  state?: string;
  /** `--param name=value` arguments, for a `state.table` that is a parameter reference. */
  parameters: readonly string[];
  environment: Readonly<Record<string, string | undefined>>;
  /** The client to reach the ledger with [one from the SDK's settings (region, credentials) and `endpoint`]. */
  client?: DynamoDBClient;
  now?: () => number;
}

/** What `list` reports of one sink. */
interface SinkListing {
  sink: string;
  type: 'redshift' | 'postgres';
  table: string;
  mode: 'append' | 'upsert';
  scope: string;
  open: OpenBatch;
  batches: BatchRecord[];
}

const DEFAULT_SKIP_REASON = 'skipped with ingest batches';

/**
 * `ingest batches <spec> list [sink] | show <sink> <batch> | retry <sink> <batch> | skip <sink> <batch>`:
 * reads and changes the ledger of the spec's redshift and postgres sinks. `retry` (failed →
 * sealed) and `skip` (sealed or failed → skipped) are single conditional writes, safe while loads
 * run. Resolves to 0, or to 1 when the spec is invalid, the batch does not exist or is not in a
 * state that allows the action. Throws `UsageError` for bad arguments and for a ledger that
 * cannot be reached (named, with the reason).
 */
export async function batchesCommand(positionals: readonly string[], options: BatchesOptions, out: (text: string) => void): Promise<number> {
  const [specPath, action = 'list', sinkArgument, batchArgument, ...extra] = positionals;
  if (specPath === undefined) throw new UsageError('batches needs a spec file');
  if (!(BATCH_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown action ${action}; expected one of: ${BATCH_ACTIONS.join(', ')}`);
  const needsBatch = action !== 'list';
  if (extra.length > 0 || (!needsBatch && batchArgument !== undefined)) throw new UsageError(`too many arguments for batches ${action}`);
  if (needsBatch && (sinkArgument === undefined || batchArgument === undefined)) throw new UsageError(`batches ${action} needs a sink and a batch number: ingest batches <spec> ${action} <sink> <batch>`);
  const batch = needsBatch ? batchNumber(batchArgument!) : undefined;
  if (options.reason !== undefined && action !== 'skip') throw new UsageError('--reason goes with skip');
  if (options.state !== undefined && action !== 'list') throw new UsageError('--state goes with list');
  const states = options.state === undefined ? undefined : batchStates(options.state);

  const spec = readSpecWithParameters(specPath, options.parameters, out)?.spec;
  if (spec === undefined) return 1;
  const sinks = warehouseSinks(spec, sinkArgument);
  const table = ledgerTable(spec, options);
  const client = options.client ?? new DynamoDBClient(options.endpoint ? { endpoint: options.endpoint } : {});
  const ledger: Ledger = new DynamoDbLedger(client, { tableName: table });
  const now = options.now ?? Date.now;
  const reach = <T>(work: Promise<T>) => work.catch((error: unknown) => {
    throw new UsageError(ledgerProblem(table, error), { cause: error });
  });
  const json = options.format === 'json';
  const print = (value: unknown) => out(JSON.stringify(value, null, 2));

  if (action === 'list') {
    const listings: SinkListing[] = [];
    for (const [id, config] of sinks) {
      const scope = ledgerScope(spec.name, id);
      const open = await reach(ledger.openBatch(scope));
      const sealed = await reach(ledger.batches(scope, states?.filter((state) => state !== 'open')));
      // An empty open batch is not a batch yet: it is listed only once it holds a file.
      const shownOpen = states === undefined || states.includes('open') ? open : { batch: open.batch, totals: { ...open.totals, files: 0 } };
      listings.push({ sink: id, type: config.type, table: config.table, mode: config.mode, scope, open: shownOpen, batches: sealed });
    }
    if (json) print({ table, sinks: listings });
    else printListings(listings, specPath, now(), out, states);
    return 0;
  }

  const [[sink]] = sinks as [WarehouseSink];
  const scope = ledgerScope(spec.name, sink);
  if (action === 'show') {
    const [record, open] = await reach(Promise.all([ledger.batch(scope, batch!), ledger.openBatch(scope)]));
    if (record === undefined) {
      if (open.batch === batch && open.totals.files > 0) {
        if (json) print({ sink, batch, state: 'open', totals: open.totals });
        else out(`sink ${sink}, batch ${batch}: open, ${totalsText(open.totals)}, first file ${age(now() - open.totals.openedAt)} ago`);
        return 0;
      }
      out(`sink ${sink} has no batch ${batch} (the open batch is ${open.batch}${open.totals.files === 0 ? ', empty' : ''})`);
      return 1;
    }
    const files = await reach(ledger.files(scope, batch!));
    if (json) print({ sink, ...record, files: files.files, missingSlots: files.missing });
    else printBatch(sink, record, files, now(), out);
    return 0;
  }

  const done = action === 'retry'
    ? await reach(ledger.retry(scope, batch!))
    : await reach(ledger.skip(scope, batch!, options.reason ?? DEFAULT_SKIP_REASON, now()));
  const after = await reach(ledger.batch(scope, batch!));
  if (json) print({ sink, batch, action, done, state: after?.state ?? null });
  if (done) {
    if (!json && action === 'retry') out(`batch ${batch} of sink ${sink}: failed → sealed; the next sweep loads it again (records already loaded are not loaded twice)`);
    if (!json && action === 'skip') {
      out(`batch ${batch} of sink ${sink}: skipped (${options.reason ?? DEFAULT_SKIP_REASON}); its ${plural(after?.totals.records ?? 0, 'record')} will not be loaded`);
      out('note: if the source delivers those records again, they may load as new records; to load them, fix the data and use retry instead');
    }
    return 0;
  }
  if (!json) {
    const allowed = action === 'retry' ? 'only a failed batch can be retried' : 'only a sealed or failed batch can be skipped';
    out(after === undefined ? `sink ${sink} has no batch ${batch}` : `batch ${batch} of sink ${sink} is ${after.state}: ${allowed}; nothing changed`);
  }
  return 1;
}

function batchStates(text: string): BatchState[] {
  const states = text.split(',').map((state) => state.trim()).filter((state) => state !== '');
  const unknown = states.filter((state) => !(BATCH_STATES as readonly string[]).includes(state));
  if (states.length === 0 || unknown.length > 0) throw new UsageError(`--state takes states separated by commas, from: ${BATCH_STATES.join(', ')}${unknown.length > 0 ? `; not ${unknown.join(', ')}` : ''}`);
  return states as BatchState[];
}

function batchNumber(text: string): number {
  const value = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`batch must be a positive whole number, not ${text}`);
  return value;
}

/** `--table`, else the spec's `state.table`, else `INGEST_LEDGER_TABLE`; a usage error when none names a table. */
function ledgerTable(spec: ResolvedSpec, options: BatchesOptions): string {
  const table = options.table || spec.state?.table || options.environment[LEDGER_TABLE_VARIABLE] || undefined;
  if (table === undefined) {
    throw new UsageError(`name the ledger table with --table <name> (the table the stack created, which the function reads from ${LEDGER_TABLE_VARIABLE}), or set ${LEDGER_TABLE_VARIABLE}`);
  }
  const reference = /\$\{param\.([a-z][a-z0-9_]*)\}/.exec(table);
  if (reference) throw new UsageError(`state.table is the parameter ${reference[1]}: give its value with --param ${reference[1]}=<table>, or --table <name>`);
  return table;
}

function ledgerProblem(table: string, error: unknown): string {
  const { name, message } = error as { name?: string; message?: string };
  if (name === 'ResourceNotFoundException') return `the ledger table ${table} does not exist in this account and region`;
  return `cannot reach the ledger table ${table}: ${message ?? String(error)}`;
}

function printListings(listings: readonly SinkListing[], specPath: string, now: number, out: (text: string) => void, states?: readonly BatchState[]): void {
  for (const [index, listing] of listings.entries()) {
    if (index > 0) out('');
    out(`sink ${listing.sink} (${listing.type} → ${listing.table}), ledger scope ${listing.scope}`);
    const rows = [['batch', 'state', 'age', 'files', 'records', 'bytes', 'attempts', 'statement', 'error']];
    for (const record of listing.batches) {
      rows.push([
        String(record.batch), record.state, age(now - record.totals.openedAt), String(record.totals.files), String(record.totals.records),
        bytes(record.totals.bytes), String(record.attempts), record.statementId ?? '', oneLine(record.error ?? '', 60),
      ]);
    }
    const { open } = listing;
    if (open.totals.files > 0) rows.push([String(open.batch), 'open', age(now - open.totals.openedAt), String(open.totals.files), String(open.totals.records), bytes(open.totals.bytes), '', '', '']);
    if (rows.length === 1) {
      out(states === undefined ? '  no batches yet' : `  no ${states.join(' or ')} batches`);
      continue;
    }
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) out(`  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}`);
    const failed = listing.batches.filter((record) => record.state === 'failed');
    if (failed.length > 0) {
      out(`  ${failed.length} failed ${failed.length === 1 ? 'batch' : 'batches'}: see why with \`ingest batches ${specPath} show ${listing.sink} ${failed[0]!.batch}\`; after fixing the data, \`retry\` loads it`);
      // An upsert sink loads in seal order (0031 §4): nothing after a failed batch loads until it is retried or skipped.
      if (listing.mode === 'upsert') out(`  upsert sink: batches after ${failed[0]!.batch} wait until it is retried or skipped`);
    }
  }
}

function printBatch(sink: string, record: BatchRecord, files: BatchFiles, now: number, out: (text: string) => void): void {
  out(`sink ${sink}, batch ${record.batch}: ${record.state}`);
  const line = (label: string, value: string) => out(`  ${label.padEnd(10)} ${value}`);
  line('totals', totalsText(record.totals));
  line('opened', `${iso(record.totals.openedAt)} (${age(now - record.totals.openedAt)} ago)`);
  line('sealed', iso(record.sealedAt));
  if (record.finishedAt !== undefined) line('finished', iso(record.finishedAt));
  line('attempts', String(record.attempts));
  if (record.leaseOwner !== undefined) line('lease', `${record.leaseOwner}, until ${iso(record.leaseExpiresAt ?? 0)}${(record.leaseExpiresAt ?? 0) < now ? ' (lapsed)' : ''}`);
  if (record.statementId !== undefined) line('statement', record.statementId);
  if (record.rows !== undefined) line('rows', String(record.rows));
  if (record.error !== undefined) line(record.state === 'skipped' ? 'reason' : 'error', record.error);
  out(`files (${files.files.length}):`);
  for (const file of files.files) out(`  ${String(file.slot).padStart(4)}  s3://${file.bucket}/${file.key}  ${plural(file.records, 'record')}, ${bytes(file.bytes)}`);
  if (files.missing.length > 0) out(`slots without a file (a registrar died or is still writing; the loader abandons them): ${files.missing.join(', ')}`);
}

function totalsText(totals: { files: number; records: number; bytes: number }): string {
  return `${plural(totals.files, 'file')}, ${plural(totals.records, 'record')}, ${bytes(totals.bytes)}`;
}

/** A duration for people: `42s`, `12m05s`, `3h12m`, `4d03h`. */
export function age(milliseconds: number): string {
  const seconds = Math.max(0, Math.floor(milliseconds / 1000));
  const two = (value: number) => String(value).padStart(2, '0');
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${two(Math.floor(seconds / 60) % 60)}m`;
  return `${Math.floor(seconds / 86_400)}d${two(Math.floor(seconds / 3600) % 24)}h`;
}

/** A size for people: bytes below 1 KiB, else KiB, MiB or GiB with one decimal. */
export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = count / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function iso(epochMilliseconds: number): string {
  return new Date(epochMilliseconds).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function oneLine(text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}
