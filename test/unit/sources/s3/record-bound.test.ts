import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MemoryObjectStore } from '../../../../engine/ports/memory-object-store.ts';
import type { GetOptions, StoredObject } from '../../../../engine/ports/object-store.ts';
import type { Decoded } from '../../../../engine/pipeline/record.ts';
import type { S3SourceConfig } from '../../../../engine/sources/s3/config.ts';
import { readObjectRecords } from '../../../../engine/sources/s3/read.ts';
import { collect, objectRef } from './fixtures.ts';

// `max_record_bytes` holds for every format whatever the sizes of the chunks the network (or
// gunzip) hands the reader: every record above the bound is dead-lettered `record-too-large`,
// every other one read, and the outcomes are identical for any chunking.

const LIMIT = 1024;
const BIG = 5000;
const RECORDS = 30;

/** mulberry32: a small seeded generator, so a failing chunking can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A memory store whose bodies arrive in chunks of random sizes (1 byte to 8 KiB), as the seed says. */
class RandomChunkStore extends MemoryObjectStore {
  constructor(private readonly seed: number) {
    super();
  }

  override async get(bucket: string, key: string, options?: GetOptions): Promise<StoredObject | undefined> {
    const object = this.object(bucket, key);
    if (object === undefined) return super.get(bucket, key, options);
    const next = random(this.seed);
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < object.body.byteLength;) {
      // Mostly small chunks, sometimes large ones: both sides of every record boundary get hit.
      const size = next() < 0.5 ? 1 + Math.floor(next() * 64) : 1 + Math.floor(next() * 8192);
      chunks.push(Buffer.from(object.body.subarray(offset, offset + size)));
      offset += size;
    }
    return { body: Readable.from(chunks), size: object.body.byteLength, etag: `"${object.etag}"` };
  }
}

const padding = (length: number) => 'x'.repeat(length);

/**
 * Objects of each format: small records and, every third one, a record of `BIG` bytes. The last
 * says whether the remainder of a record dropped mid-way can surface as `invalid-csv` dead letters:
 * reading resumes after the next line break, which in a quoted field spanning lines is inside the
 * record (docs/decisions/0009-s3-event-keys-and-object-reading.md).
 */
const objects: [string, S3SourceConfig['format'], string, boolean][] = [
  ['jsonl', 'jsonl', Array.from({ length: RECORDS }, (_, index) => JSON.stringify({ index, pad: padding(index % 3 === 0 ? BIG : 10) })).join('\n') + '\n', false],
  ['text', 'text', Array.from({ length: RECORDS }, (_, index) => `${index} ${padding(index % 3 === 0 ? BIG : 10)}`).join('\n') + '\n', false],
  ['json', 'json', JSON.stringify(Array.from({ length: RECORDS }, (_, index) => ({ index, pad: padding(index % 3 === 0 ? BIG : 10) }))), false],
  ['csv', 'csv', 'index,pad\n' + Array.from({ length: RECORDS }, (_, index) => `${index},${padding(index % 3 === 0 ? BIG : 10)}`).join('\n') + '\n', false],
  // Oversized rows whose quoted field spans lines, and small ones that do too.
  ['csv with quoted fields spanning lines', 'csv', 'index,pad\r\n' + Array.from({ length: RECORDS }, (_, index) => `${index},"${padding(index % 3 === 0 ? BIG / 2 : 5)}\n${padding(index % 3 === 0 ? BIG / 2 : 5)}"`).join('\r\n') + '\r\n', true],
];

function config(format: S3SourceConfig['format'], compression: S3SourceConfig['compression']): S3SourceConfig {
  return {
    bucket: 'raw',
    prefix: '',
    suffix: '',
    format,
    compression,
    csv: { header: true, delimiter: ',', quote: '"' },
    max_record_bytes: LIMIT,
    max_depth: 256,
  } as S3SourceConfig;
}

/** Everything an outcome says, raw bytes included, in a form `toEqual` compares. */
function outcomes(items: Decoded[]) {
  return items.map((item) => ({
    outcome: item.outcome,
    line: item.meta.event === 's3' ? item.meta.line : -1,
    code: item.outcome === 'dead_letter' ? item.code : undefined,
    message: item.outcome === 'dead_letter' ? item.message : undefined,
    value: item.outcome === 'record' ? item.value : undefined,
    raw: Buffer.from(item.raw).toString('base64'),
  }));
}

async function readWith(seed: number, format: S3SourceConfig['format'], body: string, compression: S3SourceConfig['compression']) {
  const store = new RandomChunkStore(seed);
  store.set('raw', 'in/object', compression === 'gzip' ? gzipSync(body) : body);
  return outcomes(await collect(readObjectRecords(store, objectRef('in/object'), 'bounded', config(format, compression))));
}

const SEEDS = Array.from({ length: 12 }, (_, index) => 1000 + index * 7919);

describe.each(['none', 'gzip'] as const)('max_record_bytes with %s compression', (compression) => {
  describe.each(objects)('in a %s object', (_name, format, body, remainders) => {
    it('dead-letters every record above the bound and reads every other one', async () => {
      const items = await readWith(SEEDS[0]!, format, body, compression);

      const tooLarge = items.filter((item) => item.code === 'record-too-large');
      const others = items.filter((item) => item.outcome !== 'record' && item.code !== 'record-too-large');
      expect(tooLarge).toHaveLength(RECORDS / 3);
      expect(items.filter((item) => item.outcome === 'record')).toHaveLength(RECORDS - RECORDS / 3);
      if (remainders) expect(others.map((item) => item.code)).toEqual(others.map(() => 'invalid-csv'));
      else expect(others).toEqual([]);
      for (const item of tooLarge) expect(Buffer.from(item.raw, 'base64').byteLength).toBeLessThanOrEqual(LIMIT);
    });

    it.each(SEEDS.slice(1))('gives identical outcomes for the chunking of seed %i', async (seed) => {
      const reference = await readWith(SEEDS[0]!, format, body, compression);

      const items = await readWith(seed, format, body, compression);

      expect(items).toEqual(reference);
    });
  });
});
