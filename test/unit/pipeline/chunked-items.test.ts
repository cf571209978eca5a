import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../engine/handler.ts';
import type { ItemScope, Sink, SinkEntry } from '../../../engine/plugin/types.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { ItemReadError } from '../../../engine/pipeline/record.ts';
import type { Decoded, S3Meta } from '../../../engine/pipeline/record.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';

// A staged item's records arrive as chunks (docs/decisions/0060-chunked-object-reading.md): the
// pipeline routes a chunk's records in order and asks for the next chunk only once the sink
// writes it waited on have resolved, so back-pressure from sinks still reaches the reader.

const spec = resolveSpec({
  version: 1,
  name: 'orders',
  dead_letter: { bucket: 'errors' },
  sources: { files: { type: 's3', bucket: 'raw', format: 'jsonl' } },
  sinks: { out: { type: 's3', inputs: ['files'], bucket: 'out', key: 'a/' } },
});

function decoded(id: number): Decoded {
  const meta: S3Meta = { event: 's3', source: 'files', bucket: 'raw', key: 'in.jsonl', line: id, arrival_time: '2026-11-27T10:00:00.000Z', position: `raw/in.jsonl:${id}` };
  return { outcome: 'record', value: { id }, meta, raw: Buffer.from(`{"id":${id}}`) };
}

/** The chunks of one object, logging each pull; throws `failure` after the last chunk when given. */
async function* chunks(log: string[], ids: number[][], failure?: Error): AsyncGenerator<Decoded[]> {
  for (const [index, chunk] of ids.entries()) {
    log.push(`pull ${index + 1}`);
    yield chunk.map(decoded);
  }
  if (failure) throw failure;
}

/** A sink logging what it is given; the write of `slowId` stays in flight until `release` is called. */
function gatedSink(log: string[], slowId: number) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const sink: Sink = {
    open: () => ({
      add: ({ record, ticket }: SinkEntry) => {
        const id = (record as { id: number }).id;
        log.push(`add ${id}`);
        ticket.written();
        if (id === slowId) return gate.then(() => void log.push(`written ${id}`));
      },
      commit: (item: ItemScope) => void log.push(`commit ${item.index}`),
      abort: (item: ItemScope) => void log.push(`abort ${item.index}`),
      close: async () => {},
    }),
  };
  return { sink, release: () => release() };
}

function handlerWith(sink: Sink) {
  return createHandler(spec, { ports: { objects: new MemoryObjectStore() }, files: { exists: () => false, read: () => undefined }, write: () => {}, sinkOverride: () => sink });
}

/** Lets every pending promise chain run (no timing: only turns of the event loop). */
async function drain(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('staged items read in chunks', () => {
  it('routes records in order and asks for the next chunk only once the sink writes of the last one resolved', async () => {
    const log: string[] = [];
    const { sink, release } = gatedSink(log, 2);

    const running = handlerWith(sink).process([{ id: 'object', records: chunks(log, [[1, 2, 3], [4, 5]]), source: 'files' }]);
    await drain();

    // Record 2's write is in flight: neither record 3 nor the next chunk is taken.
    expect(log).toEqual(['pull 1', 'add 1', 'add 2']);
    release();
    const summary = await running;

    expect(log).toEqual(['pull 1', 'add 1', 'add 2', 'written 2', 'add 3', 'pull 2', 'add 4', 'add 5', 'commit 0']);
    expect(summary.counts).toEqual({ records_in: 5, written: 5, filtered: 0, dead_lettered: 0, failed: 0 });
  });

  it('skips empty chunks and commits once the chunks end', async () => {
    const log: string[] = [];
    const { sink } = gatedSink(log, -1);

    const summary = await handlerWith(sink).process([{ id: 'object', records: chunks(log, [[], [1], [], [2]]), source: 'files' }]);

    expect(log).toEqual(['pull 1', 'pull 2', 'add 1', 'pull 3', 'pull 4', 'add 2', 'commit 0']);
    expect(summary.counts.written).toBe(2);
  });

  it('aborts the item, discarding the records of the chunks routed before, when the chunks end in a read error', async () => {
    const log: string[] = [];
    const { sink } = gatedSink(log, -1);
    const failure = new ItemReadError('invalid-gzip', 'gzip data is corrupt', { ...(decoded(0).meta as S3Meta), line: 0 });

    const summary = await handlerWith(sink).process([{ id: 'object', records: chunks(log, [[1, 2], [3]], failure), source: 'files' }]);

    expect(log).toEqual(['pull 1', 'add 1', 'add 2', 'pull 2', 'add 3', 'abort 0']);
    expect(summary.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
  });
});
