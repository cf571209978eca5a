import { describe, expect, it } from 'vitest';
import { dynamoDbInsertEvent, kinesisEvent, s3ObjectCreatedEvent } from '../../../engine/local/events.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import type { BatchItem } from '../../../engine/pipeline/pipeline.ts';
import { dispatchEvent, UnknownEventError } from '../../../engine/sources/dispatch.ts';
import type { SourceConfig } from '../../../engine/sources/dispatch.ts';
import { eachRecord } from './s3/fixtures.ts';

const store = new MemoryObjectStore();
const kinesis = (stream: string) => ({ type: 'kinesis', stream, format: 'json', deaggregate: true }) as SourceConfig;
const dynamodb = (streamArn: string, table?: string) => ({ type: 'dynamodb', stream_arn: streamArn, ...(table ? { table } : {}), events: ['insert', 'modify', 'remove'], image: 'new' }) as SourceConfig;
const s3 = (bucket: string, prefix = '') => ({ type: 's3', bucket, prefix, format: 'jsonl', compression: 'auto', max_record_bytes: 1024 * 1024 }) as SourceConfig;
const sourceOf = (dispatched: ReturnType<typeof dispatchEvent>) => [...(dispatched.items as Iterable<{ records: { meta: { source: string } }[] }>)][0]?.records[0]?.meta.source;
const usersStream = (table: string) => `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/2026-01-01T00:00:00.000`;

/** The source ids of the records the dispatched event yields, S3 objects read from the store. */
async function sourcesOf(dispatched: ReturnType<typeof dispatchEvent>): Promise<string[]> {
  const ids: string[] = [];
  for await (const item of dispatched.items) for await (const record of eachRecord(item.records)) ids.push(record.meta.source);
  return ids;
}

