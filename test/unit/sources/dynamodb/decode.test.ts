import { describe, expect, it } from 'vitest';
import type { Decoded } from '../../../../engine/pipeline/record.ts';
import { decodeDynamoDbRecord, dynamoDbItemId, isDynamoDbEvent } from '../../../../engine/sources/dynamodb/decode.ts';
import { config, dynamoDbFixture, keysOnly, modifyWithNewImage, sampleRecord } from './factories.ts';

function only(items: Decoded[]): Decoded {
  expect(items).toHaveLength(1);
  return items[0]!;
}

function valueOf(item: Decoded): unknown {
  if (item.outcome !== 'record') throw new Error(`expected a record, got ${item.outcome}: ${JSON.stringify(item)}`);
  return item.value;
}

describe('decodeDynamoDbRecord', () => {
  it('decodes an insert of the captured sample into its new image', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('INSERT'), 'users', config()));

    expect(valueOf(item)).toEqual({ Id: 101, Message: 'New item!' });
  });

  it('describes where the record came from in meta', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('INSERT'), 'users', config()));

    expect(item.meta).toEqual({
      event: 'dynamodb',
      source: 'users',
      table: 'ExampleTableWithStream',
      sequence: '4421584500000000017450439091',
      event_name: 'insert',
      keys: { Id: 101 },
      // The sample's insert carries the identity DynamoDB gives TTL deletes; an insert is none.
      user_identity: { type: 'Service', principal_id: 'dynamodb.amazonaws.com' },
      ttl_delete: false,
      sets: [],
      arrival_time: '2015-04-09T00:00:00.000Z',
      position: 'ExampleTableWithStream/4421584500000000017450439091',
    });
  });

  it('keeps the Lambda record as UTF-8 JSON in raw', () => {
    const record = sampleRecord('INSERT');

    const item = only(decodeDynamoDbRecord(record, 'users', config()));

    expect(JSON.parse(new TextDecoder().decode(item.raw))).toEqual(record);
  });

  it('decodes every record of the captured sample, in order', () => {
    const event = dynamoDbFixture('dynamodb-insert-modify-remove.json');

    const items = event.Records.flatMap((record) => decodeDynamoDbRecord(record, 'users', config()));

    expect(items.map((item) => item.meta)).toMatchObject([{ event_name: 'insert' }, { event_name: 'modify' }, { event_name: 'remove' }]);
  });

  it('takes the table from config when the event source ARN names none', () => {
    const record = sampleRecord('INSERT');
    record.eventSourceARN = 'eventsource_arn';

    const item = only(decodeDynamoDbRecord(record, 'users', config({ table: 'users-table' })));

    expect(item.meta).toMatchObject({ table: 'users-table', position: 'users-table/4421584500000000017450439091' });
  });

  it('leaves arrival_time empty when the record has no creation time', () => {
    const record = sampleRecord('INSERT');
    delete record.dynamodb!.ApproximateCreationDateTime;

    const item = only(decodeDynamoDbRecord(record, 'users', config()));

    expect(item.meta.arrival_time).toBe('');
  });
});

describe('decodeDynamoDbRecord with image new', () => {
  it('decodes a modify into the new image', () => {
    expect(valueOf(only(decodeDynamoDbRecord(sampleRecord('MODIFY'), 'users', config())))).toEqual({ Id: 101, Message: 'This item has changed' });
  });

  it('decodes a remove into the keys, so the delete can reach a search sink', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('REMOVE'), 'users', config()));

    expect(valueOf(item)).toEqual({ Id: 101 });
    expect(item.meta).toMatchObject({ event_name: 'remove' });
  });

  it('decodes an insert of a KEYS_ONLY stream into the keys', () => {
    expect(valueOf(only(decodeDynamoDbRecord(keysOnly('INSERT'), 'users', config())))).toEqual({ Id: 101 });
  });
});

describe('decodeDynamoDbRecord with image old', () => {
  it('decodes a modify into the old image', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('MODIFY'), 'users', config({ image: 'old' })));

    expect(valueOf(item)).toEqual({ Id: 101, Message: 'New item!' });
  });

  it('decodes a remove into the old image', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('REMOVE'), 'users', config({ image: 'old' })));

    expect(valueOf(item)).toEqual({ Id: 101, Message: 'This item has changed' });
  });

  it('decodes an insert, which has no old image, into the keys', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('INSERT'), 'users', config({ image: 'old' })));

    expect(valueOf(item)).toEqual({ Id: 101 });
  });
});

