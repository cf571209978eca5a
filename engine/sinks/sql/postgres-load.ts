/**
 * The PostgreSQL form of a load (docs/decisions/0031-exactly-once-warehouse-loads.md, section 5):
 * the same transaction as Redshift's, with `COPY ... FROM STDIN` in place of COPY from a manifest,
 * fed by the client from the batch's staged files.
 *
 * PostgreSQL's COPY has no JSON format, so every staged file (gzip JSON lines with the `_ingest`
 * identity list last, or CSV with six trailing identity fields) is turned into one COPY CSV
 * stream: one CSV record per staged row, the sink's columns then the identity columns, written by
 * csv-stringify. NULL is an unquoted empty field and an empty string a quoted one (COPY CSV's
 * default rule), nested values are JSON text. Because every staged row becomes exactly one COPY
 * record, the line number in a COPY error leads back to the staged file and line
 * ({@link StagedCopyData.locate}).
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse';
import type { CastingContext } from 'csv-parse';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import type { StagedFile } from '../../ports/ledger.ts';
import type { ObjectStore } from '../../ports/object-store.ts';
import { parseJsonValue } from '../../sources/parse-json-record.ts';
import { quoteIdentifier } from './identifier.ts';
import { IDENTITY_COLUMNS, IDENTITY_FIELD, applyStatements, beginStatements } from './load-transaction.ts';
import type { LoadPlan, LoadTransaction } from './load-transaction.ts';

/** How staged files are written (`staging.format`). */
export type StagedFormat = 'jsonl' | 'csv';

/**
 * The whole PostgreSQL load: the lock, `pre_sql` and the staging table ({@link beginStatements}),
 * `COPY ingest_staged (...) FROM STDIN` at `copyStatement`, then {@link applyStatements}. The
 * COPY always reads CSV as {@link copyData} writes it, whatever `format` the staged files have.
 * Run it with `Warehouse.executeTransaction(statements, { copyIn: { statement: copyStatement, data } })`.
 * PostgreSQL's COPY has no error limit, so there is no `errorsStatement`: one bad value fails the
 * load, and the error names the staged file and line.
 */
export function postgresLoadTransaction(plan: LoadPlan, format: StagedFormat): LoadTransaction & { copyStatement: number } {
  if (format !== 'jsonl' && format !== 'csv') throw new TypeError(`staged files are jsonl or csv, not ${String(format)}`);
  const statements = beginStatements(plan);
  const copyStatement = statements.length;
  statements.push(copyFromStdinStatement(plan.columns));
  statements.push(...applyStatements(plan));
  return { statements, copyStatement, countsStatement: statements.length - 1 };
}

/** `COPY ingest_staged (<columns>, <identity columns>) FROM STDIN` in the CSV that {@link copyData} writes. */
export function copyFromStdinStatement(columns: readonly string[]): string {
  const names = [...columns, ...IDENTITY_COLUMNS.map((column) => column.name)].map((column) => quoteIdentifier(column, 'postgres'));
  return `COPY ${quoteIdentifier('ingest_staged', 'postgres')} (${names.join(', ')}) FROM STDIN WITH (FORMAT csv)`;
}

/**
 * The COPY input of a batch: each staged file in order, read from the object store as a stream
 * (gunzipped when it is gzip), each row turned into one COPY CSV record. Rows are never all held
 * in memory. The iteration throws, naming the staged file and line, when a file is missing or
 * unreadable or a row is malformed (not JSON, not an object, no identity list of six, a CSV row
 * of the wrong width); a warehouse then fails the COPY with that error. Values the column types
 * refuse are found by PostgreSQL; {@link StagedCopyData.locate} turns its line number back into
 * the staged file and line.
 */
export function copyData(objects: ObjectStore, files: readonly StagedFile[], columns: readonly string[], format: StagedFormat): StagedCopyData {
  return new StagedCopyData(objects, files, columns, format);
}

/** Where a COPY record came from. */
export interface StagedLine {
  /** `s3://<bucket>/<key>` of the staged file. */
  file: string;
  /** 1-based line of the file where the row starts. */
  line: number;
}

