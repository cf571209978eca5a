import { describe, expect, it } from 'vitest';
import { streamJsonElements, type JsonElement } from '../../../../engine/sources/s3/stream-json-elements.ts';

/**
 * Malformed JSON documents, written with two markers that are removed before reading:
 * `«` where the element the error is in starts, `⟂` where the error is. The expected values are
 * the elements that end before the error.
 */
const cases: Array<{ name: string; doc: string; values: unknown[]; index: number }> = [
  { name: 'an error in element 0', doc: '[«{"a":1,⟂,},{"b":2}]', values: [], index: 0 },
  { name: 'an error in element 1', doc: '[{"a":1},«{"b":2,⟂,},{"c":3}]', values: [{ a: 1 }], index: 1 },
  { name: 'an error in the last element', doc: '[{"a":1}, {"b":2},\n «{"c":3 ⟂"d":4}]', values: [{ a: 1 }, { b: 2 }], index: 2 },
  { name: 'an error inside a nested value', doc: '[{"a":1},«{"b":{"c":[1,2,⟂,3]}},{"d":4}]', values: [{ a: 1 }], index: 1 },
  { name: 'an unterminated document', doc: '[{"a":1}, «{"b":[2, {"c":"x"}⟂', values: [{ a: 1 }], index: 1 },
  { name: 'a bad literal the parser sees only later', doc: '[{"a":1},«{"b":⟂tru, "c":"0123456789abcdefghij"}]', values: [{ a: 1 }], index: 1 },
  { name: 'a bad escape in a string', doc: '[{"a":1},«{"b":"x⟂\\qy"}]', values: [{ a: 1 }], index: 1 },
  { name: 'scalars and a literal element', doc: '[1, "two", true, {"a":1}, «⟂nul ]', values: [1, 'two', true, { a: 1 }], index: 4 },
  { name: 'multi-byte characters before the error', doc: '[{"é":"✓ 😀"},«{"b":⟂,}]', values: [{ é: '✓ 😀' }], index: 1 },
  { name: 'brackets inside strings after an element', doc: '[{"s":"}]"},{"t":"\\u007d]"},«{"b":⟂,}]', values: [{ s: '}]' }, { t: '}]' }], index: 2 },
  { name: 'a malformed top-level object', doc: '«{"a":1,⟂}', values: [], index: 0 },
  { name: 'characters after the top-level array', doc: '[{"a":1}] «⟂x', values: [{ a: 1 }], index: 1 },
  {
    name: 'an error far into a document of many windows',
    doc: `[${Array.from({ length: 12 }, (_, id) => JSON.stringify({ id, pad: 'p'.repeat(300 + id) })).join(',\n')},\n«{"id":12, "pad":"${'q'.repeat(700)}" ⟂"x":1}, {"id":13}]`,
    values: Array.from({ length: 12 }, (_, id) => ({ id, pad: 'p'.repeat(300 + id) })),
    index: 12,
  },
  {
    name: 'an error after elements whose windows never end at a top-level bracket',
    doc: `[${Array.from({ length: 8 }, (_, id) => `{"id":${id},"n":{"k":[1]},"pad":"${'r'.repeat(200)}"}`).join(',')},«{"id":8,"n":{"k":[1⟂}}}]`,
    values: Array.from({ length: 8 }, (_, id) => ({ id, n: { k: [1] }, pad: 'r'.repeat(200) })),
    index: 8,
  },
];

const chunkSizes = [1, 2, 3, 7, 64, 1000, 1023, 1024, 1025, 4096, 1 << 20];

