import { parse as parseCsv } from 'csv-parse/sync';
import type { KinesisDecodeConfig } from './config.ts';
import type { DecodedPayload } from './decode-payload.ts';

/**
 * The record of a `csv` payload (see `decodePayload`), in a module of its own so that the bundle
 * of a spec without csv kinesis sources leaves out the CSV reader
 * (docs/decisions/0049-per-spec-bundles.md).
 */
export function decodeCsvRow(text: string, csv: KinesisDecodeConfig['csv']): DecodedPayload {
  let rows: string[][];
  try {
    rows = parseCsv(text, { delimiter: csv?.delimiter ?? ',', quote: csv?.quote ?? '"' }) as string[][];
  } catch (error) {
    return { ok: false, code: 'invalid-csv', message: (error as Error).message };
  }
  const [row] = rows;
  if (row === undefined) return { ok: false, code: 'invalid-csv', message: 'record holds no CSV row' };
  if (rows.length > 1) return { ok: false, code: 'invalid-csv', message: `record holds ${rows.length} CSV rows; a Kinesis record must hold one` };

  const columns = csv?.columns;
  if (columns !== undefined && columns.length !== row.length) {
    return { ok: false, code: 'invalid-csv', message: `row has ${row.length} fields, expected ${columns.length} (${columns.join(', ')})` };
  }
  const names = columns ?? row.map((_, i) => `field_${i + 1}`);
  // fromEntries defines own properties, so a column named __proto__ stays an ordinary field.
  return { ok: true, value: Object.fromEntries(names.map((name, i) => [name, row[i]])) };
}
