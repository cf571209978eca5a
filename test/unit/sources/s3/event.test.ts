import { describe, expect, it } from 'vitest';
import { decodeEventKey, isS3Event, matchesSource, parseS3Event } from '../../../../engine/sources/s3/event.ts';
import { loadEvent, objectRef } from './fixtures.ts';

/** An SQS event holding the given bodies, built on a captured SQS record. */
function sqsEvent(...bodies: string[]): any {
  const [template] = loadEvent('sqs-s3.json').Records;
  return { Records: bodies.map((body, index) => ({ ...template, messageId: `message-${index}`, body })) };
}

/** The captured direct S3 notification with its key replaced (keys arrive encoded). */
function s3EventWithKey(encodedKey: string): any {
  const event = loadEvent('s3-put.json');
  event.Records[0].s3.object.key = encodedKey;
  return event;
}

describe('isS3Event', () => {
  it.each([
    's3-put.json',
    'sqs-s3.json',
    'sqs-raw-sns-s3.json',
    'sqs-sns-s3.json',
    'sns-s3.json',
    'sqs-eventbridge-s3.json',
    'eventbridge-s3-object-created.json',
  ])('recognises %s', (name) => {
    expect(isS3Event(loadEvent(name))).toBe(true);
  });

  it('recognises an SQS batch holding only the s3:TestEvent', () => {
    expect(isS3Event(sqsEvent(JSON.stringify(loadEvent('s3-test-event-message.json'))))).toBe(true);
  });

  it('does not recognise events of other sources', () => {
    expect(isS3Event(loadEvent('kinesis-json.json'))).toBe(false);
    expect(isS3Event({ Records: [] })).toBe(false);
    expect(isS3Event('Records')).toBe(false);
    expect(isS3Event({ source: 'aws.events', 'detail-type': 'Scheduled Event' })).toBe(false);
  });

  it('does not recognise an SQS batch none of whose bodies comes from S3', () => {
    expect(isS3Event(sqsEvent('hello', JSON.stringify({ orderId: 1 })))).toBe(false);
  });
});

