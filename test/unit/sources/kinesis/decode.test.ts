import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Decoded, KinesisMeta } from '../../../../engine/pipeline/record.ts';
import { decodeKinesisRecord, isKinesisEvent, kinesisItemId } from '../../../../engine/sources/kinesis/decode.ts';
import { compileFilterPatterns } from '../../../../engine/sources/kinesis/filter-pattern.ts';
import {
  aggregateWithoutData,
  bytes,
  cloudWatchLogsPayload,
  config,
  dataMessage,
  framedWithDigest,
  kinesisFixture,
  kinesisRecord,
  kplAggregate,
  withCorruptDigest,
} from './factories.ts';

function only(items: Decoded[]): Decoded {
  expect(items).toHaveLength(1);
  return items[0]!;
}

function plain(raw: Uint8Array): Uint8Array {
  return new Uint8Array(raw);
}

describe('decodeKinesisRecord with format json', () => {
  it('decodes the captured sample record into its JSON object', () => {
    const [record] = kinesisFixture('kinesis-json.json').Records;

    const item = only(decodeKinesisRecord(record!, 'orders', config()));

    expect(item).toMatchObject({ outcome: 'record', value: { message: 'test message', username: 'test' } });
  });

  it('describes where the record came from in meta', () => {
    const [record] = kinesisFixture('kinesis-json.json').Records;

    const item = only(decodeKinesisRecord(record!, 'orders', config()));

    expect(item.meta).toEqual({
      event: 'kinesis',
      source: 'orders',
      stream: 'lambda-stream',
      shard: 'shardId-000000000006',
      sequence: '49590338271490256608559692538361571095921575989136588898',
      partition_key: '1',
      arrival_time: '2018-12-17T22:10:50.987Z',
      position: 'shardId-000000000006/49590338271490256608559692538361571095921575989136588898',
    });
  });

  it('keeps the decoded payload bytes as raw', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('{"a":1}'), 'orders', config()));

    expect(plain(item.raw)).toEqual(bytes('{"a":1}'));
  });

  it('dead-letters invalid JSON without affecting the records around it', () => {
    const records = [kinesisRecord('{"n":1}', { sequence: '1' }), kinesisRecord('{"n":', { sequence: '2' }), kinesisRecord('{"n":3}', { sequence: '3' })];

    const items = records.flatMap((record) => decodeKinesisRecord(record, 'orders', config()));

    expect(items.map((item) => item.outcome)).toEqual(['record', 'dead_letter', 'record']);
    expect(items[1]).toMatchObject({ code: 'invalid-json', meta: { sequence: '2' } });
    expect(items[2]).toMatchObject({ value: { n: 3 } });
  });

  it('keeps the bytes of an invalid JSON record in its dead letter', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('{"n":'), 'orders', config()));

    expect(plain(item.raw)).toEqual(bytes('{"n":'));
  });

  it.each([['[1,2]'], ['"text"'], ['42'], ['null']])('dead-letters %s as not-an-object', (json) => {
    const item = only(decodeKinesisRecord(kinesisRecord(json), 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'not-an-object' });
  });

  it('dead-letters bytes that are not UTF-8 as invalid-utf8', () => {
    const item = only(decodeKinesisRecord(kinesisRecord(Uint8Array.of(0x7b, 0xff, 0x7d)), 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-utf8' });
  });
});

describe('decodeKinesisRecord with format text', () => {
  it('decodes each captured sample record into a message', () => {
    const event = kinesisFixture('kinesis-text.json');

    const items = event.Records.flatMap((record) => decodeKinesisRecord(record, 'logs', config({ format: 'text' })));

    expect(items.map((item) => item.outcome === 'record' && item.value)).toEqual([
      { message: 'Hello, this is a test.' },
      { message: 'This is only a test.' },
    ]);
  });

  it('keeps the text of a line exactly, without its line break', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('  GET /index.html 200\n'), 'logs', config({ format: 'text' })));

    expect(item).toMatchObject({ value: { message: '  GET /index.html 200' } });
  });

  it('dead-letters binary data as invalid-utf8 with its bytes', () => {
    const binary = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

    const item = only(decodeKinesisRecord(kinesisRecord(binary), 'logs', config({ format: 'text' })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-utf8' });
    expect(plain(item.raw)).toEqual(binary);
  });
});