describe('decodeDynamoDbRecord with image both', () => {
  it('decodes a modify into both images', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('MODIFY'), 'users', config({ image: 'both' })));

    expect(valueOf(item)).toEqual({
      new: { Id: 101, Message: 'This item has changed' },
      old: { Id: 101, Message: 'New item!' },
    });
  });

  it('sets the old image of an insert to null', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('INSERT'), 'users', config({ image: 'both' })));

    expect(valueOf(item)).toEqual({ new: { Id: 101, Message: 'New item!' }, old: null });
  });

  it('sets the new image of a remove to null', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('REMOVE'), 'users', config({ image: 'both' })));

    expect(valueOf(item)).toEqual({ new: null, old: { Id: 101, Message: 'This item has changed' } });
  });

  it('puts the keys where a KEYS_ONLY stream carries no image, so the record keeps its identity', () => {
    const item = only(decodeDynamoDbRecord(keysOnly('MODIFY'), 'users', config({ image: 'both' })));

    expect(valueOf(item)).toEqual({ new: { Id: 101 }, old: { Id: 101 } });
    expect(item.meta).toMatchObject({ keys: { Id: 101 } });
  });
});

/** The sample record as a stream of `view` delivers it. */
function withViewType(kind: 'INSERT' | 'MODIFY' | 'REMOVE', view: 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES') {
  const record = sampleRecord(kind);
  if (view === 'KEYS_ONLY' || view === 'OLD_IMAGE') delete record.dynamodb!.NewImage;
  if (view === 'KEYS_ONLY' || view === 'NEW_IMAGE') delete record.dynamodb!.OldImage;
  record.dynamodb!.StreamViewType = view;
  return record;
}

describe('decodeDynamoDbRecord over image × event × stream view type', () => {
  const images = ['new', 'old', 'both'] as const;
  const kinds = ['INSERT', 'MODIFY', 'REMOVE'] as const;
  const views = ['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES'] as const;
  const cases = images.flatMap((image) => kinds.flatMap((kind) => views.map((view) => [image, kind, view] as const)));

  /** The record's images: the record itself, or the non-null sides of `both`. */
  const sidesOf = (image: (typeof images)[number], value: Record<string, unknown>) =>
    image === 'both' ? [value.new, value.old].filter((side) => side !== null) : [value];

  it.each(cases)('image %s of a %s on a %s stream carries the item keys', (image, kind, view) => {
    const record = withViewType(kind, view);

    const value = valueOf(only(decodeDynamoDbRecord(record, 'users', config({ image })))) as Record<string, unknown>;

    const sides = sidesOf(image, value);
    expect(sides.length).toBeGreaterThan(0);
    for (const side of sides) expect(side).toMatchObject({ Id: 101 });
  });

  it.each(cases)('image %s of a %s on a %s stream uses every image the change has and the stream carries', (image, kind, view) => {
    const record = withViewType(kind, view);
    const stream = record.dynamodb!;

    const value = valueOf(only(decodeDynamoDbRecord(record, 'users', config({ image })))) as Record<string, unknown>;

    const newImage = kind !== 'REMOVE' && stream.NewImage ? { Id: 101, Message: stream.NewImage.Message!.S } : undefined;
    const oldImage = kind !== 'INSERT' && stream.OldImage ? { Id: 101, Message: stream.OldImage.Message!.S } : undefined;
    if (image === 'new' && newImage) expect(value).toEqual(newImage);
    if (image === 'old' && oldImage) expect(value).toEqual(oldImage);
    if (image === 'both') {
      expect(value.new).toEqual(kind === 'REMOVE' ? null : newImage ?? { Id: 101 });
      expect(value.old).toEqual(kind === 'INSERT' ? null : oldImage ?? { Id: 101 });
    }
  });
});

describe('decodeDynamoDbRecord on sets', () => {
  const permutations: [string, unknown[], unknown[]][] = [
    ['SS', ['b', 'a', 'C'], ['C', 'a', 'b']],
    ['NS', ['10', '-1', '2.5', '12345678901234567891', '12345678901234567890'], [-1, 2.5, 10, '12345678901234567890', '12345678901234567891']],
    ['BS', ['QSoBAA==', 'AAEqQQ=='], ['AAEqQQ==', 'QSoBAA==']],
  ];

  it.each(permutations)('sorts a %s set one way, whatever order the stream lists it in', (type, elements, sorted) => {
    const orders = [elements, [...elements].reverse(), [...elements.slice(1), elements[0]]];

    const values = orders.map((order) => valueOf(only(decodeDynamoDbRecord(modifyWithNewImage({ tags: { [type]: order } }), 'users', config()))));

    for (const value of values) expect(value).toEqual({ Id: 101, tags: sorted });
  });

  it('keeps the order of a list, which is not a set', () => {
    const item = only(decodeDynamoDbRecord(modifyWithNewImage({ tags: { L: [{ S: 'b' }, { S: 'a' }] } }), 'users', config()));

    expect(valueOf(item)).toEqual({ Id: 101, tags: ['b', 'a'] });
    expect(item.meta).toMatchObject({ sets: [] });
  });

  it('names in meta.sets where the sets are in the record, nested ones and both images too', () => {
    const record = modifyWithNewImage({ tags: { SS: ['x'] }, profile: { M: { roles: { SS: ['admin'] }, logins: { L: [{ NS: ['1'] }] } } } });
    record.dynamodb!.OldImage = { Id: { N: '101' }, tags: { SS: ['y'] } };

    const single = only(decodeDynamoDbRecord(record, 'users', config()));
    const both = only(decodeDynamoDbRecord(record, 'users', config({ image: 'both' })));

    expect(single.meta).toMatchObject({ sets: ['tags', 'profile.roles', 'profile.logins[0]'] });
    expect(both.meta).toMatchObject({ sets: ['new.tags', 'new.profile.roles', 'new.profile.logins[0]', 'old.tags'] });
  });
});