function documentOf(doc: string): { bytes: Buffer; errorOffset: number; elementStart: number } {
  const errorOffset = Buffer.byteLength(doc.slice(0, doc.indexOf('⟂')).replace('«', ''));
  const elementStart = Buffer.byteLength(doc.slice(0, doc.indexOf('«')).replace('⟂', ''));
  return { bytes: Buffer.from(doc.replace('«', '').replace('⟂', '')), errorOffset, elementStart };
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

async function elementsOf(bytes: Uint8Array, chunkSize: number, maxElementBytes = 64 * 1024): Promise<JsonElement[]> {
  const out: JsonElement[] = [];
  for await (const element of streamJsonElements(chunked(bytes, chunkSize), maxElementBytes)) out.push(element);
  return out;
}

describe('malformed JSON documents', () => {
  describe.each(cases)('$name', ({ doc, values, index }) => {
    const { bytes, errorOffset, elementStart } = documentOf(doc);

    it.each(chunkSizes)('yields the elements before the error and one stop at the error, in chunks of %i bytes', async (chunkSize) => {
      const elements = await elementsOf(bytes, chunkSize);

      const stopped = elements.at(-1);
      expect(elements.slice(0, -1)).toEqual(values.map((value, i) => ({ kind: 'value', index: i, value })));
      expect(stopped).toMatchObject({ kind: 'stopped', code: 'invalid-json', index, offset: errorOffset, truncated: false });
      expect(stopped?.kind === 'stopped' && stopped.message).toContain(`in element ${index}, at byte ${errorOffset} of the document`);
      expect(stopped?.kind === 'stopped' && Buffer.from(stopped.raw).equals(bytes.subarray(elementStart))).toBe(true);
    });
  });

  it.each([3, 1024, 64 * 1024])('keeps its place after every top-level element, so an error is exact far beyond max_record_bytes, in chunks of %i bytes', async (chunkSize) => {
    // Each element opens with a nested object, so few windows end on a top-level bracket.
    const elements = Array.from({ length: 300 }, (_, id) => ({ meta: { k: [id] }, id, pad: 'y'.repeat(1000) }));
    const doc = `[${elements.map((element) => JSON.stringify(element)).join(',')},{"id":300,,}]`;

    const found = await elementsOf(Buffer.from(doc), chunkSize, 2048);

    expect(found.slice(0, -1)).toEqual(elements.map((value, index) => ({ kind: 'value', index, value })));
    expect(found.at(-1)).toMatchObject({ kind: 'stopped', index: 300, offset: doc.indexOf(',,') + 1 });
  });

  it('places an error only to within its window when no anchor was kept, and still stops once', async () => {
    // Elements that are not objects or arrays leave no anchor; 20 KiB of them outgrow what is kept.
    const doc = `[${Array.from({ length: 4000 }, (_, n) => n).join(',')},,]`;

    const found = await elementsOf(Buffer.from(doc), 1000, 1024);

    const stopped = found.at(-1);
    expect(found.filter((element) => element.kind === 'stopped')).toHaveLength(1);
    expect(stopped).toMatchObject({ kind: 'stopped', code: 'invalid-json', raw: new Uint8Array(0) });
    expect(stopped?.kind === 'stopped' && stopped.message).toMatch(/after byte \d+ of the document$/);
  });

  it('bounds the raw by max_record_bytes and says so', async () => {
    const doc = `[{"a":1}, {"b":"${'z'.repeat(500)}",,}]`;

    const elements = await elementsOf(Buffer.from(doc), 16, 100);

    const stopped = elements.at(-1);
    expect(stopped).toMatchObject({ kind: 'stopped', index: 1, truncated: true });
    expect(stopped?.kind === 'stopped' && Buffer.from(stopped.raw).toString()).toBe(doc.slice(doc.indexOf('{"b"'), doc.indexOf('{"b"') + 100));
    expect(stopped?.kind === 'stopped' && stopped.message).toContain('raw holds the first 100 bytes');
  });

  it('counts a byte-order mark in the error offset', async () => {
    const doc = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[{"a":1},{"b":,}]')]);

    const elements = await elementsOf(doc, 2);

    expect(elements).toEqual([{ kind: 'value', index: 0, value: { a: 1 } }, expect.objectContaining({ kind: 'stopped', index: 1, offset: 3 + 14 })]);
  });

  it.each(chunkSizes)('stops at invalid UTF-8 after the elements before it, in chunks of %i bytes', async (chunkSize) => {
    const body = Buffer.concat([Buffer.from(`[{"id": 1}, {"s": "é${'p'.repeat(1500)}`), Buffer.from([0xff]), Buffer.from('"}]')]);

    const elements = await elementsOf(body, chunkSize);

    expect(elements).toEqual([{ kind: 'value', index: 0, value: { id: 1 } }, expect.objectContaining({ kind: 'stopped', code: 'invalid-utf8', index: 1 })]);
  });

  describe('a stray character after any structural character of a generated document', () => {
    // Strings hold no `{[,:`, so every such character is structural and a `#` after it is an error there.
    const random = seeded(20261203);
    const word = (): string => Array.from({ length: 1 + Math.floor(random() * 12) }, () => 'abcxyz09 é✓}]'[Math.floor(random() * 14)]).join('');
    const value = (depth: number): unknown => {
      const pick = random();
      if (depth > 2 || pick < 0.35) return [1, -2.5, true, null, word()][Math.floor(random() * 5)];
      if (pick < 0.55) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [word(), value(depth + 1)]));
    };
    const documents = Array.from({ length: 40 }, () => {
      const elements = Array.from({ length: 1 + Math.floor(random() * 30) }, () => ({ id: word(), v: value(0) }));
      const texts = elements.map((element) => JSON.stringify(element, null, random() < 0.5 ? 0 : 2));
      const starts: number[] = [];
      let doc = '[';
      for (const [i, text] of texts.entries()) {
        if (i > 0) doc += random() < 0.5 ? ',' : ',\n ';
        starts.push(doc.length);
        doc += text;
      }
      doc += ']';
      const structural = [...doc.matchAll(/[{[,:]/g)].map((match) => match.index + 1);
      const at = structural[Math.floor(random() * structural.length)]!;
      return { elements, texts, starts, doc: `${doc.slice(0, at)}#${doc.slice(at)}`, at };
    });

    it.each(documents.map((document, n) => ({ n, ...document })))('document $n: the same elements and stop, whatever the chunks', async ({ elements, texts, starts, doc, at }) => {
      const bytes = Buffer.from(doc);
      const index = starts.filter((start, i) => start + texts[i]!.length <= at).length;
      const rawStart = Math.min(at, starts[index] ?? at);

      for (const chunkSize of [1, 7, 1024, 1 << 16]) {
        const found = await elementsOf(bytes, chunkSize, 1024);

        expect(found.slice(0, -1)).toEqual(elements.slice(0, index).map((value, i) => ({ kind: 'value', index: i, value })));
        expect(found.at(-1)).toMatchObject({ kind: 'stopped', code: 'invalid-json', index, offset: Buffer.byteLength(doc.slice(0, at)) });
        const stopped = found.at(-1);
        expect(stopped?.kind === 'stopped' && Buffer.from(stopped.raw).toString()).toBe(Buffer.from(doc.slice(rawStart)).subarray(0, 1024).toString());
      }
    });
  });
});

/** A small seeded generator (mulberry32), so the generated cases are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
