import { isAscii, isUtf8 } from 'node:buffer';
import { parse, type Parser } from 'csv-parse';
import type { Decoded } from '../../pipeline/record.ts';
import { ItemReadError } from '../../pipeline/record.ts';
import type { S3SourceConfig } from './config.ts';
import { ObjectReadError } from './object-bytes.ts';
import type { ObjectContext } from './object-context.ts';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const EMPTY = Buffer.alloc(0);
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Decodes a CSV object with csv-parse, one record at a time, into records whose values are
 * strings named by the header row, by `csv.columns`, or `field_1`, `field_2`... A record's
 * `line` is the line it starts on; `raw` is its exact bytes (without the line break).
 *
 * One bad record never takes its neighbours down:
 * - a record with a field count other than the columns' (or, without names, the first
 *   record's) → `invalid-csv`;
 * - malformed quoting → `invalid-csv` for the line the record starts on, alone; parsing
 *   resumes on the next line with a fresh parser. A quote out of place anywhere in a field
 *   (even one that opens a quoted field never closed, or closed rows later) thus costs one line,
 *   never the rows after it; a quoted field spanning lines is legal and stays one record;
 * - a record not valid UTF-8 → `invalid-utf8`;
 * - a record longer than `max_record_bytes` → `record-too-large` (with its first
 *   `max_record_bytes` bytes as raw), whether it ends before the bound is noticed or not;
 *   parsing resumes after its end, or, when it had to be dropped unfinished, after the next
 *   line break (inside a quoted field spanning lines, what follows then fails as `invalid-csv`).
 * The parser is fed in pieces cut by the content (see `contentDefinedPieces`), so every
 * outcome is the same however the object's bytes arrive.
 * A header row that names a column twice ends the object with one `invalid-csv` dead letter
 * (the second value would silently replace the first) unless `csv.columns` names the fields.
 * An {@link ObjectReadError} from `chunks` is thrown as an `ItemReadError`: the object is
 * dead-lettered whole and the rows read before are discarded (docs/decisions/0010-item-commit-point.md).
 * A header row that is malformed, too large or not valid UTF-8 ends the object too, with its
 * dead letter: no record after it could be named.
 */
export async function* decodeCsvObject(
  chunks: AsyncIterable<Uint8Array>,
  context: ObjectContext,
  csv: S3SourceConfig['csv'],
): AsyncGenerator<Decoded[]> {
  const decoder = new CsvDecoder(context, csv);
  try {
    for await (const chunk of contentDefinedPieces(withoutBom(chunks))) {
      yield await chunkOf(decoder.push(chunk, false));
      if (decoder.stopped) return;
    }
    yield await chunkOf(decoder.finish());
  } catch (error) {
    if (!(error instanceof ObjectReadError)) throw error;
    throw decoder.readFailed(error);
  } finally {
    decoder.close();
  }
}

/** The records of one piece, as one chunk of the object's records. */
async function chunkOf(records: AsyncIterable<Decoded>): Promise<Decoded[]> {
  const chunk: Decoded[] = [];
  for await (const record of records) chunk.push(record);
  return chunk;
}

interface Completed {
  fields: string[];
  /** Parser-relative offset just after the record's line break. */
  end: number;
}

class CsvDecoder {
  stopped = false;
  private parser: Parser | undefined;
  private completed: Completed[] = [];
  /** Bytes written to the current parser since the end of its last record. */
  private retained: Buffer = EMPTY;
  /** Parser-relative offset of `retained[0]`. */
  private retainedOffset = 0;
  /** Absolute 1-based line of `retained[0]`. */
  private line = 1;
  /** After a record too large or malformed: drop input up to the next line break. */
  private skippingLine = false;
  /** A malformed record whose dead letter waits for the rest of its line (raw bounded by max). */
  private pendingMalformed: { line: number; raw: Buffer; message: string } | undefined;
  private headerPending: boolean;
  private columns: string[] | undefined;
  private expectedFields: number | undefined;
  private readonly maxBytes: number;

  constructor(
    private readonly context: ObjectContext,
    private readonly csv: S3SourceConfig['csv'],
  ) {
    this.headerPending = csv?.header ?? true;
    this.columns = csv?.columns;
    this.maxBytes = context.maxRecordBytes;
  }

