import { describe, expect, it } from 'vitest';
import { StoreDeadLetterWriter, serializeDeadLetter } from '../../../engine/pipeline/dead-letters.ts';
import type { DeadLetter } from '../../../engine/pipeline/dead-letters.ts';
import type { KinesisMeta } from '../../../engine/pipeline/record.ts';
import type { ItemScope } from '../../../engine/plugin/types.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { compileTemplate } from '../../../engine/template/index.ts';

const NOW = new Date('2026-11-27T10:00:00Z');
/** An item decoded whole before delivery (a Kinesis record): its letters are published as they come. */
const STREAM_ITEM: ItemScope = { index: 0, staged: false };

/** A record nested `levels` deep, built in memory: deeper than `JSON.stringify` can follow. */
function nested(levels: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let level = 0; level < levels; level++) value = { x: [value] };
  return value as Record<string, unknown>;
}

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

    for (let index = 0; index < 1001; index++) void writer.add(letter(index), ticket(), STREAM_ITEM);
    await writer.close();

    expect(settled).toEqual({ written: 1001, failed: 0 });
    expect([...store.objects.keys()].map((key) => key.replace(/-[0-9a-f]{20}-/, '-<digest>-')).sort()).toEqual(['errors/dl/decode/orders-<digest>-1.jsonl', 'errors/dl/decode/orders-<digest>-1000.jsonl']);
  });

  it('fails every ticket of an object it cannot write, as retryable', async () => {
    const store = Object.assign(new MemoryObjectStore(), { put: () => Promise.reject(new Error('AccessDenied')) });
    const writer = new StoreDeadLetterWriter(store, 'errors', compileTemplate('dl/'), NOW);
    const failures: unknown[] = [];

    await writer.add(letter(1), { written: () => {}, failed: (failure) => void failures.push(failure) }, STREAM_ITEM);
    await writer.close();

    expect(failures).toEqual([expect.objectContaining({ code: 'sink-error', retryable: true, message: expect.stringContaining('AccessDenied') })]);
  });

  it('publishes the letters of a staged item only when the item commits, in objects of its own', async () => {
    const store = new MemoryObjectStore();
    const writer = new StoreDeadLetterWriter(store, 'errors', compileTemplate('dl/'), NOW);
    const { settled, ticket } = tickets();
    const item: ItemScope = { index: 3, staged: true };

    for (let index = 0; index < 1500; index++) void writer.add(letter(index), ticket(), item);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const visibleBeforeCommit = store.objects.size;
    await writer.commit(item);
    await writer.close();

    expect(visibleBeforeCommit).toBe(0);
    expect(settled).toEqual({ written: 1500, failed: 0 });
    expect(store.objects.size).toBe(2);
    expect(store.staged.size).toBe(0);
  });

  it('discards the letters of an aborted item, staged uploads included, and publishes the others', async () => {
    const store = new MemoryObjectStore();
    const writer = new StoreDeadLetterWriter(store, 'errors', compileTemplate('dl/'), NOW);
    const { ticket } = tickets();
    const item: ItemScope = { index: 1, staged: true };

    for (let index = 0; index < 1200; index++) void writer.add(letter(index), ticket(), item);
    await writer.add(letter(5000), ticket(), STREAM_ITEM);
    await writer.abort(item);
    await writer.close();

    const lines = [...store.objects.values()].flatMap((object) => Buffer.from(object.body).toString('utf8').trim().split('\n'));
    expect(lines.map((line) => (JSON.parse(line) as { position: string }).position)).toEqual(['shardId-0/5000']);
    expect(store.staged.size).toBe(0);
  });

  it('settles a staged item\'s tickets as it takes the letters, holding none of them until the commit', () => {
    const writer = new StoreDeadLetterWriter(new MemoryObjectStore(), 'errors', compileTemplate('dl/'), NOW);
    const { settled, ticket } = tickets();
    const item: ItemScope = { index: 2, staged: true };

    for (let index = 0; index < 2500; index++) void writer.add(letter(index), ticket(), item);

    expect(settled).toEqual({ written: 2500, failed: 0 });
  });

  // 1200 letters: a full group of 1000 is staged as they come, the other 200 are written when the item commits.
  it.each(['stage', 'put'] as const)('fails the whole staged item when a group of its letters cannot be stored (%s)', async (method) => {
    const store = new MemoryObjectStore();
    const slowDown = (): Promise<never> => Promise.reject(Object.assign(new Error('reduce your request rate'), { name: 'SlowDown' }));
    if (method === 'stage') store.stage = slowDown;
    else store.put = slowDown;
    const writer = new StoreDeadLetterWriter(store, 'errors', compileTemplate('dl/'), NOW);
    const { settled, ticket } = tickets();
    const item: ItemScope = { index: 4, staged: true };
    const other: ItemScope = { index: 5, staged: true };

    for (let index = 0; index < 1200; index++) void writer.add(letter(index), ticket(), item);
    await writer.commit(item);
    await writer.abort(other);
    await writer.close();

    expect(settled).toEqual({ written: 1200, failed: 0 });
    expect(writer.failedItems()).toEqual([{ item, reason: expect.stringMatching(/^dead letters could not be written to s3:\/\/errors\/dl\/.*: SlowDown: reduce your request rate$/) }]);
    expect(store.staged.size).toBe(0);
  });

  it('fails a staged item neither committed nor aborted when it closes, and not an aborted one', async () => {
    const store = new MemoryObjectStore();
    const writer = new StoreDeadLetterWriter(store, 'errors', compileTemplate('dl/'), NOW);
    const { ticket } = tickets();
    const [left, aborted] = [{ index: 0, staged: true }, { index: 1, staged: true }];

    for (let index = 0; index < 1100; index++) void writer.add(letter(index), ticket(), index % 2 === 0 ? left : aborted);
    await writer.abort(aborted);
    await writer.close();

    expect(writer.failedItems()).toEqual([{ item: left, reason: expect.stringContaining('closed before its batch item was committed') }]);
    expect(store.objects.size).toBe(0);
    expect(store.staged.size).toBe(0);
  });

  it('writes the letter of a record too deep to serialize with its raw input and the reason, instead of throwing', () => {
    const deep = { ...letter(1, Buffer.from('{"x":[[...]]}')), record: nested(5000) };

    const line = JSON.parse(serializeDeadLetter(deep, NOW)) as Record<string, unknown>;

    expect(line).toMatchObject({ code: 'invalid-json', raw: '{"x":[[...]]}', record_error: expect.stringContaining('could not be serialized') });
    expect(line).not.toHaveProperty('record');
  });

  it('keeps raw bytes that are not UTF-8 as base64', () => {
    const line = JSON.parse(serializeDeadLetter(letter(1, Uint8Array.from([0xf3, 0x89, 0x9a, 0xc2])), NOW)) as Record<string, unknown>;

    expect(line).toMatchObject({ raw_encoding: 'base64', raw: '84mawg==', time: NOW.toISOString(), position: 'shardId-0/1' });
  });
});
