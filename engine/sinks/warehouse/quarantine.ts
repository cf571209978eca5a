/**
 * Rows a warehouse rejected while loading a batch: read from its load-error table, matched with
 * the staged line they came from, and turned into dead letters (docs/decisions/0031, section 4).
 * With `copy.max_error` above 0 the good rows commit and each rejected row becomes one dead letter
 * with code `load-rejected`; without it, the rows explain why the batch failed.
 */
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import type { ObjectStore } from '../../ports/object-store.ts';
import type { StagedFile } from '../../ports/ledger.ts';
import type { ResultSet } from '../../ports/warehouse.ts';
import type { DeadLetter } from '../../pipeline/dead-letters.ts';
import type { RecordValue, S3Meta } from '../../pipeline/record.ts';
import { IDENTITY_COLUMNS, IDENTITY_FIELD } from '../sql/load-transaction.ts';
import { s3Url } from './manifest.ts';

/** One row COPY rejected, as its load-error table reports it. */
export interface RejectedRow {
  /** The staged file's `s3://` URL. */
  file: string;
  /** 1-based line in the (uncompressed) staged file. */
  line: number;
  column: string;
  code: number | string;
  message: string;
}

/**
 * The rejected rows of a result set with the columns `loadErrorsSelect` gives
 * (`file_name, line_number, column_name, error_code, error_message`). Rows lacking a file or a
 * line are kept with line 0, so a malformed answer still shows up instead of vanishing.
 */
export function rejectedRows(result: ResultSet): RejectedRow[] {
  const index = (name: string) => result.columns.indexOf(name);
  const [file, line, column, code, message] = ['file_name', 'line_number', 'column_name', 'error_code', 'error_message'].map(index) as [number, number, number, number, number];
  return result.rows.map((row) => ({
    file: String(row[file] ?? '').trim(),
    line: Number(row[line] ?? 0) || 0,
    column: String(row[column] ?? '').trim(),
    code: typeof row[code] === 'number' ? row[code] : String(row[code] ?? ''),
    message: String(row[message] ?? '').trim(),
  }));
}

/** One line per rejected row, for a batch's error and its notification: `<file>:<line> column <c>: <message>`. */
export function describeRejection(row: RejectedRow): string {
  return `${row.file}:${row.line}${row.column === '' ? '' : ` column ${row.column}`}: ${row.message}`;
}

export interface QuarantineSettings {
  objects: ObjectStore;
  /** The sink id: the dead letters' component. */
  sinkId: string;
  columns: readonly string[];
  format: 'jsonl' | 'csv';
  /** The batch's files: only these are read back (a file name from the warehouse is never trusted further). */
  files: readonly StagedFile[];
}

/**
 * The dead letters of the rejected rows: each with the staged line as `raw`, the row's columns as
 * `record` when the line parses, its identity's source and arrival time, and a position
 * `<file URL>:<line>`. Its `meta` describes the staged line (an `s3` meta of the staging bucket and
 * key), since the record's own source meta is not staged; the source's partition and position are
 * in `raw` (the `_ingest` list). Staged files are read once each, up to the last line needed.
 * A line that cannot be found (the file is gone) still yields a letter, with an empty `raw` and
 * the reason in its message, so a rejected row is never silently dropped.
 */
export async function rejectedLetters(rows: readonly RejectedRow[], settings: QuarantineSettings): Promise<DeadLetter[]> {
  const byUrl = new Map(settings.files.map((file) => [s3Url(file.bucket, file.key), file]));
  const wanted = new Map<string, Set<number>>();
  for (const row of rows) {
    if (!byUrl.has(row.file)) continue;
    let lines = wanted.get(row.file);
    if (lines === undefined) wanted.set(row.file, (lines = new Set()));
    lines.add(row.line);
  }
  const found = new Map<string, Map<number, string>>();
  for (const [url, lines] of wanted) {
    const file = byUrl.get(url)!;
    found.set(url, await readLines(settings.objects, file, lines).catch(() => new Map<number, string>()));
  }
  return rows.map((row) => letterOf(row, found.get(row.file)?.get(row.line), settings));
}