  /** Feeds bytes; `replaying` feeds single lines to find the one a parse error is on. */
  async *push(bytes: Buffer, replaying: boolean): AsyncGenerator<Decoded> {
    if (this.skippingLine) {
      const newline = bytes.indexOf(NEWLINE);
      this.extendPending(newline === -1 ? bytes : bytes.subarray(0, newline));
      if (newline === -1) return;
      this.skippingLine = false;
      this.line += 1;
      const pending = this.takePending();
      if (pending !== undefined) yield pending;
      bytes = bytes.subarray(newline + 1);
      if (bytes.byteLength === 0) return;
    }
    const parser = this.parser ?? this.startParser();
    this.retained = this.retained.byteLength === 0 ? bytes : Buffer.concat([this.retained, bytes]);
    const error = await new Promise<Error | undefined>((resolve) => parser.write(bytes, (failure) => resolve(failure ?? undefined)));
    yield* this.drain();
    if (this.stopped) return;
    if (error !== undefined) {
      if (!replaying) {
        yield* this.replay(this.retained);
        return;
      }
      const lines = this.headerPending ? undefined : splitFirstLine(this.retained);
      if (lines === undefined) {
        const malformed = this.malformed(error);
        if (malformed !== undefined) yield malformed;
        return;
      }
      yield this.blameFirstLine(lines.first, error);
      yield* this.replay(lines.rest);
      return;
    }
    if (this.retained.byteLength > this.maxBytes) yield this.tooLarge();
  }

  async *finish(): AsyncGenerator<Decoded> {
    for (;;) {
      const pending = this.takePending();
      if (pending !== undefined) yield pending;
      const parser = this.parser;
      if (parser === undefined || this.stopped) return;
      const error = await new Promise<Error | undefined>((resolve) => {
        parser.once('error', resolve);
        parser.end(() => resolve(undefined));
      });
      yield* this.drain();
      if (error === undefined || this.stopped) return;
      // A quote opened and never closed: the lines after the one it opened on may be good rows.
      const lines = this.headerPending ? undefined : splitFirstLine(this.retained);
      if (lines === undefined) {
        const malformed = this.malformed(error);
        yield malformed ?? this.takePending()!;
        return;
      }
      yield this.blameFirstLine(lines.first, error);
      yield* this.replay(lines.rest);
    }
  }

  /** The error that ends the object when reading it failed. */
  readFailed(error: ObjectReadError): ItemReadError {
    const { line, raw } = this.frame(this.retained.subarray(0, this.maxBytes));
    // The rows read so far cannot be trusted either: the pipeline discards the object's output (ADR 0010).
    return new ItemReadError(error.code, `${error.message}; stopped in the CSV record starting at line ${line}`, this.context.meta(0), raw, { cause: error });
  }

  close(): void {
    this.parser?.destroy();
    this.parser = undefined;
  }

  private startParser(): Parser {
    const quote = this.csv?.quote ?? '"';
    const parser = parse({
      delimiter: Buffer.from(this.csv?.delimiter ?? ','),
      quote: quote === '' ? false : Buffer.from(quote),
      escape: quote === '' ? false : Buffer.from(quote),
      // latin1 maps each byte to one character, so fields convert back to their exact bytes.
      encoding: 'latin1',
      // The BOM is removed before parsing: csv-parse would switch to UTF-8 decoding on seeing it.
      bom: false,
      relax_column_count: true,
      skip_empty_lines: true,
      on_record: (fields: string[], info) => {
        this.completed.push({ fields, end: info.bytes });
        return null;
      },
    });
    parser.on('error', () => {
      // Reported through the write and end callbacks.
    });
    parser.resume();
    this.parser = parser;
    this.retained = EMPTY;
    this.retainedOffset = 0;
    return parser;
  }

  private async *drain(): AsyncGenerator<Decoded> {
    let start = 0;
    const completed = this.completed;
    this.completed = [];
    for (const { fields, end } of completed) {
      const stop = end - this.retainedOffset;
      const slice = this.retained.subarray(start, stop);
      const { line, raw } = this.frame(slice);
      this.line += countNewlines(slice);
      start = stop;
      const decoded = raw.byteLength > this.maxBytes ? this.tooLargeRecord(line, raw) : this.toDecoded(fields, line, raw);
      if (decoded !== undefined) yield decoded;
      if (this.stopped) return;
    }
    this.retained = this.retained.subarray(start);
    this.retainedOffset += start;
  }

  /** Re-feeds `bytes` (those of a failing record and after) line by line through a fresh parser to find where it breaks. */
  private async *replay(bytes: Buffer): AsyncGenerator<Decoded> {
    this.parser?.destroy();
    this.parser = undefined;
    this.retained = EMPTY;
    let start = 0;
    while (start < bytes.byteLength && !this.stopped) {
      const newline = bytes.indexOf(NEWLINE, start);
      const end = newline === -1 ? bytes.byteLength : newline + 1;
      yield* this.push(bytes.subarray(start, end), true);
      start = end;
    }
  }