describe('decodeKinesisRecord with format csv', () => {
  const csv = { header: true, delimiter: ',', quote: '"' };

  it('names the fields of a row after the configured columns', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('e1,42,"Smith, Jane"\n'), 'orders', config({ format: 'csv', csv: { ...csv, columns: ['id', 'amount', 'name'] } })));

    expect(item).toMatchObject({ outcome: 'record', value: { id: 'e1', amount: '42', name: 'Smith, Jane' } });
  });

  it('names the fields field_1, field_2... without columns', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('e1,42'), 'orders', config({ format: 'csv', csv })));

    expect(item).toMatchObject({ value: { field_1: 'e1', field_2: '42' } });
  });

  it('uses the configured delimiter and quote', () => {
    const item = only(decodeKinesisRecord(kinesisRecord("a;'b;c'"), 'orders', config({ format: 'csv', csv: { ...csv, delimiter: ';', quote: "'" } })));

    expect(item).toMatchObject({ value: { field_1: 'a', field_2: 'b;c' } });
  });

  it('dead-letters a row whose field count differs from the columns as invalid-csv', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('e1,42,extra'), 'orders', config({ format: 'csv', csv: { ...csv, columns: ['id', 'amount'] } })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-csv' });
  });

  it('dead-letters a record holding two rows as invalid-csv', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('a,b\nc,d\n'), 'orders', config({ format: 'csv', csv })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-csv' });
  });

  it('dead-letters an empty record as invalid-csv', () => {
    const item = only(decodeKinesisRecord(kinesisRecord(''), 'orders', config({ format: 'csv', csv })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-csv' });
  });

  it('dead-letters an unterminated quote as invalid-csv', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('a,"b'), 'orders', config({ format: 'csv', csv })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-csv' });
  });
});

describe('decodeKinesisRecord on bad envelopes and sizes', () => {
  it('dead-letters data that is not base64 as invalid-base64, keeping the text as raw', () => {
    const record = kinesisRecord('{}');
    record.kinesis.data = 'not base64!';

    const item = only(decodeKinesisRecord(record, 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-base64' });
    expect(plain(item.raw)).toEqual(bytes('not base64!'));
  });

  it('dead-letters base64 of the wrong length as invalid-base64', () => {
    const record = kinesisRecord('{}');
    record.kinesis.data = 'e30';

    const item = only(decodeKinesisRecord(record, 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-base64' });
  });

  it('dead-letters a record without data as invalid-event', () => {
    const record = kinesisRecord('{}');
    delete (record.kinesis as { data?: string }).data;

    const item = only(decodeKinesisRecord(record, 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-event' });
  });

  const malformed: [string, (record: Record<string, unknown>) => unknown][] = [
    ['the record is null', () => null],
    ['the record is a number', () => 7],
    ['the record is a list', () => []],
    ['kinesis is missing', (record) => { delete record.kinesis; return record; }],
    ['kinesis is null', (record) => ({ ...record, kinesis: null })],
    ['kinesis is a string', (record) => ({ ...record, kinesis: 'data' })],
    ['kinesis is a list', (record) => ({ ...record, kinesis: [] })],
    ['data is missing', (record) => { delete (record.kinesis as Record<string, unknown>).data; return record; }],
    ['data is a number', (record) => { (record.kinesis as Record<string, unknown>).data = 42; return record; }],
    ['sequenceNumber is missing', (record) => { delete (record.kinesis as Record<string, unknown>).sequenceNumber; return record; }],
    ['sequenceNumber is a number', (record) => { (record.kinesis as Record<string, unknown>).sequenceNumber = 12; return record; }],
    ['eventSourceARN is missing', (record) => { delete record.eventSourceARN; return record; }],
    ['eventSourceARN is an object', (record) => ({ ...record, eventSourceARN: {} })],
  ];

  it.each(malformed)('dead-letters a record whose %s as invalid-event, alone', (_, corrupt) => {
    const records = [kinesisRecord('{"n":1}'), corrupt(kinesisRecord('{"n":2}') as unknown as Record<string, unknown>), kinesisRecord('{"n":3}')];

    const items = records.flatMap((record) => decodeKinesisRecord(record as never, 'orders', config()));

    expect(items.map((item) => item.outcome)).toEqual(['record', 'dead_letter', 'record']);
    expect(items[1]).toMatchObject({ code: 'invalid-event' });
  });

  it.each(malformed)('gives a record whose %s an item id without throwing', (_, corrupt) => {
    const record = corrupt(kinesisRecord('{}') as unknown as Record<string, unknown>);

    expect(typeof kinesisItemId(record as never)).toBe('string');
  });

  it('dead-letters a record larger than max_record_bytes as record-too-large', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('{"text":"0123456789"}'), 'orders', config({ max_record_bytes: 20 })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'record-too-large' });
  });

  it('accepts a record of exactly max_record_bytes', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('{"text":"012345678"}'), 'orders', config({ max_record_bytes: 20 })));

    expect(item.outcome).toBe('record');
  });

  it('leaves the stream name empty when the ARN names no stream', () => {
    const record = kinesisRecord('{}');
    record.eventSourceARN = 'arn:aws:kinesis:EXAMPLE';

    const item = only(decodeKinesisRecord(record, 'orders', config()));

    expect((item.meta as KinesisMeta).stream).toBe('');
  });
});