describe('dispatchEvent over every source type, one or several sources, declared or not', () => {
  const objects = new MemoryObjectStore();
  objects.set('raw', 'clicks/a.jsonl', '{"n":1}\n');
  objects.set('other', 'clicks/a.jsonl', '{"n":1}\n');
  const events = {
    kinesis: { declared: kinesisEvent('orders', [Buffer.from('{}')]), undeclared: kinesisEvent('payments', [Buffer.from('{}')]) },
    dynamodb: { declared: dynamoDbInsertEvent('users', [{ id: 'a' }], ['id']), undeclared: dynamoDbInsertEvent('payments', [{ id: 'a' }], ['id']) },
    s3: { declared: s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/a.jsonl', size: 8 }]), undeclared: s3ObjectCreatedEvent([{ bucket: 'other', key: 'clicks/a.jsonl', size: 8 }]) },
  };
  const specs = {
    kinesis: { one: { target: kinesis('orders') }, several: { target: kinesis('orders'), sibling: kinesis('clicks') } },
    dynamodb: { one: { target: dynamodb(usersStream('users')) }, several: { target: dynamodb(usersStream('users')), sibling: dynamodb(usersStream('accounts')) } },
    s3: { one: { target: s3('raw', 'clicks/') }, several: { target: s3('raw', 'clicks/'), sibling: s3('raw', 'views/') } },
  };
  const cases = (['kinesis', 'dynamodb', 's3'] as const).flatMap((type) => (['one', 'several'] as const).map((count) => [type, count] as const));

  it.each(cases)('hands a %s event from what the spec declares to that source, with %s source(s) of that type', async (type, count) => {
    const dispatched = dispatchEvent(events[type].declared, specs[type][count], objects);

    expect(await sourcesOf(dispatched)).toEqual(['target']);
  });

  it.each(cases)('rejects a %s event from what no source declares, before anything is decoded, with %s source(s) of that type', (type, count) => {
    expect(() => dispatchEvent(events[type].undeclared, specs[type][count], objects)).toThrow(UnknownEventError);
  });

  it.each(['kinesis', 'dynamodb', 's3'] as const)('rejects a %s event when the spec has no source of its type', (type) => {
    const others = { kinesis: specs.dynamodb.one, dynamodb: specs.s3.one, s3: specs.kinesis.one }[type];

    expect(() => dispatchEvent(events[type].declared, others, objects)).toThrow(UnknownEventError);
  });
});

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

  it('rejects an event from another stream even when the spec has a single Kinesis source', () => {
    expect(() => dispatchEvent(kinesisEvent('payments', [Buffer.from('{}')]), { orders: kinesis('orders') }, store)).toThrow(/stream\/payments.*orders: stream orders/);
  });

  it('accepts the records of an enhanced fan-out consumer of a stream declared by ARN', () => {
    const arn = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
    const event = kinesisEvent('orders', [Buffer.from('{}')]);
    for (const record of event.Records) record.eventSourceARN = `${arn}/consumer/reader:1700000000`;

    expect(sourceOf(dispatchEvent(event, { orders: kinesis(arn) }, store))).toBe('orders');
  });

  it('rejects a stream of the same name in another account when the source names its ARN', () => {
    const event = kinesisEvent('arn:aws:kinesis:us-east-1:999999999999:stream/orders', [Buffer.from('{}')]);

    expect(() => dispatchEvent(event, { orders: kinesis('arn:aws:kinesis:us-east-1:123456789012:stream/orders') }, store)).toThrow(UnknownEventError);
  });

  it('rejects an event whose records name two streams, rather than process the foreign ones', () => {
    const event = kinesisEvent('orders', [Buffer.from('{}'), Buffer.from('{}')]);
    event.Records[1]!.eventSourceARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/payments';

    expect(() => dispatchEvent(event, { orders: kinesis('orders') }, store)).toThrow(/stream\/orders and .*stream\/payments/);
  });

  it('matches a DynamoDB source that gives only its table name by the table in the stream ARN', () => {
    const event = dynamoDbInsertEvent('users', [{ id: 'a' }], ['id']);

    expect(sourceOf(dispatchEvent(event, { users: dynamodb('${param.users_stream}', 'users') }, store))).toBe('users');
    expect(() => dispatchEvent(dynamoDbInsertEvent('payments', [{ id: 'a' }], ['id']), { users: dynamodb('${param.users_stream}', 'users') }, store)).toThrow(UnknownEventError);
  });

  it('rejects a DynamoDB event from a table of the same name in another account', () => {
    const event = dynamoDbInsertEvent('users', [{ id: 'a' }], ['id'], { streamArn: 'arn:aws:dynamodb:us-east-1:999999999999:table/users/stream/2026-01-01T00:00:00.000' });

    expect(() => dispatchEvent(event, { users: dynamodb(usersStream('users')) }, store)).toThrow(UnknownEventError);
  });

  it('dead-letters an S3 object no source declares when the same batch has objects of a source', async () => {
    const objects = new MemoryObjectStore();
    objects.set('raw', 'clicks/a.jsonl', '{"n":1}\n');
    const event = s3ObjectCreatedEvent([{ bucket: 'raw', key: 'clicks/a.jsonl', size: 8 }, { bucket: 'elsewhere', key: 'x.jsonl', size: 8 }]);

    const items = [...(dispatchEvent(event, { clicks: s3('raw') }, objects).items as Iterable<BatchItem>)];
    const outcomes: string[] = [];
    for (const item of items) for await (const record of eachRecord(item.records)) outcomes.push(record.outcome === 'dead_letter' ? record.code : record.outcome);

    expect(outcomes).toEqual(['record', 'unmatched-object']);
  });

  it('restricts a spec test to the source its case names, and says which type that source is', () => {
    const sources = { orders: kinesis('orders'), users: dynamodb(usersStream('users')) };

    expect(() => dispatchEvent(dynamoDbInsertEvent('users', [{ id: 'a' }], ['id']), sources, store, { source: 'orders' })).toThrow('source `orders` is a kinesis source, not a dynamodb source');
    expect(sourceOf(dispatchEvent(kinesisEvent('orders', [Buffer.from('{}')]), sources, store, { source: 'orders' }))).toBe('orders');
  });

  it('lets a spec test run an event for a stream given by a parameter without value, and only a spec test', () => {
    const sources = { orders: kinesis('${param.orders_stream}') };
    const event = kinesisEvent('orders', [Buffer.from('{}')]);

    expect(sourceOf(dispatchEvent(event, sources, store, { source: 'orders' }))).toBe('orders');
    expect(() => dispatchEvent(event, sources, store)).toThrow(UnknownEventError);
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

describe('dispatchEvent on malformed records', () => {
  const objects = new MemoryObjectStore();
  for (const key of ['in/a.jsonl', 'in/b.jsonl', 'in/c.jsonl']) objects.set('raw', key, '{"n":1}\n');
  const sources = { orders: kinesis('orders'), users: dynamodb(usersStream('users')), clicks: s3('raw', 'in/') };

  /** What each batch item became: `record`, or the code of its dead letter. */
  async function outcomesOf(event: unknown): Promise<string[]> {
    const outcomes: string[] = [];
    for await (const item of dispatchEvent(event, sources, objects).items) {
      for await (const record of eachRecord(item.records)) outcomes.push(record.outcome === 'dead_letter' ? record.code : record.outcome);
    }
    return outcomes;
  }

  const corruptions: [string, (record: Record<string, unknown>) => unknown][] = [
    ['null', () => null],
    ['a string', () => 'record'],
    ['an object without its payload member', (record) => Object.fromEntries(Object.entries(record).filter(([field]) => !['kinesis', 'dynamodb', 'body'].includes(field)))],
    ['an object whose payload member is a number', (record) => ({ ...record, ...(record.kinesis ? { kinesis: 5 } : record.dynamodb ? { dynamodb: 5 } : { body: 5 }) })],
  ];
  const events = {
    kinesis: () => kinesisEvent('orders', [Buffer.from('{}'), Buffer.from('{}'), Buffer.from('{}')]),
    dynamodb: () => dynamoDbInsertEvent('users', [{ id: 'a' }, { id: 'b' }, { id: 'c' }], ['id']),
    'SQS-wrapped S3': () => s3ObjectCreatedEvent(['a', 'b', 'c'].map((name) => ({ bucket: 'raw', key: `in/${name}.jsonl`, size: 8 }))),
  };
  const cases = Object.keys(events).flatMap((kind) => corruptions.map(([what, corrupt]) => [kind as keyof typeof events, what, corrupt] as const));

  it.each(cases)('dead-letters a %s record that is %s as that record alone', async (kind, _, corrupt) => {
    const event = events[kind]() as { Records: unknown[] };
    event.Records[1] = corrupt(event.Records[1] as Record<string, unknown>);

    const outcomes = await outcomesOf(event);

    expect(outcomes).toHaveLength(3);
    expect([outcomes[0], outcomes[2]]).toEqual(['record', 'record']);
    expect(['invalid-event', 'invalid-json']).toContain(outcomes[1]);
  });

  const streamCases = cases.filter(([kind]) => kind !== 'SQS-wrapped S3');

  it.each(streamCases)('dead-letters a first %s record that is %s alone, still recognising the event', async (kind, _, corrupt) => {
    const event = events[kind]() as { Records: unknown[] };
    event.Records[0] = corrupt(event.Records[0] as Record<string, unknown>);

    expect(await outcomesOf(event)).toEqual(['invalid-event', 'record', 'record']);
  });
});
