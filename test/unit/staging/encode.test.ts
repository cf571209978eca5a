import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GzipObjectBody, ObjectBody, compressBody, encodeJsonLine, jsonLinesFormat, objectPutOptions, objectSuffix } from '../../../engine/staging/encode.ts';

describe('encodeJsonLine', () => {
  it('encodes a value as one JSON line', () => {
    expect(encodeJsonLine({ a: 'x\ny', b: [1] })).toBe('{"a":"x\\ny","b":[1]}\n');
  });

  it('throws for a value that has no JSON text', () => {
    expect(() => encodeJsonLine(undefined)).toThrow(TypeError);
  });
});

describe('ObjectBody', () => {
  it('keeps every appended byte in order across slabs', () => {
    const body = new ObjectBody();
    const lines = Array.from({ length: 2000 }, (_, index) => `line ${index} ✓ ${'x'.repeat(index % 50)}\n`);

    for (const line of lines) body.append(line);

    expect(body.toBuffer().toString('utf8')).toBe(lines.join(''));
    expect(body.byteLength).toBe(Buffer.byteLength(lines.join('')));
  });

  it('holds a single text larger than the largest slab', () => {
    const body = new ObjectBody();
    const text = 'y'.repeat(3 * 1024 * 1024);

    body.append('a');
    body.append(text);

    expect(body.toBuffer().toString('utf8')).toBe('a' + text);
  });

  it('returns the UTF-8 length of each text it appends', () => {
    const body = new ObjectBody();

    const lengths = ['abc\n', 'é✓\n', '😀\n'].map((text) => body.append(text));

    expect(lengths).toEqual([4, 6, 5]);
    expect(body.byteLength).toBe(15);
  });

  it('is empty until something is appended', () => {
    expect(new ObjectBody().toBuffer().byteLength).toBe(0);
  });

  it('encodes deferred texts in order with appended ones, and measures them exactly', () => {
    const body = new ObjectBody();
    const texts = ['abc\n', 'é✓\n', '😀\n', 'plain\n'];

    body.defer(texts[0]!);
    body.defer(texts[1]!);
    body.append(texts[2]!);
    body.defer(texts[3]!);

    const exact = Buffer.byteLength(texts.join(''));
    expect(body.minByteLength).toBeLessThanOrEqual(exact);
    expect(body.maxByteLength).toBeGreaterThanOrEqual(exact);
    expect(body.byteLength).toBe(exact);
    expect(body.minByteLength).toBe(exact);
    expect(body.toBuffer().toString('utf8')).toBe(texts.join(''));
  });

  it('encodes deferred text in pieces of at most 64 Ki UTF-16 units', () => {
    const body = new ObjectBody();
    const lines = Array.from({ length: 3000 }, (_, index) => `{"n":${index},"text":"${'ü'.repeat(index % 90)}"}\n`);

    let mostDeferred = 0;
    for (const line of lines) {
      body.defer(line);
      // Deferred units are what the two bounds disagree on: two bytes each.
      mostDeferred = Math.max(mostDeferred, (body.maxByteLength - body.minByteLength) / 2);
    }

    expect(mostDeferred).toBeLessThan(64 * 1024);
    expect(body.byteLength).toBe(Buffer.byteLength(lines.join('')));
    expect(body.toBuffer().toString('utf8')).toBe(lines.join(''));
  });

  it('drops deferred text it discards', () => {
    const body = new ObjectBody();
    body.defer('gone\n');

    body.discard();

    expect(body.byteLength).toBe(0);
  });
});

describe('object content', () => {
  it('gzips a body that gunzips to the same bytes', async () => {
    const body = Buffer.from('{"a":1}\n'.repeat(1000));

    const compressed = await compressBody(body, 'gzip');

    expect(gunzipSync(compressed).equals(body)).toBe(true);
  });

  it('names and labels JSON lines by compression', () => {
    expect(objectSuffix(jsonLinesFormat, 'gzip')).toBe('.jsonl.gz');
    expect(objectSuffix(jsonLinesFormat, 'none')).toBe('.jsonl');
    expect(objectPutOptions(jsonLinesFormat, 'none')).toEqual({ contentType: 'application/x-ndjson' });
  });
});

describe('GzipObjectBody', () => {
  const lines = Array.from({ length: 40_000 }, (_, index) => `{"line":${index},"text":"${'é✓x'.repeat(index % 40)}"}\n`);

  it('compresses a body of many slabs as it grows into the gzip data a one-call compression gives', async () => {
    const body = new GzipObjectBody();
    for (const line of lines) body.append(line);

    const stored = await body.finish();

    expect(body.byteLength).toBe(Buffer.byteLength(lines.join('')));
    expect(gunzipSync(stored).toString('utf8')).toBe(lines.join(''));
    expect(stored.equals(await compressBody(Buffer.from(lines.join('')), 'gzip'))).toBe(true);
  });

  it('compresses deferred text as it grows into the same gzip data', async () => {
    const body = new GzipObjectBody();
    for (const line of lines) body.defer(line);

    const stored = await body.finish();

    expect(stored.equals(await compressBody(Buffer.from(lines.join('')), 'gzip'))).toBe(true);
  });

  it('compresses a body smaller than one slab, and an empty one', async () => {
    const small = new GzipObjectBody();
    small.append('{"a":1}\n');

    expect(gunzipSync(await small.finish()).toString('utf8')).toBe('{"a":1}\n');
    expect(gunzipSync(await new GzipObjectBody().finish()).byteLength).toBe(0);
  });
});