describe('decodeKinesisRecord with KPL aggregated records', () => {
  it('yields one record per user record, in order', () => {
    const aggregate = kplAggregate(['k0', 'k1'], [
      { partition_key_index: 0, data: '{"n":1}' },
      { partition_key_index: 1, data: '{"n":2}' },
      { partition_key_index: 0, data: '{"n":3}' },
    ]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate, { sequence: '777' }), 'orders', config());

    expect(items.map((item) => item.outcome === 'record' && item.value)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('gives each user record its sub-sequence, partition key and position', () => {
    const aggregate = kplAggregate(['k0', 'k1'], [
      { partition_key_index: 0, data: '{}' },
      { partition_key_index: 1, data: '{}' },
    ]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate, { sequence: '777' }), 'orders', config());

    expect(items.map((item) => item.meta)).toMatchObject([
      { sub_sequence: 0, partition_key: 'k0', sequence: '777', position: 'shardId-000000000006/777:0' },
      { sub_sequence: 1, partition_key: 'k1', sequence: '777', position: 'shardId-000000000006/777:1' },
    ]);
  });

  it('reads user records that carry explicit hash keys and tags, which it does not use', () => {
    const aggregate = kplAggregate(
      ['k0', 'k1'],
      [
        { partition_key_index: 1, explicit_hash_key_index: 0, tags: [{ key: 'origin', value: 'web' }, { key: 'bare' }], data: '{"n":1}' },
        { partition_key_index: 0, explicit_hash_key_index: 1, data: '{"n":2}' },
      ],
      ['170141183460469231731687303715884105728', '42'],
    );

    const items = decodeKinesisRecord(kinesisRecord(aggregate, { sequence: '777' }), 'orders', config());

    expect(items.map((item) => item.outcome === 'record' && item.value)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(items.map((item) => item.meta)).toMatchObject([{ sub_sequence: 0, partition_key: 'k1' }, { sub_sequence: 1, partition_key: 'k0' }]);
  });

  it('dead-letters an aggregate whose user record runs past the end of its message as invalid-aggregate', () => {
    // records (field 3) of 4 bytes: partition_key_index 0, then data (field 3) claiming 5 bytes of which 2 are inside the record.
    const aggregate = framedWithDigest(Uint8Array.of(0x1a, 0x04, 0x08, 0x00, 0x1a, 0x05, 0x7b, 0x7d, 0x20, 0x20, 0x20));

    const item = only(decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-aggregate' });
  });

  it('keeps each user record’s own bytes as raw', () => {
    const aggregate = kplAggregate(['k'], [{ partition_key_index: 0, data: '{"n":1}' }]);

    const item = only(decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config()));

    expect(plain(item.raw)).toEqual(bytes('{"n":1}'));
  });

  it('dead-letters a bad user record without affecting its siblings', () => {
    const aggregate = kplAggregate(['k'], [
      { partition_key_index: 0, data: '{"n":1}' },
      { partition_key_index: 0, data: 'oops' },
      { partition_key_index: 0, data: '{"n":3}' },
    ]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config());

    expect(items.map((item) => item.outcome)).toEqual(['record', 'dead_letter', 'record']);
    expect(items[1]).toMatchObject({ code: 'invalid-json', meta: { sub_sequence: 1 } });
  });

  it('passes a record whose MD5 digest does not match through unchanged, as one ordinary record', () => {
    const corrupt = withCorruptDigest(kplAggregate(['k'], [{ partition_key_index: 0, data: '{"n":1}' }]));

    const item = only(decodeKinesisRecord(kinesisRecord(corrupt, { sequence: '777' }), 'orders', config({ format: 'text' })));

    // As an ordinary record its bytes start with the magic, which is not UTF-8 text.
    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-utf8' });
    expect(plain(item.raw)).toEqual(plain(corrupt));
    expect(item.meta).toMatchObject({ position: 'shardId-000000000006/777', partition_key: 'outer-key' });
    expect((item.meta as KinesisMeta).sub_sequence).toBeUndefined();
  });

  it('passes a record that starts with the magic but is too short for a digest through unchanged', () => {
    const short = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2, 0x01);

    const item = only(decodeKinesisRecord(kinesisRecord(short), 'orders', config({ format: 'text' })));

    expect(plain(item.raw)).toEqual(short);
    expect((item.meta as KinesisMeta).sub_sequence).toBeUndefined();
  });

  it('dead-letters an aggregate with a valid digest but undecodable protobuf as invalid-aggregate', () => {
    // Field 3 (records), length-delimited, claims 127 bytes that are not there.
    const aggregate = framedWithDigest(Uint8Array.of(0x1a, 0x7f, 0x00));

    const item = only(decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-aggregate' });
    expect(plain(item.raw)).toEqual(plain(aggregate));
  });

  it('dead-letters an aggregate whose user record lacks its required data as invalid-aggregate', () => {
    const aggregate = aggregateWithoutData();

    const item = only(decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config()));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-aggregate' });
  });

  it('dead-letters only the user record whose partition key index is out of range', () => {
    const aggregate = kplAggregate(['k'], [
      { partition_key_index: 0, data: '{"n":1}' },
      { partition_key_index: 5, data: '{"n":2}' },
    ]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config());

    expect(items.map((item) => item.outcome)).toEqual(['record', 'dead_letter']);
    expect(items[1]).toMatchObject({ code: 'invalid-aggregate', meta: { sub_sequence: 1 } });
    expect(plain(items[1]!.raw)).toEqual(bytes('{"n":2}'));
  });

  it('filters an aggregate that holds no user records, with a reason', () => {
    const aggregate = kplAggregate(['k'], []);

    const item = only(decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config()));

    expect(item).toMatchObject({ outcome: 'filtered', reason: expect.stringContaining('no user records') });
  });

  it('does not unpack aggregates when deaggregate is false', () => {
    const aggregate = kplAggregate(['k'], [{ partition_key_index: 0, data: 'hello' }]);

    const item = only(decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config({ format: 'text', deaggregate: false })));

    expect(plain(item.raw)).toEqual(plain(aggregate));
  });

  it('applies max_record_bytes to each user record', () => {
    const aggregate = kplAggregate(['k'], [
      { partition_key_index: 0, data: '{}' },
      { partition_key_index: 0, data: '{"long":"0123456789"}' },
    ]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config({ max_record_bytes: 10 }));

    expect(items.map((item) => item.outcome === 'dead_letter' ? item.code : item.outcome)).toEqual(['record', 'record-too-large']);
  });
});