describe('decodeDynamoDbRecord on who made the change', () => {
  /** The REMOVE of the sample as DynamoDB's time to live makes it (userIdentity as the AWS documentation shows it). */
  function ttlRemove() {
    const record = sampleRecord('REMOVE');
    (record as { userIdentity?: unknown }).userIdentity = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
    return record;
  }

  it('exposes the userIdentity of a TTL delete and marks it as one', () => {
    const item = only(decodeDynamoDbRecord(ttlRemove(), 'users', config()));

    expect(item.meta).toMatchObject({ event_name: 'remove', user_identity: { type: 'Service', principal_id: 'dynamodb.amazonaws.com' }, ttl_delete: true });
  });

  it('does not mark a user delete as a TTL delete', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('REMOVE'), 'users', config()));

    expect(item.meta).toMatchObject({ user_identity: null, ttl_delete: false });
  });

  it('does not mark a delete by another service principal as a TTL delete', () => {
    const record = ttlRemove();
    (record as { userIdentity?: unknown }).userIdentity = { type: 'Service', principalId: 'other.amazonaws.com' };

    expect(only(decodeDynamoDbRecord(record, 'users', config())).meta).toMatchObject({ ttl_delete: false });
  });
});

describe('decodeDynamoDbRecord with events', () => {
  it('filters an event kind that is not in events, with a reason', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('REMOVE'), 'users', config({ events: ['insert', 'modify'] })));

    expect(item).toMatchObject({ outcome: 'filtered', reason: 'event remove is not in events (insert, modify)' });
  });

  it('keeps the keys in the meta of a filtered record', () => {
    const item = only(decodeDynamoDbRecord(sampleRecord('REMOVE'), 'users', config({ events: ['insert'] })));

    expect(item.meta).toMatchObject({ event_name: 'remove', keys: { Id: 101 } });
  });
});

