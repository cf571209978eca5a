import type { CheckContext } from '../../plugin/checks.ts';
import type { SqlDialect } from './identifier.ts';
import { identifierRule, isValidIdentifier } from './identifier.ts';
import { isReservedColumn } from './load-transaction.ts';
import { keyPrefixProblem } from '../s3/check.ts';

export interface TableSinkSettings {
  table: string;
  columns: string[];
  mode?: 'append' | 'upsert';
  keys?: string[];
  staging?: { prefix?: string };
}

/** Checks shared by the SQL sinks: identifiers, and upsert keys that are present and among the columns. */
export function checkTableSink(config: TableSinkSettings, dialect: SqlDialect, context: CheckContext): void {
  const parts = config.table.split('.');
  if (parts.length > 2 || !parts.every((part) => isValidIdentifier(part, dialect))) {
    context.report(['table'], 'invalid-identifier', `table \`${config.table}\` must be \`table\` or \`schema.table\`, each part ${identifierRule(dialect)}`);
  }
  config.columns.forEach((column, index) => {
    if (!isValidIdentifier(column, dialect)) context.report(['columns', index], 'invalid-identifier', `column \`${column}\` is not a valid identifier: ${identifierRule(dialect)}`);
    else if (isReservedColumn(column)) context.report(['columns', index], 'invalid-identifier', `column \`${column}\` starts with \`_ingest\`, which Ingest reserves for the source identity it stages with each row`);
  });
  if (config.mode === 'upsert' && (!config.keys || config.keys.length === 0)) {
    context.report(['mode'], 'upsert-keys-required', '`mode: upsert` needs `keys`: the columns that identify a row, e.g. `keys: [event_id]`');
  }
  (config.keys ?? []).forEach((key, index) => {
    if (!config.columns.includes(key)) context.report(['keys', index], 'keys-not-in-columns', `key \`${key}\` is not one of the columns (${config.columns.join(', ')})`);
  });
  const prefix = config.staging?.prefix;
  const problem = prefix === undefined ? undefined : keyPrefixProblem(prefix, true);
  if (problem) context.report(['staging', 'prefix'], 'invalid-key-prefix', `staging prefix \`${prefix}\` ${problem}`);
}