describe('decodeKinesisRecord with format cloudwatch_logs', () => {
  it('yields one record per log event of the captured sample', () => {
    const [record] = kinesisFixture('kinesis-cloudwatch-logs.json').Records;

    const items = decodeKinesisRecord(record!, 'app_logs', config({ format: 'cloudwatch_logs' }));

    expect(items).toHaveLength(3);
    expect(items[0]).toMatchObject({
      outcome: 'record',
      value: {
        id: '37199717562907174288355125807040114704837640994633613312',
        timestamp: '2022-11-10T15:10:27.015Z',
        message: 'START RequestId: 06e46194-f277-454e-88d3-1dd7e3860eaa Version: $LATEST\n',
        log_group: '/aws/lambda/pt-1488-DummyLogDataFunction-gnWXPvL6jJyG',
        log_stream: '2022/11/10/[$LATEST]26b6a45d574f442ea28438923cbf7bf7',
        owner: '231436140809',
        subscription_filters: ['pt-1488-CloudWatchLogsToKinesisSubscriptionFilter-5gkxsK0HpHDI'],
      },
    });
  });

  it('gives each log event its index as sub-sequence and in its position', () => {
    const [record] = kinesisFixture('kinesis-cloudwatch-logs.json').Records;

    const items = decodeKinesisRecord(record!, 'app_logs', config({ format: 'cloudwatch_logs' }));

    expect(items.map((item) => (item.meta as KinesisMeta).sub_sequence)).toEqual([0, 1, 2]);
    expect(items[2]!.meta.position).toBe('shardId-000000000000/49635052289529725553291405521504870233219489715332317186:2');
  });

  it('keeps a JSON log message as a string', () => {
    const payload = cloudWatchLogsPayload(dataMessage([{ id: '1', timestamp: 0, message: '{"level":"info"}' }]));

    const item = only(decodeKinesisRecord(kinesisRecord(payload), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item).toMatchObject({ value: { message: '{"level":"info"}' } });
  });

  it('keeps each log event as JSON in raw', () => {
    const event = { id: '1', timestamp: 0, message: 'hello' };
    const payload = cloudWatchLogsPayload(dataMessage([event]));

    const item = only(decodeKinesisRecord(kinesisRecord(payload), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(plain(item.raw)).toEqual(bytes(JSON.stringify(event)));
  });

  it('filters a control message, with a reason', () => {
    const payload = cloudWatchLogsPayload({
      messageType: 'CONTROL_MESSAGE',
      owner: 'CloudwatchLogs',
      logGroup: '',
      logStream: '',
      subscriptionFilters: [],
      logEvents: [{ id: '', timestamp: 1668093027015, message: 'CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.' }],
    });

    const item = only(decodeKinesisRecord(kinesisRecord(payload), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item).toMatchObject({ outcome: 'filtered', reason: 'CloudWatch Logs control message' });
  });

  it('filters a data message without log events, with a reason', () => {
    const payload = cloudWatchLogsPayload(dataMessage([]));

    const item = only(decodeKinesisRecord(kinesisRecord(payload), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item.outcome).toBe('filtered');
  });

  it('dead-letters a payload that is not gzip as invalid-cloudwatch-logs', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('{"messageType":"DATA_MESSAGE"}'), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-cloudwatch-logs' });
  });

  it('dead-letters a truncated gzip payload as invalid-cloudwatch-logs', () => {
    const payload = cloudWatchLogsPayload(dataMessage([{ id: '1', timestamp: 0, message: 'hello' }]));

    const item = only(decodeKinesisRecord(kinesisRecord(payload.subarray(0, payload.length - 12)), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-cloudwatch-logs' });
  });

  it('dead-letters gzip that does not hold JSON as invalid-cloudwatch-logs', () => {
    const item = only(decodeKinesisRecord(kinesisRecord(gzipSync('not json')), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-cloudwatch-logs' });
  });

  it('dead-letters a data message whose logEvents is not a list as invalid-cloudwatch-logs', () => {
    const payload = cloudWatchLogsPayload({ ...dataMessage([]), logEvents: 'none' });

    const item = only(decodeKinesisRecord(kinesisRecord(payload), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-cloudwatch-logs' });
  });

  it('dead-letters an unknown messageType as invalid-cloudwatch-logs', () => {
    const payload = cloudWatchLogsPayload({ ...dataMessage([]), messageType: 'SOMETHING_ELSE' });

    const item = only(decodeKinesisRecord(kinesisRecord(payload), 'app_logs', config({ format: 'cloudwatch_logs' })));

    expect(item).toMatchObject({ outcome: 'dead_letter', code: 'invalid-cloudwatch-logs' });
  });

  it('dead-letters only the log event whose message exceeds max_record_bytes', () => {
    const payload = cloudWatchLogsPayload(dataMessage([
      { id: '1', timestamp: 0, message: 'short' },
      { id: '2', timestamp: 0, message: 'x'.repeat(100) },
    ]));

    const items = decodeKinesisRecord(kinesisRecord(payload), 'app_logs', config({ format: 'cloudwatch_logs', max_record_bytes: 50 }));

    expect(items.map((item) => item.outcome === 'dead_letter' ? item.code : item.outcome)).toEqual(['record', 'record-too-large']);
  });

  it('positions log events inside a KPL aggregate by user record and event index', () => {
    const payload = cloudWatchLogsPayload(dataMessage([{ id: '1', timestamp: 0, message: 'a' }, { id: '2', timestamp: 0, message: 'b' }]));
    const aggregate = kplAggregate(['k'], [{ partition_key_index: 0, data: Buffer.from(payload) }]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate, { sequence: '9' }), 'app_logs', config({ format: 'cloudwatch_logs' }));

    expect(items.map((item) => item.meta.position)).toEqual(['shardId-000000000006/9:0:0', 'shardId-000000000006/9:0:1']);
  });
});

describe('isKinesisEvent', () => {
  it('recognises a captured Kinesis event', () => {
    expect(isKinesisEvent(kinesisFixture('kinesis-json.json'))).toBe(true);
  });

  it('rejects a DynamoDB Streams event', () => {
    expect(isKinesisEvent({ Records: [{ eventSource: 'aws:dynamodb' }] })).toBe(false);
  });

  it.each([[null], [{}], [{ Records: [] }], ['aws:kinesis']])('rejects %j', (event) => {
    expect(isKinesisEvent(event)).toBe(false);
  });
});

describe('kinesisItemId', () => {
  it('is the sequence number Lambda expects in batchItemFailures', () => {
    const [record] = kinesisFixture('kinesis-json.json').Records;

    expect(kinesisItemId(record!)).toBe('49590338271490256608559692538361571095921575989136588898');
  });
});


describe('decodeKinesisRecord with filter patterns, as Lambda applies them', () => {
  const purchases = compileFilterPatterns([{ data: { event_type: ['purchase'] } }]);

  it('decodes a record whose JSON data matches a pattern', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('{"event_type":"purchase","n":1}'), 'orders', config(), purchases));

    expect(item).toMatchObject({ outcome: 'record', value: { event_type: 'purchase', n: 1 } });
  });

  it('filters a record whose JSON data matches no pattern, saying Lambda would not deliver it', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('{"event_type":"view"}'), 'orders', config(), purchases));

    expect(item).toMatchObject({ outcome: 'filtered', reason: expect.stringContaining('Lambda would not deliver it') });
  });

  it('filters a record whose data is not JSON under a pattern on data', () => {
    const item = only(decodeKinesisRecord(kinesisRecord('purchase'), 'orders', config({ format: 'text' }), purchases));

    expect(item.outcome).toBe('filtered');
  });

  it('applies a pattern on metadata to a record whose data is not JSON', () => {
    const byKey = compileFilterPatterns([{ partitionKey: [{ prefix: 'outer' }] }]);

    const item = only(decodeKinesisRecord(kinesisRecord('plain text'), 'orders', config({ format: 'text' }), byKey));

    expect(item).toMatchObject({ outcome: 'record', value: { message: 'plain text' } });
  });

  it('filters a KPL aggregate under a pattern on data: Lambda filters before de-aggregation, and an aggregate is not JSON', () => {
    const aggregate = kplAggregate(['k0'], [{ partition_key_index: 0, data: '{"event_type":"purchase"}' }]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate), 'orders', config(), purchases);

    expect(items.map((item) => item.outcome)).toEqual(['filtered']);
  });

  it('still dead-letters a malformed record rather than filtering it', () => {
    const record = kinesisRecord('{}');
    record.kinesis.data = 'not base64!';

    expect(only(decodeKinesisRecord(record, 'orders', config(), purchases))).toMatchObject({ outcome: 'dead_letter', code: 'invalid-base64' });
  });
});
