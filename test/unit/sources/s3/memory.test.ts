import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../../../engine/ports/object-store.ts';
import type { S3Source } from '../../../../engine/spec/spec-types.ts';
import { resolvedSource } from '../../../support/resolved-config.ts';
import { readObjectRecords } from '../../../../engine/sources/s3/read.ts';
import { objectRef } from './fixtures.ts';

const MIB = 1024 * 1024;

// Measuring after a full collection counts what the reader retains, not garbage awaiting collection.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function retainedHeap(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/**
 * A store whose one object is generated and gzipped while it is read, so the test holds no copy
 * of it: any growth of the heap is the reader's. The content is `line(0) line(1) ... end`,
 * stopping once `totalBytes` are produced.
 */
function generatedStore(totalBytes: number, line: (index: number) => string, end = ''): ObjectStore {
  return {
    async get() {
      const content = Readable.from((function* () {
        let produced = 0;
        let index = 0;
        while (produced < totalBytes) {
          // Blocks of lines: one stream chunk per line would make the test slow, not the reader.
          let block = '';
          for (let count = 0; count < 256 && produced + block.length < totalBytes; count += 1, index += 1) block += line(index);
          produced += block.length;
          yield Buffer.from(block);
        }
        if (end !== '') yield Buffer.from(end);
      })());
      return { body: content.pipe(createGzip({ level: 1 })) };
    },
    async put() {},
    stage: () => Promise.reject(new Error('reading never stages')),
  };
}

/** Reads the whole object lazily, sampling the retained heap as it goes. */
async function readMeasuringHeap(store: ObjectStore, config: Omit<S3Source, 'type'>): Promise<{ records: number; growth: number }> {
  const baseline = retainedHeap();
  let peak = baseline;
  let records = 0;
  for await (const chunk of readObjectRecords(store, objectRef('big'), 'big', resolvedSource({ type: 's3', ...config }))) {
    for (const item of chunk) {
      if (item.outcome !== 'record') throw new Error(`unexpected ${item.outcome}: ${JSON.stringify(item.meta)}`);
      records += 1;
      if (records % 10_000 === 0) peak = Math.max(peak, retainedHeap());
    }
  }
  if (process.env.INGEST_PRINT_HEAP) console.log(`${config.format}: ${records} records, heap grew ${((peak - baseline) / MIB).toFixed(1)} MiB`);
  return { records, growth: peak - baseline };
}

describe('reading large objects', () => {
  const padding = 'x'.repeat(200);

  it('streams a 24 MiB gzip jsonl object with a bounded heap', async () => {
    const store = generatedStore(24 * MIB, (index) => `{"id":${index},"padding":"${padding}"}\n`);

    const { records, growth } = await readMeasuringHeap(store, { bucket: 'raw', format: 'jsonl', compression: 'auto' });

    expect(records).toBeGreaterThan(100_000);
    // A reader holding the object, or the records it already yielded, would retain more than the object's size.
    expect(growth).toBeLessThan(4 * MIB);
  }, 60_000);

  it('streams an 8 MiB gzip JSON array element by element with a bounded heap', async () => {
    const store = generatedStore(8 * MIB, (index) => `${index === 0 ? '[' : ','}{"id":${index},"padding":"${padding}"}`, ']');

    const { records, growth } = await readMeasuringHeap(store, { bucket: 'raw', format: 'json', compression: 'auto' });

    expect(records).toBeGreaterThan(35_000);
    expect(growth).toBeLessThan(4 * MIB);
  }, 60_000);

  it('streams a 6 MiB gzip CSV object with a bounded heap', async () => {
    const store = generatedStore(6 * MIB, (index) => (index === 0 ? 'id,padding\n' : `${index},"${padding}"\n`));

    const { records, growth } = await readMeasuringHeap(store, { bucket: 'raw', format: 'csv', compression: 'auto', csv: { header: true } });

    expect(records).toBeGreaterThan(25_000);
    expect(growth).toBeLessThan(4 * MIB);
  }, 60_000);
});
