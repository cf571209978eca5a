/**
 * One line of an object, without its `\n` (nor the `\r` of a `\r\n`). An `oversized` line was
 * longer than the bound: `bytes` holds only its first `maxLineBytes` bytes and `length` its
 * full length.
 */
export interface Line {
  /** 1-based. */
  number: number;
  bytes: Buffer;
  length: number;
  oversized: boolean;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits a byte stream into lines as its chunks are pushed, holding at most `maxLineBytes` of
 * any line in memory however long it is. A final line without `\n` counts (`end`); the empty
 * remainder after a final `\n` does not. Every line's bytes are a copy, so a line never pins the
 * chunk it was cut from.
 */
export class LineSplitter {
  /** The 1-based number of the line in progress. */
  number = 1;
  /** What is kept of the line in progress (at most `maxLineBytes` in all), when it began in an earlier chunk. */
  private parts: Buffer[] = [];
  private kept = 0;
  /** Full length of the line in progress so far. */
  private length = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** The lines `chunk` ends, in order; the bytes after its last `\n` start the next line. */
  push(chunk: Uint8Array): Line[] {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: Line[] = [];
    let start = 0;
    for (let end = buffer.indexOf(NEWLINE, start); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
      // Most lines lie within one chunk: copied in one go, with nothing carried over.
      lines.push(this.length === 0 ? this.whole(buffer, start, end) : this.take(buffer.subarray(start, end)));
      start = end + 1;
    }
    if (start < buffer.byteLength) this.append(buffer.subarray(start));
    return lines;
  }

  /** The last line, when the content does not end with `\n`. */
  end(): Line | undefined {
    return this.length > 0 ? this.take(undefined) : undefined;
  }

  /** What was read of the line in progress (bounded by `maxLineBytes`), for content that stopped inside it. */
  partial(): Buffer {
    return Buffer.concat(this.parts, this.kept);
  }

  private whole(buffer: Buffer, start: number, end: number): Line {
    const length = end - start;
    if (length > this.maxLineBytes) return this.line(Buffer.from(buffer.subarray(start, start + this.maxLineBytes)), length, true);
    if (length > 0 && buffer[end - 1] === CARRIAGE_RETURN) end -= 1;
    return this.line(Buffer.from(buffer.subarray(start, end)), end - start, false);
  }

  private append(segment: Buffer): void {
    this.length += segment.byteLength;
    const room = this.maxLineBytes - this.kept;
    if (room <= 0) return;
    const piece = segment.byteLength <= room ? segment : segment.subarray(0, room);
    this.parts.push(piece);
    this.kept += piece.byteLength;
  }

  /** Ends the line in progress with `last`, its bytes up to the `\n`. */
  private take(last: Buffer | undefined): Line {
    if (last !== undefined) this.append(last);
    // concat copies, so a line never pins the chunks it was cut from.
    let bytes = Buffer.concat(this.parts, this.kept);
    const oversized = this.length > this.maxLineBytes;
    if (!oversized && bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, bytes.byteLength - 1);
    const line = this.line(bytes, oversized ? this.length : bytes.byteLength, oversized);
    this.parts = [];
    this.kept = 0;
    this.length = 0;
    return line;
  }

  private line(bytes: Buffer, length: number, oversized: boolean): Line {
    return { number: this.number++, bytes, length, oversized };
  }
}