/** One staged file's stretch of the COPY input: which COPY records came from it. */
interface FileSpan {
  file: string;
  /** COPY record number (1-based) of the file's first row. */
  firstRecord: number;
  records: number;
  /** The file line of each row, kept only once a row's line differs from its ordinal (blank lines, CSV values holding newlines). */
  lines?: number[];
}

const IDENTITY_WIDTH = IDENTITY_COLUMNS.length;
/** COPY records per chunk handed to the warehouse: large enough that per-chunk costs vanish. */
const RECORDS_PER_CHUNK = 512;
// Quoting the empty string (and only it) keeps it apart from NULL, an unquoted empty field.
const CSV_OPTIONS = { quoted_match: /^$/, eof: true } as const;

/** The COPY input {@link copyData} returns: iterable once per load, and able to say where each record came from. */
export class StagedCopyData implements AsyncIterable<Uint8Array> {
  private readonly spans: FileSpan[] = [];

  constructor(
    private readonly objects: ObjectStore,
    private readonly files: readonly StagedFile[],
    private readonly columns: readonly string[],
    private readonly format: StagedFormat,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    this.spans.length = 0;
    let record = 1;
    for (const file of this.files) {
      const span: FileSpan = { file: `s3://${file.bucket}/${file.key}`, firstRecord: record, records: 0 };
      this.spans.push(span);
      let batch: (string | null)[][] = [];
      for await (const { values, line } of this.rowsOf(file, span.file)) {
        if (line !== span.records + 1 && span.lines === undefined) span.lines = Array.from({ length: span.records }, (_, index) => index + 1);
        span.lines?.push(line);
        span.records++;
        record++;
        batch.push(values);
        if (batch.length === RECORDS_PER_CHUNK) {
          yield Buffer.from(stringifyCsv(batch, CSV_OPTIONS));
          batch = [];
        }
      }
      if (batch.length > 0) yield Buffer.from(stringifyCsv(batch, CSV_OPTIONS));
    }
  }