describe('parseS3Event', () => {
  it('reads a direct S3 notification as one item without an id', () => {
    const items = parseS3Event(loadEvent('s3-put.json'));

    expect(items).toEqual([{
      itemId: undefined,
      objects: [{
        bucket: 'sourcebucket',
        key: 'HappyFace.jpg',
        size: 1024,
        etag: 'd41d8cd98f00b204e9800998ecf8427e',
        sequencer: 'Happy Sequencer',
        versionId: 'version',
        eventTime: '1970-01-01T00:00:00.123Z',
      }],
    }]);
  });

  it('URL-decodes the key of a classic notification', () => {
    const [item] = parseS3Event(loadEvent('s3-put-encoded-key.json'));

    expect(item?.objects?.[0]?.key).toBe('Happy Face.jpg');
  });

  it('decodes + as a space and %2B as a plus, and multi-byte UTF-8 escapes', () => {
    const [item] = parseS3Event(s3EventWithKey('in/red+flower%2B%C3%A9t%C3%A9+%E2%9C%93.json'));

    expect(item?.objects?.[0]?.key).toBe('in/red flower+été ✓.json');
  });

  it('keeps a key whose % sequences do not decode as it was sent', () => {
    expect(decodeEventKey('100%+done')).toBe('100%+done');
  });

  it('reads an SQS-wrapped notification with the message id as item id', () => {
    const items = parseS3Event(loadEvent('sqs-s3.json'));

    expect(items).toEqual([{
      itemId: '44103047-3123-4583-aed3-7224000351a8',
      objects: [{
        bucket: 'sqs-s3-unwrap-bucket',
        key: 'samconfig.toml',
        size: 221,
        etag: '8f6c039f567cc53694be2a275e452743',
        sequencer: '0065F349D4F05B5827',
        eventTime: '2024-03-14T19:02:45.087Z',
      }],
    }]);
  });

  it('reads a notification delivered by SNS to SQS with raw message delivery', () => {
    const [item] = parseS3Event(loadEvent('sqs-raw-sns-s3.json'));

    expect(item?.itemId).toBe('519619da-e529-46d7-b58c-bc054405af0f');
    expect(item?.objects?.map((ref) => `${ref.bucket}/${ref.key}`)).toEqual(['unwraptestevents-bucket/samconfig.toml']);
  });

  it('unwraps the SNS envelope of a notification delivered by SNS to SQS', () => {
    const [item] = parseS3Event(loadEvent('sqs-sns-s3.json'));

    expect(item?.itemId).toBe('45405be4-2278-4eef-a29c-993898bb8917');
    expect(item?.objects).toEqual([{
      bucket: 'unwraptestevents-bucket',
      key: 'firehose-s3-template.json',
      size: 4314,
      etag: 'e77dffcd1756d6e8e5123ef1e0ce7c54',
      sequencer: '0065FA0B4B104A6DAB',
      eventTime: '2024-03-19T22:01:47.135Z',
    }]);
  });

  it('reads a notification delivered by SNS straight to Lambda, without an item id', () => {
    const items = parseS3Event(loadEvent('sns-s3.json'));

    expect(items).toHaveLength(1);
    expect(items[0]?.itemId).toBeUndefined();
    expect(items[0]?.objects?.map((ref) => `${ref.bucket}/${ref.key}`)).toEqual(['s3-sns-unwrap-bucket/samconfig.toml']);
  });

  it('reads an EventBridge Object Created event delivered through SQS', () => {
    const items = parseS3Event(loadEvent('sqs-eventbridge-s3.json'));

    expect(items).toEqual([{
      itemId: 'ee95829a-ba32-471d-9684-34368ab9995e',
      objects: [{
        bucket: 's3-eb-unwrap-sourcebucket',
        key: '__init__.py',
        size: 0,
        etag: 'd41d8cd98f00b204e9800998ecf8427e',
        sequencer: '0066030E82E2A48DFE',
        eventTime: '2024-03-26T18:05:54Z',
      }],
    }]);
  });

  it('reads an EventBridge Object Created event invoked directly, with its version id', () => {
    const [item] = parseS3Event(loadEvent('eventbridge-s3-object-created.json'));

    expect(item?.itemId).toBeUndefined();
    expect(item?.objects).toEqual([{
      bucket: 'amzn-s3-demo-bucket1',
      key: 'example-key',
      size: 5,
      etag: 'b1946ac92492d2347c6235b4d2611184',
      sequencer: '617f08299329d189',
      versionId: 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e',
      eventTime: '2021-11-12T00:00:00Z',
    }]);
  });

  it('URL-decodes EventBridge keys too', () => {
    const event = loadEvent('eventbridge-s3-object-created.json');
    event.detail.object.key = 'in/red+flower%2B.json';

    const [item] = parseS3Event(sqsEvent(JSON.stringify(event)));

    expect(item?.objects?.[0]?.key).toBe('in/red flower+.json');
  });

  it('ignores EventBridge events other than Object Created', () => {
    const items = parseS3Event(sqsEvent(JSON.stringify(loadEvent('eventbridge-s3-object-deleted.json'))));

    expect(items).toEqual([{ itemId: 'message-0', objects: [] }]);
  });

  it('ignores notifications of removed objects', () => {
    const event = loadEvent('s3-put.json');
    event.Records[0].eventName = 'ObjectRemoved:Delete';

    expect(parseS3Event(event)).toEqual([{ itemId: undefined, objects: [] }]);
  });

  it('turns the s3:TestEvent into an item without objects, not a failure', () => {
    const message = JSON.stringify(loadEvent('s3-test-event-message.json'));

    expect(parseS3Event(sqsEvent(message))).toEqual([{ itemId: 'message-0', objects: [] }]);
  });

  it('turns the s3:TestEvent sent through SNS into an item without objects', () => {
    const event = loadEvent('sns-s3.json');
    event.Records[0].Sns.Message = JSON.stringify(loadEvent('s3-test-event-message.json'));

    expect(parseS3Event(event)).toEqual([{ itemId: undefined, objects: [] }]);
  });

  it('fails only the SQS message whose body is not JSON', () => {
    const good = loadEvent('sqs-s3.json').Records[0].body;
    const later = good.replace(/"sequencer":"[0-9A-F]+"/, '"sequencer":"00FFFFFFFFFFFFFFFF"');

    const items = parseS3Event(sqsEvent(good, '{"Records": [', later));

    expect(items.map((item) => item.objects?.length)).toEqual([1, undefined, 1]);
    expect(items[1]).toMatchObject({ itemId: 'message-1', failure: { code: 'invalid-json', raw: '{"Records": [' } });
  });

  it('fails the SQS message whose JSON body is not an S3 event', () => {
    const good = loadEvent('sqs-s3.json').Records[0].body;

    const items = parseS3Event(sqsEvent(good, '{"orderId": 7}'));

    expect(items[0]?.objects).toHaveLength(1);
    expect(items[1]).toMatchObject({ itemId: 'message-1', failure: { code: 'invalid-event', raw: '{"orderId": 7}' } });
  });

  it('fails a notification record that lacks its object key', () => {
    const event = loadEvent('s3-put.json');
    delete event.Records[0].s3.object.key;

    const [item] = parseS3Event(event);

    expect(item?.failure).toMatchObject({ code: 'invalid-event', message: 'Records[0] lacks s3.bucket.name or s3.object.key' });
  });

  it('throws a TypeError for an event that is not an S3 delivery at all', () => {
    expect(() => parseS3Event(loadEvent('kinesis-json.json'))).toThrow(TypeError);
  });
});

describe('matchesSource', () => {
  const config = { bucket: 'raw', prefix: 'clicks/', suffix: '.json.gz' };

  it('matches a key in the bucket within the prefix and suffix', () => {
    expect(matchesSource(objectRef('clicks/2026/11/27/a.json.gz'), config)).toBe(true);
  });

  it.each([
    ['another bucket', objectRef('clicks/a.json.gz', { bucket: 'other' })],
    ['another prefix', objectRef('orders/a.json.gz')],
    ['another suffix', objectRef('clicks/a.json')],
  ])('does not match an object in %s', (_, ref) => {
    expect(matchesSource(ref, config)).toBe(false);
  });

  it('matches every key of the bucket without prefix and suffix', () => {
    expect(matchesSource(objectRef('anything'), { bucket: 'raw', prefix: '' })).toBe(true);
  });
});
