import { UsageError } from '../../engine/errors.ts';
import { ledgerScope } from '../../engine/ports/ledger.ts';
import type { LoadPlan, LoadTransaction } from '../../engine/sinks/sql/load-transaction.ts';
import { jsonPathsDocument, redshiftLoadTransaction, stateTableStatements } from '../../engine/sinks/sql/load-transaction.ts';
import { postgresLoadTransaction } from '../../engine/sinks/sql/postgres-load.ts';
import { jsonPathsKey, manifestKey, s3Url, stagingPrefix } from '../../engine/sinks/warehouse/manifest.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import { compileTemplate, TemplateRenderError } from '../../engine/template/index.ts';
import type { WarehouseSink } from '../warehouse-spec.ts';
import { readSpecWithParameters } from '../spec-with-parameters.ts';
import { warehouseSinks } from '../warehouse-spec.ts';

export interface SqlOptions {
  /** `--param name=value` arguments; parameters without a value show as `${param.<name>}`. */
  parameters: readonly string[];
  format: 'text' | 'json';
  /** The time `pre_sql` and `post_sql` are rendered at [now]. */
  now?: () => Date;
}

/**
 * A `pre_sql` or `post_sql` template that `validate` accepts but that cannot render (a path below
 * `sink` or `table`): the loader fails every batch of the sink with the same reason.
 */
export class UnrenderableSqlError extends Error {
  override name = 'UnrenderableSqlError';
}

/** How the placeholders read in the printed statements. */
export const BATCH_PLACEHOLDER = '<batch>';
export const LOAD_TIME_PLACEHOLDER = '<load time>';
export const SEALED_AT_PLACEHOLDER = '<sealed at>';

/** What a load of one sink runs, with placeholders for what differs between loads. */
export interface SinkStatements {
  sink: string;
  type: 'redshift' | 'postgres';
  table: string;
  mode: 'append' | 'upsert';
  /** Run once per cold start, outside any load. */
  stateTables: string[];
  /** The load of one batch: these statements in order, as one transaction. */
  transaction: string[];
  /** Redshift: the manifest COPY reads; PostgreSQL: none (the loader streams the staged files to COPY ... FROM STDIN). */
  manifestUrl?: string;
  /** Whether `pre_sql` or `post_sql` were rendered (at the command's time) into the transaction. */
  rendersTemplates: boolean;
  /** Redshift with JSON staging: where the jsonpaths document is, and what it holds. */
  jsonPathsUrl?: string;
  jsonPaths?: { jsonpaths: string[] };
}

/**
 * `ingest sql <spec> [sink]`: prints, for review, the statements a load of each redshift and
 * postgres sink runs: the state tables, then the load transaction of one batch, built by the
 * same functions the loader uses. The batch number and the load time differ between loads and
 * print as `<batch>` and `<load time>`. Resolves to 0, or 1 when the spec is invalid (its
 * diagnostics are printed and no SQL is) or a `pre_sql`/`post_sql` cannot render (the reason is
 * printed). Throws `UsageError` when `sink` is not a redshift or postgres sink of the spec.
 */
export function sqlCommand(positionals: readonly string[], options: SqlOptions, out: (text: string) => void): number {
  const [specPath, sinkArgument, ...extra] = positionals;
  if (specPath === undefined) throw new UsageError('sql needs a spec file');
  if (extra.length > 0) throw new UsageError('sql takes a spec file and at most one sink');
  const spec = readSpecWithParameters(specPath, options.parameters, out)?.spec;
  if (spec === undefined) return 1;
  const now = (options.now ?? (() => new Date()))();
  let loads: SinkStatements[];
  try {
    loads = warehouseSinks(spec, sinkArgument).map((sink) => sinkStatements(spec, sink, now));
  } catch (error) {
    if (!(error instanceof UnrenderableSqlError)) throw error;
    out(error.message);
    return 1;
  }
  if (options.format === 'json') {
    out(JSON.stringify({ pipeline: spec.name, placeholders: { batch: BATCH_PLACEHOLDER, sealedAt: SEALED_AT_PLACEHOLDER, loadTime: LOAD_TIME_PLACEHOLDER }, renderedAt: now.toISOString(), sinks: loads }, null, 2));
    return 0;
  }
  loads.forEach((load, index) => {
    if (index > 0) out('');
    printStatements(spec, load, now, out);
  });
  return 0;
}

// Stand-ins for the batch number and the load time while the statements are built: the builders
// validate both, so the placeholders are swapped in afterwards. Ten digits, so that the manifest
// key's zero-padded batch is the same text.
const BATCH_STAND_INS = [9_876_543_210, 8_765_432_109, 7_654_321_098];
const LOAD_TIME_STAND_IN = new Date(Date.UTC(2999, 11, 31, 23, 59, 59));
const LOAD_TIME_TEXT = `'2999-12-31 23:59:59'`;
/** Thirteen digits, as epoch milliseconds are, and no substring of a batch stand-in. */
const SEALED_AT_STAND_IN = 4_102_444_799_123;