describe('decodeDynamoDbRecord on attribute values', () => {
  it('decodes every AttributeValue type of the aws-lambda-go sample', () => {
    const [, record] = dynamoDbFixture('dynamodb-all-types.json').Records;

    const item = only(decodeDynamoDbRecord(record!, 'users', config()));

    expect(valueOf(item)).toEqual({
      val: 'data',
      asdf1: 'AAEqQQ==',
      b2: 'test',
      asdf2: ['AAEqQQ==', 'QSoBAA=='],
      key: 'binary',
      Binary: 'AAEqQQ==',
      Boolean: true,
      BinarySet: ['AAEqQQ=='],
      List: ['Cookies', 'Coffee', 3.14159],
      Map: { Name: 'Joe', Age: 35 },
      FloatNumber: 123.45,
      IntegerNumber: 123,
      NumberSet: [567.8, 1234],
      Null: null,
      String: 'Hello',
      StringSet: ['Giraffe', 'Zebra'],
      EmptyStringSet: [],
    });
  });

  it('keeps an integer beyond 2^53 as its exact decimal string', () => {
    const item = only(decodeDynamoDbRecord(modifyWithNewImage({ big: { N: '12345678901234567890' } }), 'users', config()));

    expect(valueOf(item)).toMatchObject({ big: '12345678901234567890' });
  });

  it('decodes 0.1 as the number 0.1', () => {
    const item = only(decodeDynamoDbRecord(modifyWithNewImage({ price: { N: '0.1' } }), 'users', config()));

    expect(valueOf(item)).toMatchObject({ price: 0.1 });
  });

  it('keeps an attribute named __proto__ as an ordinary field', () => {
    const item = only(decodeDynamoDbRecord(modifyWithNewImage(JSON.parse('{"__proto__": {"S": "x"}}')), 'users', config()));

    const value = valueOf(item) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toBe('x');
  });

  it('dead-letters an image with an undecodable attribute as invalid-attribute-value, naming it', () => {
    const item = only(decodeDynamoDbRecord(modifyWithNewImage({ tags: { L: [{ S: 'a' }, { BOOL: 'yes' }] } }), 'users', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-attribute-value', message: 'NewImage.tags[1] has BOOL that is not true or false' });
  });

  it('dead-letters an undecodable record without affecting its neighbours', () => {
    const records = [sampleRecord('INSERT'), modifyWithNewImage({ n: { N: 'twelve' } }), sampleRecord('REMOVE')];

    const items = records.flatMap((record) => decodeDynamoDbRecord(record, 'users', config()));

    expect(items.map((item) => item.outcome)).toEqual(['record', 'dead_letter', 'record']);
  });

  it('keeps the whole Lambda record as raw of an undecodable record', () => {
    const record = modifyWithNewImage({ n: { N: 'twelve' } });

    const item = only(decodeDynamoDbRecord(record, 'users', config()));

    expect(JSON.parse(new TextDecoder().decode(item.raw))).toEqual(record);
  });

  it('ignores an undecodable attribute in an image the record does not use', () => {
    const record = sampleRecord('MODIFY');
    record.dynamodb!.OldImage = { broken: { X: '1' } } as never;

    const item = only(decodeDynamoDbRecord(record, 'users', config({ image: 'new' })));

    expect(item.outcome).toBe('record');
  });

  it('dead-letters undecodable keys as invalid-attribute-value', () => {
    const record = sampleRecord('INSERT');
    record.dynamodb!.Keys = { Id: {} } as never;

    const item = only(decodeDynamoDbRecord(record, 'users', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-attribute-value', message: 'Keys.Id has no type (S, N, B, BOOL, NULL, L, M, SS, NS, BS)' });
  });
});

describe('decodeDynamoDbRecord on bad envelopes', () => {
  const malformed: [string, (record: Record<string, unknown>) => unknown][] = [
    ['the record is null', () => null],
    ['the record is a string', () => 'INSERT'],
    ['the record is a list', () => []],
    ['dynamodb is missing', (record) => { delete record.dynamodb; return record; }],
    ['dynamodb is a string', (record) => ({ ...record, dynamodb: 'x' })],
    ['dynamodb is a list', (record) => ({ ...record, dynamodb: [] })],
    ['eventSourceARN is missing', (record) => { delete record.eventSourceARN; return record; }],
    ['eventSourceARN is a number', (record) => ({ ...record, eventSourceARN: 7 })],
    ['eventName is unknown', (record) => ({ ...record, eventName: 'UPSERT' })],
    ['eventName is missing', (record) => { delete record.eventName; return record; }],
    ['SequenceNumber is missing', (record) => { delete (record.dynamodb as Record<string, unknown>).SequenceNumber; return record; }],
    ['SequenceNumber is a number', (record) => { (record.dynamodb as Record<string, unknown>).SequenceNumber = 12; return record; }],
    ['Keys is missing', (record) => { delete (record.dynamodb as Record<string, unknown>).Keys; return record; }],
  ];

  it.each(malformed)('dead-letters a record whose %s as invalid-event, alone', (_, corrupt) => {
    const records = [sampleRecord('INSERT'), corrupt(sampleRecord('MODIFY') as unknown as Record<string, unknown>), sampleRecord('REMOVE')];

    const items = records.flatMap((record) => decodeDynamoDbRecord(record as never, 'users', config()));

    expect(items.map((item) => item.outcome)).toEqual(['record', 'dead_letter', 'record']);
    expect(items[1]).toMatchObject({ code: 'invalid-event' });
  });

  it.each(malformed)('gives a record whose %s an item id without throwing', (_, corrupt) => {
    const record = corrupt(sampleRecord('MODIFY') as unknown as Record<string, unknown>);

    expect(typeof dynamoDbItemId(record as never)).toBe('string');
  });
});

describe('isDynamoDbEvent', () => {
  it('recognises a captured DynamoDB Streams event', () => {
    expect(isDynamoDbEvent(dynamoDbFixture('dynamodb-insert-modify-remove.json'))).toBe(true);
  });

  it('rejects a Kinesis event', () => {
    expect(isDynamoDbEvent({ Records: [{ eventSource: 'aws:kinesis' }] })).toBe(false);
  });

  it.each([[null], [{}], [{ Records: [] }]])('rejects %j', (event) => {
    expect(isDynamoDbEvent(event)).toBe(false);
  });
});

describe('dynamoDbItemId', () => {
  it('is the stream sequence number Lambda expects in batchItemFailures', () => {
    expect(dynamoDbItemId(sampleRecord('MODIFY'))).toBe('4421584500000000017450439092');
  });
});
