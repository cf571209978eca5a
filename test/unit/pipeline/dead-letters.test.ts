import { describe, expect, it } from 'vitest';
import { StoreDeadLetterWriter, serializeDeadLetter } from '../../../engine/pipeline/dead-letters.ts';
import type { DeadLetter } from '../../../engine/pipeline/dead-letters.ts';
import type { KinesisMeta } from '../../../engine/pipeline/record.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { compileTemplate } from '../../../engine/template/index.ts';

const NOW = new Date('2026-11-27T10:00:00Z');

function letter(index: number, raw: Uint8Array = Buffer.from(`{bad ${index}`)): DeadLetter {
  const meta: KinesisMeta = { event: 'kinesis', source: 'orders', stream: 's', shard: 'shardId-0', sequence: String(index), partition_key: 'k', arrival_time: NOW.toISOString(), position: `shardId-0/${index}` };
  return { stage: 'decode', code: 'invalid-json', message: 'Unexpected token', component: 'orders', source: 'orders', position: meta.position, meta, raw };
}

function tickets() {
  const settled = { written: 0, failed: 0 };
  return { settled, ticket: () => ({ written: () => void settled.written++, failed: () => void settled.failed++ }) };
}

describe('StoreDeadLetterWriter', () => {
  it('writes full objects as it goes and the rest on close, settling every ticket', async () => {
    const store = new MemoryObjectStore();
    const writer = new StoreDeadLetterWriter(store, 'errors', compileTemplate('dl/{{stage}}/'), NOW);
    const { settled, ticket } = tickets();

    for (let index = 0; index < 1001; index++) void writer.add(letter(index), ticket());
    await writer.close();

    expect(settled).toEqual({ written: 1001, failed: 0 });
    expect([...store.objects.keys()].map((key) => key.replace(/-[0-9a-f]{20}-/, '-<digest>-')).sort()).toEqual(['errors/dl/decode/orders-<digest>-1.jsonl', 'errors/dl/decode/orders-<digest>-1000.jsonl']);
  });

  it('fails every ticket of an object it cannot write, as retryable', async () => {
    const store = Object.assign(new MemoryObjectStore(), { put: () => Promise.reject(new Error('AccessDenied')) });
    const writer = new StoreDeadLetterWriter(store, 'errors', compileTemplate('dl/'), NOW);
    const failures: unknown[] = [];

    await writer.add(letter(1), { written: () => {}, failed: (failure) => void failures.push(failure) });
    await writer.close();

    expect(failures).toEqual([expect.objectContaining({ code: 'sink-error', retryable: true, message: expect.stringContaining('AccessDenied') })]);
  });

  it('keeps raw bytes that are not UTF-8 as base64', () => {
    const line = JSON.parse(serializeDeadLetter(letter(1, Uint8Array.from([0xf3, 0x89, 0x9a, 0xc2])), NOW)) as Record<string, unknown>;

    expect(line).toMatchObject({ raw_encoding: 'base64', raw: '84mawg==', time: NOW.toISOString(), position: 'shardId-0/1' });
  });
});