/** The statements of one sink's load, with `<batch>` and `<load time>` in place of the stand-ins. */
export function sinkStatements(spec: ResolvedSpec, [id, config]: WarehouseSink, now: Date): SinkStatements {
  const scope = ledgerScope(spec.name, id);
  const prefix = stagingPrefix(config.staging.prefix, scope);
  const dot = config.table.indexOf('.');
  // As the loader does: the loads and ranges tables live beside the target, in `public` for an unqualified table.
  const stateSchema = dot === -1 ? 'public' : config.table.slice(0, dot);
  const render = (field: 'pre_sql' | 'post_sql') => (source: string, index: number) => {
    try {
      return compileTemplate(source)({ sink: id, table: config.table, now });
    } catch (error) {
      if (error instanceof TemplateRenderError) throw new UnrenderableSqlError(`sink ${id}: ${field}[${index}] cannot be rendered, so every load of this sink would fail: ${error.message}`, { cause: error });
      throw error;
    }
  };
  const preSql = (config.type === 'redshift' ? config.pre_sql ?? [] : []).map(render('pre_sql'));
  const postSql = (config.type === 'redshift' ? config.post_sql ?? [] : []).map(render('post_sql'));
  // A stand-in that the spec's own text holds (a prefix, a column, a rendered statement) would be
  // replaced there too: take one it does not hold.
  const specText = JSON.stringify([spec.name, id, config, preSql, postSql, jsonPathsKey(prefix, config.columns)]);
  const batch = BATCH_STAND_INS.find((candidate) => !specText.includes(String(candidate)));
  if (batch === undefined || specText.includes(LOAD_TIME_TEXT.slice(1, -1)) || specText.includes(String(SEALED_AT_STAND_IN))) throw new Error(`sink ${id}: the spec holds every placeholder stand-in`);

  const plan: LoadPlan = {
    dialect: config.type,
    scope,
    batch,
    sealedAt: SEALED_AT_STAND_IN,
    table: config.table,
    columns: config.columns,
    mode: config.mode,
    ...(config.keys === undefined ? {} : { keys: config.keys }),
    stateSchema,
    loadedAt: LOAD_TIME_STAND_IN,
    preSql,
    postSql,
  };
  const { bucket, format } = config.staging;
  let transaction: LoadTransaction;
  const located: Pick<SinkStatements, 'manifestUrl' | 'jsonPathsUrl' | 'jsonPaths'> = {};
  try {
    if (config.type === 'redshift') {
      located.manifestUrl = s3Url(bucket, manifestKey(prefix, batch));
      if (format === 'jsonl') {
        located.jsonPathsUrl = s3Url(bucket, jsonPathsKey(prefix, config.columns));
        located.jsonPaths = jsonPathsDocument(config.columns);
      }
      transaction = redshiftLoadTransaction(plan, {
        manifestUrl: located.manifestUrl,
        format,
        ...(located.jsonPathsUrl === undefined ? {} : { jsonPathsUrl: located.jsonPathsUrl }),
        ...(config.iam_role === undefined ? {} : { iamRole: config.iam_role }),
        copy: config.copy,
        errorTable: config.connection.cluster !== undefined ? 'stl_load_errors' : 'sys_load_error_detail',
      });
    } else {
      transaction = postgresLoadTransaction(plan, format);
    }
  } catch (error) {
    // The builders refuse a value that cannot be a SQL literal (a --param value with a quote): the loader would too.
    if (error instanceof TypeError) throw new UnrenderableSqlError(`sink ${id}: a load of this sink would fail: ${error.message}`, { cause: error });
    throw error;
  }
  const placeholders = (text: string) => text
    .replaceAll(String(SEALED_AT_STAND_IN), SEALED_AT_PLACEHOLDER)
    .replaceAll(String(batch), BATCH_PLACEHOLDER)
    .replaceAll(LOAD_TIME_TEXT, `'${LOAD_TIME_PLACEHOLDER}'`);
  return {
    sink: id,
    type: config.type,
    table: config.table,
    mode: config.mode,
    rendersTemplates: preSql.length + postSql.length > 0,
    stateTables: stateTableStatements(config.type, stateSchema),
    transaction: transaction.statements.map(placeholders),
    ...(located.manifestUrl === undefined ? {} : { manifestUrl: placeholders(located.manifestUrl) }),
    ...(located.jsonPathsUrl === undefined ? {} : { jsonPathsUrl: located.jsonPathsUrl, jsonPaths: located.jsonPaths! }),
  };
}

function printStatements(spec: ResolvedSpec, load: SinkStatements, now: Date, out: (text: string) => void): void {
  out(`-- ingest sql: sink ${load.sink} of pipeline ${spec.name} (${load.type}, ${load.mode} into ${load.table})`);
  out(`-- ${BATCH_PLACEHOLDER} stands for the batch number the ledger gives each load${load.manifestUrl === undefined ? '' : ' (10 digits, zero-padded, in the manifest key)'};`);
  out(`-- ${SEALED_AT_PLACEHOLDER} for when the ledger sealed the batch (epoch milliseconds): with the batch number, the load's identity;`);
  out(`-- ${LOAD_TIME_PLACEHOLDER} for the time the load runs.${load.rendersTemplates ? ` pre_sql and post_sql are rendered as of ${now.toISOString()}.` : ''}`);
  out('');
  out('-- State tables, created once per cold start, outside the load transaction:');
  for (const statement of load.stateTables) out(`${statement};`);
  out('');
  if (load.type === 'redshift') {
    out('-- The load of one batch: one transaction (BatchExecuteStatement), in this order.');
    out(`-- COPY reads the manifest ${load.manifestUrl}, written before the load, listing the batch's staged files.`);
    if (load.jsonPathsUrl !== undefined) out(`-- jsonpaths document ${load.jsonPathsUrl}: ${JSON.stringify(load.jsonPaths)}`);
  } else {
    out('-- The load of one batch: one transaction, in this order.');
    out("-- COPY ... FROM STDIN reads the batch's staged files, which the loader streams to it as CSV.");
  }
  for (const statement of load.transaction) out(`${statement};`);
}
