import { describe, expect, it } from 'vitest';
import { dynamoDbInsertEvent, kinesisEvent } from '../../../engine/local/events.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { dispatchEvent, UnknownEventError } from '../../../engine/sources/dispatch.ts';
import type { SourceConfig } from '../../../engine/sources/dispatch.ts';

const store = new MemoryObjectStore();
const kinesis = (stream: string): SourceConfig => ({ type: 'kinesis', stream, format: 'json', deaggregate: true });
const dynamodb = (streamArn: string): SourceConfig => ({ type: 'dynamodb', stream_arn: streamArn, events: ['insert', 'modify', 'remove'], image: 'new' });
const sourceOf = (dispatched: ReturnType<typeof dispatchEvent>) => [...(dispatched.items as Iterable<{ records: { meta: { source: string } }[] }>)][0]?.records[0]?.meta.source;

describe('dispatchEvent', () => {
  it('hands a Kinesis event to the source naming its stream, by name or ARN', () => {
    const sources = { clicks: kinesis('clicks'), orders: kinesis('arn:aws:kinesis:us-east-1:123456789012:stream/orders') };

    expect(sourceOf(dispatchEvent(kinesisEvent('orders', [Buffer.from('{}')]), sources, store))).toBe('orders');
    expect(sourceOf(dispatchEvent(kinesisEvent('clicks', [Buffer.from('{}')]), sources, store))).toBe('clicks');
  });

  it('hands out every record of a batch larger than one decoding chunk, in order', () => {
    const event = kinesisEvent('orders', Array.from({ length: 300 }, (_, index) => Buffer.from(JSON.stringify({ index }))));

    const items = [...(dispatchEvent(event, { orders: kinesis('orders') }, store).items as Iterable<{ id: string; records: { value: unknown }[] }>)];

    expect(items.map((item) => item.id)).toEqual(event.Records.map((record) => record.kinesis.sequenceNumber));
    expect(items.map((item) => item.records[0]?.value)).toEqual(Array.from({ length: 300 }, (_, index) => ({ index })));
  });

  it('matches a DynamoDB stream re-enabled under a new ARN by its table', () => {
    const sources = {
      users: dynamodb('arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2025-01-01T00:00:00.000'),
      orders: dynamodb('arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2025-01-01T00:00:00.000'),
    };
    const event = dynamoDbInsertEvent('users', [{ id: 'a' }], ['id']);
    for (const record of event.Records) record.eventSourceARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-06-01T00:00:00.000';

    expect(sourceOf(dispatchEvent(event, sources, store))).toBe('users');
  });

  it('rejects a Kinesis event from a stream no source declares, naming the stream', () => {
    const sources = { clicks: kinesis('clicks'), orders: kinesis('orders') };

    expect(() => dispatchEvent(kinesisEvent('payments', [Buffer.from('{}')]), sources, store)).toThrow(UnknownEventError);
    expect(() => dispatchEvent(kinesisEvent('payments', [Buffer.from('{}')]), sources, store)).toThrow(/stream\/payments/);
  });

  it('treats the scheduled sweep as an event with nothing to process', () => {
    const dispatched = dispatchEvent({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, { clicks: kinesis('clicks') }, store);

    expect(dispatched).toMatchObject({ kind: 'schedule', items: [], partialBatch: false });
  });
});
