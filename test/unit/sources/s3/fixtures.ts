import { readFileSync } from 'node:fs';
import type { BatchItem } from '../../../../engine/pipeline/pipeline.ts';
import type { Decoded } from '../../../../engine/pipeline/record.ts';
import type { S3ObjectRef } from '../../../../engine/sources/s3/event.ts';

/** A captured event from test/fixtures/events (see its README for origins). */
export function loadEvent(name: string): any {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8'));
}

/** An object reference as an event would announce it. */
export function objectRef(key: string, overrides: Partial<S3ObjectRef> = {}): S3ObjectRef {
  return { bucket: 'raw', key, eventTime: '2026-11-27T10:00:00.000Z', ...overrides };
}

/** The records of an object's chunks, in order. */
export async function collect(chunks: AsyncIterable<readonly Decoded[]>): Promise<Decoded[]> {
  const out: Decoded[] = [];
  for await (const chunk of chunks) out.push(...chunk);
  return out;
}

/** Each record of a batch item: its array (a stream item), or its chunks as they are read (an object). */
export async function* eachRecord(records: BatchItem['records']): AsyncGenerator<Decoded> {
  if (Symbol.asyncIterator in records) {
    for await (const chunk of records) yield* chunk;
    return;
  }
  yield* records;
}

/** A compact view of outcomes: values of records, codes of dead letters, each with its line. */
export function summary(items: Decoded[]): Array<{ line: number; value?: unknown; code?: string }> {
  return items.map((item) => {
    const line = item.meta.event === 's3' ? item.meta.line : -1;
    if (item.outcome === 'record') return { line, value: item.value };
    if (item.outcome === 'dead_letter') return { line, code: item.code };
    return { line, code: `filtered: ${item.reason}` };
  });
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}