function letterOf(row: RejectedRow, line: string | undefined, settings: QuarantineSettings): DeadLetter {
  const parsed = line === undefined ? undefined : parseStagedLine(line, settings.columns, settings.format);
  const location = splitUrl(row.file);
  const position = `${row.file}:${row.line}`;
  const source = parsed?.identity[0] ?? settings.sinkId;
  const meta: S3Meta = {
    event: 's3',
    source,
    arrival_time: arrivalTime(parsed?.identity[4]),
    position,
    bucket: location.bucket,
    key: location.key,
    line: row.line,
  };
  const detail = `${row.column === '' ? '' : `column ${row.column}: `}${row.message} (error ${row.code})`;
  const letter: DeadLetter = {
    stage: 'sink',
    code: 'load-rejected',
    message: line === undefined ? `${detail}; the staged line could not be read back` : detail,
    component: settings.sinkId,
    source,
    position,
    meta,
    raw: new TextEncoder().encode(line ?? ''),
  };
  if (parsed?.record !== undefined) letter.record = parsed.record;
  return letter;
}

/** A staged line's columns and identity list; `record` is absent when the line does not parse. */
function parseStagedLine(line: string, columns: readonly string[], format: 'jsonl' | 'csv'): { record?: RecordValue; identity: (string | null)[] } {
  try {
    if (format === 'jsonl') {
      const value = JSON.parse(line) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return { identity: [] };
      const fields = value as Record<string, unknown>;
      const record = recordOf(columns, (column) => (Object.hasOwn(fields, column) ? fields[column] : null));
      const identity = Array.isArray(fields[IDENTITY_FIELD]) ? (fields[IDENTITY_FIELD] as unknown[]).map((part) => (typeof part === 'string' ? part : null)) : [];
      return { record, identity };
    }
    // As COPY CSV reads a staged row: an unquoted empty field is NULL, a quoted one the empty string.
    const [fields] = parseCsv(line, { relax_column_count: true, cast: (value, context) => (value === '' && !context.quoting ? null : value) }) as (string | null)[][];
    if (fields === undefined) return { identity: [] };
    const record = recordOf(columns, (_, index) => fields[index] ?? null);
    return { record, identity: fields.slice(columns.length, columns.length + IDENTITY_COLUMNS.length) };
  } catch {
    return { identity: [] };
  }
}

/** The row's columns in a prototype-free object: column names come from the spec, and may be any identifier. */
function recordOf(columns: readonly string[], value: (column: string, index: number) => unknown): RecordValue {
  const record: RecordValue = Object.create(null);
  columns.forEach((column, index) => {
    record[column] = value(column, index);
  });
  return record;
}

/** The staged arrival (`YYYY-MM-DD HH:MM:SS[.mmm]`, UTC) as ISO-8601, or '' when there is none. */
function arrivalTime(staged: string | null | undefined): string {
  if (typeof staged !== 'string' || !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(staged)) return '';
  return `${staged.replace(' ', 'T')}Z`;
}

function splitUrl(url: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(url);
  return match ? { bucket: match[1]!, key: match[2]! } : { bucket: '', key: url };
}

/**
 * The wanted lines of a staged (gzip) file, reading no further than the last of them. Lines are
 * counted as COPY counts them: 1-based, split on `\n`.
 */
async function readLines(objects: ObjectStore, file: StagedFile, lines: ReadonlySet<number>): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  const last = Math.max(...lines);
  const stored = await objects.get(file.bucket, file.key);
  if (stored === undefined) return found;
  const gunzip = createGunzip();
  const text = stored.body.pipe(gunzip);
  stored.body.on('error', (error) => gunzip.destroy(error));
  const reader = createInterface({ input: text, crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const line of reader) {
      number++;
      if (lines.has(number)) found.set(number, line);
      if (number >= last) break;
    }
  } finally {
    reader.close();
    stored.body.destroy();
    gunzip.destroy();
  }
  return found;
}
