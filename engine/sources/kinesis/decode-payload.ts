import { parse as parseCsv } from 'csv-parse/sync';
import type { FailureCode, RecordValue } from '../../pipeline/record.ts';
import { DEFAULT_MAX_DEPTH, parseJsonRecord } from '../parse-json-record.ts';
import type { KinesisDecodeConfig } from './config.ts';

/** The record decoded from one payload, or the dead-letter code and message saying why it could not be. */
export type DecodedPayload =
  | { ok: true; value: RecordValue }
  | { ok: false; code: FailureCode; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns the bytes of one Kinesis (user) record into a record, for the formats that hold one
 * record per Kinesis record (`json`, `text`, `csv`). Never throws.
 * - `json`: one JSON object, read by `parseJsonRecord` (exact numbers beyond 2^53); `invalid-utf8`,
 *   `invalid-json`, `too-deep` (nested deeper than `maxDepth`), `non-finite-number`, or
 *   `not-an-object` for any other JSON value.
 * - `text`: `{ message }` with the exact UTF-8 text (no trimming); `invalid-utf8`.
 * - `csv`: exactly one row; fields named by `csv.columns` (the count must match) or `field_1`...;
 *   `invalid-csv` for malformed CSV, no row, several rows or a wrong field count.
 */
export function decodePayload(
  bytes: Uint8Array,
  format: 'json' | 'text' | 'csv',
  csv: KinesisDecodeConfig['csv'],
  maxDepth: number = DEFAULT_MAX_DEPTH,
): DecodedPayload {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, code: 'invalid-utf8', message: 'record bytes are not valid UTF-8' };
  }
  switch (format) {
    case 'text':
      return { ok: true, value: { message: text } };
    case 'json':
      return parseJsonRecord(text, maxDepth);
    case 'csv':
      return decodeCsvRow(text, csv);
  }
}

function decodeCsvRow(text: string, csv: KinesisDecodeConfig['csv']): DecodedPayload {
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