  /**
   * Dead-letters everything since the last good record, through the end of the line csv-parse
   * gave up on, and restarts on the next line. Returns `undefined` when the rest of that line
   * is still to be read: the dead letter is then pending until it is.
   */
  private malformed(error: Error): Decoded | undefined {
    const retained = this.retained;
    const { line, raw } = this.frame(retained.subarray(0, this.maxBytes));
    this.restartAfter(retained);
    const code = (error as { code?: unknown }).code;
    // csv-parse counts lines from where its parser started, which is not the object's line 1.
    const reason = error.message.replace(/ (?:at|on) line \d+/g, '');
    const what = this.headerPending ? 'CSV header row' : 'CSV record';
    const message = `${what} starting at line ${line} is malformed${typeof code === 'string' ? ` (${code})` : ''}: ${reason}`;
    // Without its header no record can be named: taking the next row as header would misname them all.
    if (this.headerPending) this.stopped = true;
    if (this.skippingLine && !this.stopped) {
      this.pendingMalformed = { line, raw, message };
      return undefined;
    }
    return this.context.deadLetter(line, raw, 'invalid-csv', message);
  }

  /**
   * Dead-letters the first line of a malformed record that spans lines, and restarts after it.
   * Which lines a bad quote was meant to hold cannot be known: a stray quote at the start or end
   * of a field opens a quoted field that swallows the following rows, so the record is taken to
   * be its first line alone and the lines after it are parsed again (a line that then fails is
   * dead-lettered in turn). A legal quoted field spanning lines never gets here: it parses.
   */
  private blameFirstLine(first: Buffer, error: Error): Decoded {
    const { line, raw } = this.frame(first);
    this.line += countNewlines(first);
    this.parser?.destroy();
    this.parser = undefined;
    this.retained = EMPTY;
    this.retainedOffset = 0;
    const code = (error as { code?: unknown }).code;
    const reason = error.message.replace(/ (?:at|on) line \d+/g, '');
    return this.context.deadLetter(
      line,
      raw.subarray(0, this.maxBytes),
      'invalid-csv',
      `CSV record starting at line ${line} is malformed${typeof code === 'string' ? ` (${code})` : ''}: ${reason}; only line ${line} is set aside, and reading resumes on the next line`,
    );
  }

  private extendPending(bytes: Buffer): void {
    const pending = this.pendingMalformed;
    if (pending === undefined || pending.raw.byteLength >= this.maxBytes) return;
    pending.raw = Buffer.concat([pending.raw, bytes.subarray(0, this.maxBytes - pending.raw.byteLength)]);
  }

  private takePending(): Decoded | undefined {
    const pending = this.pendingMalformed;
    if (pending === undefined) return undefined;
    this.pendingMalformed = undefined;
    const raw = pending.raw[pending.raw.byteLength - 1] === CARRIAGE_RETURN ? pending.raw.subarray(0, -1) : pending.raw;
    return this.context.deadLetter(pending.line, raw, 'invalid-csv', pending.message);
  }

  /** A record that grew past the bound before it ended: dropped, and reading resumes after the next line break. */
  private tooLarge(): Decoded {
    const retained = this.retained;
    const { line, raw } = this.frame(retained.subarray(0, this.maxBytes));
    this.restartAfter(retained);
    return this.tooLargeRecord(line, raw);
  }

  /** The dead letter of a record larger than the bound, whether it ended or not: the same either way. */
  private tooLargeRecord(line: number, raw: Buffer): Decoded {
    if (this.headerPending) this.stopped = true;
    return this.context.deadLetter(
      line,
      raw.subarray(0, this.maxBytes),
      'record-too-large',
      `CSV record starting at line ${line} is larger than max_record_bytes (${this.maxBytes}); raw holds its first bytes, and reading resumes after the next line break`,
    );
  }

  private restartAfter(dropped: Buffer): void {
    this.line += countNewlines(dropped);
    this.skippingLine = dropped.byteLength > 0 && dropped[dropped.byteLength - 1] !== NEWLINE;
    this.parser?.destroy();
    this.parser = undefined;
    this.retained = EMPTY;
    this.retainedOffset = 0;
  }

  /** The line a record starts on (after blank lines) and its bytes without the line break. */
  private frame(slice: Buffer): { line: number; raw: Buffer } {
    let line = this.line;
    let start = 0;
    for (;;) {
      if (slice[start] === NEWLINE) start += 1;
      else if (slice[start] === CARRIAGE_RETURN && slice[start + 1] === NEWLINE) start += 2;
      else break;
      line += 1;
    }
    let end = slice.byteLength;
    if (end > start && slice[end - 1] === NEWLINE) end -= 1;
    if (end > start && slice[end - 1] === CARRIAGE_RETURN) end -= 1;
    return { line, raw: Buffer.from(slice.subarray(start, end)) };
  }

