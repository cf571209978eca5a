import { ObjectReadError } from './object-bytes.ts';

/**
 * One line of an object, without its `\n` (nor the `\r` of a `\r\n`). An `oversized` line was
 * longer than the bound: `bytes` holds only its first `maxLineBytes` bytes and `length` its
 * full length.
 */
export interface Line {
  kind: 'line';
  /** 1-based. */
  number: number;
  bytes: Buffer;
  length: number;
  oversized: boolean;
}

/** Reading stopped inside line `number`; `partial` holds what was read of it (bounded). */
export interface LinesStopped {
  kind: 'stopped';
  number: number;
  partial: Buffer;
  error: ObjectReadError;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits a byte stream into lines, holding at most `maxLineBytes` of any line in memory however
 * long it is. A final line without `\n` counts; the empty remainder after a final `\n` does not.
 * When the stream throws an {@link ObjectReadError}, the last item is `stopped` (the line in
 * progress is not yielded as a line); any other error propagates.
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>, maxLineBytes: number): AsyncGenerator<Line | LinesStopped> {
  let parts: Buffer[] = [];
  let kept = 0;
  let length = 0;
  let number = 1;

  const append = (segment: Buffer) => {
    length += segment.byteLength;
    const room = maxLineBytes - kept;
    if (room <= 0) return;
    const piece = segment.byteLength <= room ? segment : segment.subarray(0, room);
    parts.push(piece);
    kept += piece.byteLength;
  };
  const take = (): Line => {
    // concat copies, so a line never pins the whole chunk it was cut from.
    let bytes = Buffer.concat(parts, kept);
    const oversized = length > maxLineBytes;
    if (!oversized && bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, bytes.byteLength - 1);
    const line: Line = { kind: 'line', number, bytes, length: oversized ? length : bytes.byteLength, oversized };
    parts = [];
    kept = 0;
    length = 0;
    number += 1;
    return line;
  };

  try {
    for await (const chunk of chunks) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let start = 0;
      for (let end = buffer.indexOf(NEWLINE, start); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
        append(buffer.subarray(start, end));
        yield take();
        start = end + 1;
      }
      if (start < buffer.byteLength) append(buffer.subarray(start));
    }
  } catch (error) {
    if (!(error instanceof ObjectReadError)) throw error;
    yield { kind: 'stopped', number, partial: Buffer.concat(parts, kept), error };
    return;
  }
  if (length > 0) yield take();
}