  /**
   * The staged file and line of COPY record `record` (1-based, as PostgreSQL numbers them in
   * `line N` of a COPY error), once the iteration has passed it; `undefined` otherwise.
   */
  locate(record: number): StagedLine | undefined {
    let low = 0;
    let high = this.spans.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const span = this.spans[middle]!;
      if (record < span.firstRecord) high = middle - 1;
      else if (record >= span.firstRecord + span.records) low = middle + 1;
      else {
        const index = record - span.firstRecord;
        return { file: span.file, line: span.lines?.[index] ?? index + 1 };
      }
    }
    return undefined;
  }

  private async *rowsOf(file: StagedFile, url: string): AsyncGenerator<{ values: (string | null)[]; line: number }> {
    let stored;
    try {
      stored = await this.objects.get(file.bucket, file.key);
    } catch (error) {
      throw new Error(`staged file ${url} cannot be read: ${(error as Error).message}`, { cause: error });
    }
    if (stored === undefined) throw new Error(`staged file ${url} is missing`);
    const { body } = stored;
    try {
      if (this.format === 'jsonl') yield* this.jsonRows(body, url);
      else yield* this.csvRows(body, url);
    } finally {
      body.destroy();
    }
  }

  private async *jsonRows(body: Readable, url: string): AsyncGenerator<{ values: (string | null)[]; line: number }> {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let line = 0;
    const row = (text: string) => {
      line++;
      return text.trim() === '' ? undefined : { values: this.jsonRow(text, url, line), line };
    };
    for await (const chunk of readError(decompressed(body), url, () => line + 1)) {
      pending += decoder.write(chunk);
      let newline = pending.indexOf('\n');
      let start = 0;
      while (newline >= 0) {
        const parsed = row(pending.slice(start, newline));
        if (parsed) yield parsed;
        start = newline + 1;
        newline = pending.indexOf('\n', start);
      }
      pending = pending.slice(start);
    }
    pending += decoder.end();
    if (pending !== '') {
      const parsed = row(pending);
      if (parsed) yield parsed;
    }
  }

  private jsonRow(text: string, url: string, line: number): (string | null)[] {
    const fail = (problem: string) => new Error(`staged file ${url} line ${line}: ${problem}`);
    // Lossless: an integer beyond 2^53 keeps its digits (as exact text) on its way to a BIGINT or NUMERIC column.
    const parsed = parseJsonValue(text);
    if (!parsed.ok) throw fail(`${parsed.code}: ${parsed.message}`);
    const row = parsed.value;
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw fail('a staged row must be a JSON object');
    const fields = row as Record<string, unknown>;
    const identity = Object.hasOwn(fields, IDENTITY_FIELD) ? fields[IDENTITY_FIELD] : undefined;
    if (!Array.isArray(identity) || identity.length !== IDENTITY_WIDTH) throw fail(`a staged row must end with ${IDENTITY_FIELD}, a list of ${IDENTITY_WIDTH} identity values`);
    return [
      ...this.columns.map((column) => copyValue(Object.hasOwn(fields, column) ? fields[column] : null)),
      ...identity.map(copyValue),
    ];
  }

  private async *csvRows(body: Readable, url: string): AsyncGenerator<{ values: (string | null)[]; line: number }> {
    const width = this.columns.length + IDENTITY_WIDTH;
    // An unquoted empty field is NULL and a quoted one the empty string, as COPY CSV reads them.
    const cast = (value: string, context: CastingContext) => (value === '' && !context.quoting ? null : value);
    const parser = parseCsv({ cast, info: true, relax_column_count: true, bom: true });
    let line = 1;
    const rows = pipeline(decompressed(body), parser, () => {}) as AsyncIterable<unknown>;
    for await (const { record, info } of readError(rows, url, () => line) as AsyncIterable<{ record: (string | null)[]; info: { lines: number; raw?: string } }>) {
      // `info.lines` is the line the record ends on; a quoted value may span lines.
      const ends = info.lines;
      const starts = line;
      line = ends + 1;
      if (record.length !== width) throw new Error(`staged file ${url} line ${starts}: a staged CSV row has ${width} fields (${this.columns.length} columns, ${IDENTITY_WIDTH} identity), not ${record.length}`);
      yield { values: record, line: starts };
    }
  }
}

/** A staged value as COPY text: NULL for null, JSON text for objects and lists. */
function copyValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The object's bytes, gunzipped when they start with gzip's magic number (staged files are gzip unless written otherwise). */
async function* decompressed(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const chunks = body[Symbol.asyncIterator]();
  const first = await chunks.next();
  if (first.done) return;
  const all = async function* (): AsyncGenerator<Buffer> {
    yield first.value;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  };
  if (first.value[0] !== 0x1f || first.value[1] !== 0x8b) {
    yield* all();
    return;
  }
  // pipeline destroys gunzip with the source's error, so a failed read ends the iteration with it.
  yield* pipeline(all, createGunzip(), () => {}) as AsyncIterable<Buffer>;
}

/** Errors while reading or decompressing, named with the staged file and where reading stopped. */
async function* readError<T>(stream: AsyncIterable<T>, url: string, line: () => number): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (error) {
    if ((error as Error).message.startsWith(`staged file ${url}`)) throw error;
    throw new Error(`staged file ${url} line ${line()}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Where a failed COPY went wrong, in the staged files' terms: from PostgreSQL's error context
 * (`COPY ingest_staged, line 3, column amount: "abc"`) to `staged file s3://b/k line 2, column
 * amount: "abc"`. `undefined` when the context names no COPY line or the data cannot locate it.
 */
export function stagedErrorLocation(where: string | undefined, data: unknown): string | undefined {
  if (where === undefined || !(data instanceof StagedCopyData)) return undefined;
  const match = /^COPY [^,]+, line (\d+)(.*)$/m.exec(where);
  if (!match) return undefined;
  const found = data.locate(Number(match[1]));
  if (!found) return undefined;
  return `staged file ${found.file} line ${found.line}${match[2] ?? ''}`;
}