  private toDecoded(latin1Fields: string[], line: number, raw: Buffer): Decoded | undefined {
    if (!isUtf8(raw)) {
      if (this.headerPending) {
        this.stopped = true;
        return this.context.deadLetter(line, raw, 'invalid-utf8', `the CSV header row (line ${line}) is not valid UTF-8, so no record of the object can be named`);
      }
      return this.context.deadLetter(line, raw, 'invalid-utf8', `CSV record at line ${line} is not valid UTF-8`);
    }
    const fields = isAscii(raw) ? latin1Fields : latin1Fields.map((field) => Buffer.from(field, 'latin1').toString('utf8'));
    if (this.headerPending) {
      this.headerPending = false;
      if (this.columns !== undefined) return undefined;
      const repeated = firstRepeated(fields);
      if (repeated !== undefined) {
        // One name for two columns would keep only the last value: no record of the object can be read right.
        this.stopped = true;
        return this.context.deadLetter(
          line,
          raw,
          'invalid-csv',
          `the CSV header row (line ${line}) names column ${JSON.stringify(repeated.name)} twice (fields ${repeated.first} and ${repeated.second}), so no record of the object is read; give csv.columns to name the columns`,
        );
      }
      this.columns = fields;
      return undefined;
    }
    const expected = this.columns?.length ?? (this.expectedFields ??= fields.length);
    if (fields.length !== expected) {
      const basis = this.columns === undefined ? 'as many as the first record' : `one per column: ${this.columns.join(', ')}`;
      return this.context.deadLetter(line, raw, 'invalid-csv', `CSV record at line ${line} has ${fields.length} fields; expected ${expected} (${basis})`);
    }
    const names = this.columns;
    const value = Object.fromEntries(fields.map((field, index) => [names?.[index] ?? `field_${index + 1}`, field]));
    return this.context.record(line, value, raw);
  }
}

/** A piece ends at the first line break after this many bytes... */
const PIECE_MIN_BYTES = 16 * 1024;
/** ...or, in a line longer than that, at this many bytes. */
const PIECE_MAX_BYTES = 64 * 1024;

/**
 * The same bytes, re-cut where the content says rather than where the network or gunzip did:
 * after the first line break once a piece holds `PIECE_MIN_BYTES`, or at `PIECE_MAX_BYTES`.
 * csv-parse sees the same writes whatever the chunks, so every outcome (a record too large, the
 * line a parse error is reported on) is a function of the object's bytes alone.
 */
async function* contentDefinedPieces(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  const take = (): Buffer => {
    const piece = parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
    parts = [];
    length = 0;
    return piece;
  };
  try {
    for await (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const window = chunk.subarray(offset, offset + PIECE_MAX_BYTES - length);
        const newline = window.indexOf(NEWLINE, Math.max(0, PIECE_MIN_BYTES - length - 1));
        const end = newline === -1 ? window.byteLength : newline + 1;
        parts.push(window.subarray(0, end));
        length += end;
        offset += end;
        if (newline !== -1 || length === PIECE_MAX_BYTES) yield take();
      }
    }
  } catch (error) {
    // What was read before the failure still reaches the decoder, for the dead letter's raw.
    if (length > 0) yield take();
    throw error;
  }
  if (length > 0) yield take();
}

/** The chunks without the UTF-8 byte-order mark the object may start with. */
async function* withoutBom(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const chunk of chunks) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (head === undefined) {
      yield bytes;
      continue;
    }
    head = Buffer.concat([head, bytes]);
    if (head.byteLength < 3 && BOM.subarray(0, head.byteLength).equals(head)) continue;
    yield BOM.equals(head.subarray(0, 3)) ? head.subarray(3) : head;
    head = undefined;
  }
  // An object too short to hold a BOM: its bytes are content (and, alone, not valid UTF-8).
  if (head !== undefined && head.byteLength > 0) yield head;
}

/** The first name that occurs twice, with the 1-based positions of both. */
function firstRepeated(names: string[]): { name: string; first: number; second: number } | undefined {
  const seen = new Map<string, number>();
  for (const [index, name] of names.entries()) {
    const first = seen.get(name);
    if (first !== undefined) return { name, first: first + 1, second: index + 1 };
    seen.set(name, index);
  }
  return undefined;
}

/**
 * The first line of `bytes` (after any blank lines, with its line break) and the rest, when
 * something other than a line break follows it; `undefined` for a single line.
 */
function splitFirstLine(bytes: Buffer): { first: Buffer; rest: Buffer } | undefined {
  let start = 0;
  for (;;) {
    if (bytes[start] === NEWLINE) start += 1;
    else if (bytes[start] === CARRIAGE_RETURN && bytes[start + 1] === NEWLINE) start += 2;
    else break;
  }
  const newline = bytes.indexOf(NEWLINE, start);
  if (newline === -1 || newline === bytes.byteLength - 1) return undefined;
  return { first: bytes.subarray(0, newline + 1), rest: bytes.subarray(newline + 1) };
}

function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let index = bytes.indexOf(NEWLINE); index !== -1; index = bytes.indexOf(NEWLINE, index + 1)) count += 1;
  return count;
}
