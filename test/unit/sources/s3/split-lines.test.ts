import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../../engine/sources/s3/split-lines.ts';

/** The lines of `content` pushed in chunks of `size` bytes, as text. */
function linesOf(content: string, size: number, maxLineBytes: number) {
  const bytes = Buffer.from(content);
  const splitter = new LineSplitter(maxLineBytes);
  const lines = [];
  for (let start = 0; start < bytes.byteLength; start += size) lines.push(...splitter.push(bytes.subarray(start, start + size)));
  const last = splitter.end();
  if (last !== undefined) lines.push(last);
  return lines.map(({ number, bytes: line, length, oversized }) => ({ number, text: line.toString('utf8'), length, oversized }));
}

describe('LineSplitter', () => {
  const content = `first\r\n\nsecond line\n${'x'.repeat(40)}\r\nlast`;

  it('splits lines, without their CRLF or LF, bounding an oversized one to its first bytes', () => {
    expect(linesOf(content, 64 * 1024, 16)).toEqual([
      { number: 1, text: 'first', length: 5, oversized: false },
      { number: 2, text: '', length: 0, oversized: false },
      { number: 3, text: 'second line', length: 11, oversized: false },
      { number: 4, text: 'x'.repeat(16), length: 41, oversized: true },
      { number: 5, text: 'last', length: 4, oversized: false },
    ]);
  });

  it('gives the same lines however the content is cut into chunks', () => {
    const whole = linesOf(content, content.length, 16);

    for (let size = 1; size < content.length; size++) expect(linesOf(content, size, 16)).toEqual(whole);
  });

  it('counts no line after a final newline, and keeps the bounded start of the line in progress', () => {
    const splitter = new LineSplitter(4);

    expect(splitter.push(Buffer.from('ab\n')).map((line) => line.number)).toEqual([1]);
    expect(splitter.end()).toBeUndefined();
    splitter.push(Buffer.from('cdefgh'));
    expect(splitter.partial().toString()).toBe('cdef');
    expect(splitter.number).toBe(2);
  });

  it('copies each line, so a line does not share memory with its chunk', () => {
    const chunk = Buffer.from('abc\ndef\n');
    const [first] = new LineSplitter(100).push(chunk);

    chunk.fill(0);

    expect(first!.bytes.toString()).toBe('abc');
  });
});
