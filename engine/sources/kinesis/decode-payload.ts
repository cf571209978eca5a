import { isUtf8 } from 'node:buffer';
import type { Decoded, FailureCode, KinesisMeta, RecordValue } from '../../pipeline/record.ts';
import { DEFAULT_MAX_DEPTH, parseJsonRecord } from '../parse-json-record.ts';
import type { KinesisDecodeConfig } from './config.ts';
import { decodeCsvRow } from './decode-csv-row.ts';

/** The record decoded from one payload, or the dead-letter code and message saying why it could not be. */
export type DecodedPayload =
  | { ok: true; value: RecordValue }
  | { ok: false; code: FailureCode; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns the bytes of one Kinesis (user) record into a record, for the formats that hold one
 * record per Kinesis record (`json`, `csv`; `text` is {@link decodeTextLines}). Never throws.
 * - `json`: one JSON object, read by `parseJsonRecord` (exact numbers beyond 2^53); `invalid-utf8`,
 *   `invalid-json`, `too-deep` (nested deeper than `maxDepth`), `non-finite-number`, or
 *   `not-an-object` for any other JSON value.
 * - `csv`: exactly one row; fields named by `csv.columns` (the count must match) or `field_1`...;
 *   `invalid-csv` for malformed CSV, no row, several rows or a wrong field count.
 */
export function decodePayload(
  bytes: Uint8Array,
  format: 'json' | 'csv',
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
    case 'json':
      return parseJsonRecord(text, maxDepth);
    case 'csv':
      return decodeCsvRow(text, csv);
  }
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * The records of a `text` payload: one `{ message }` per line, as an S3 `text` object gives
 * them. Lines end at `\n` (a `\r` before it is removed too); empty lines are skipped; the rest
 * of the text is kept exactly (no trimming). Each record's `position` gets `:<line index>`
 * (0-based, empty lines counted, so a line keeps its position whatever its neighbours hold) and
 * its `sub_sequence` is that index, unless the payload is a user record of a KPL aggregate,
 * whose index it keeps (the position carries both), as for CloudWatch Logs events.
 *
 * A payload that is not UTF-8 is one `invalid-utf8` dead letter; one without a non-empty line
 * is one `filtered` item, so that it is counted. A line's `raw` is its bytes.
 */
export function decodeTextLines(bytes: Uint8Array, meta: KinesisMeta): Decoded[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Binary data is not text: the record is dead-lettered whole rather than cut at stray 0x0a bytes.
  if (!isUtf8(buffer)) return [{ outcome: 'dead_letter', meta, raw: bytes, code: 'invalid-utf8', message: 'record bytes are not valid UTF-8' }];
  const items: Decoded[] = [];
  for (let start = 0, index = 0; start < buffer.byteLength; index += 1) {
    const newline = buffer.indexOf(NEWLINE, start);
    const end = newline === -1 ? buffer.byteLength : newline;
    const line = buffer.subarray(start, end > start && buffer[end - 1] === CARRIAGE_RETURN ? end - 1 : end);
    start = end + 1;
    if (line.byteLength === 0) continue;
    const lineMeta: KinesisMeta = { ...meta, sub_sequence: meta.sub_sequence ?? index, position: `${meta.position}:${index}` };
    items.push({ outcome: 'record', value: { message: utf8.decode(line) }, meta: lineMeta, raw: line });
  }
  if (items.length === 0) return [{ outcome: 'filtered', meta, raw: bytes, reason: 'text record holds no non-empty line' }];
  return items;
}
