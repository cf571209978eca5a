import { randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent, KinesisStreamEvent, SQSEvent } from 'aws-lambda';

/**
 * Builders of Lambda events in exactly the shape AWS delivers them, for `ingest run --local`
 * and for integration tests. Region and account are the placeholders AWS documents.
 */
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** An ARN for a stream given by name or ARN. */
export function kinesisStreamArn(stream: string): string {
  return stream.startsWith('arn:') ? stream : `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${stream}`;
}

/** A Kinesis event with one record per payload, on one shard, sequence numbers counting from `firstSequence`. */
export function kinesisEvent(stream: string, payloads: readonly Uint8Array[], options: { arrival?: Date; firstSequence?: bigint; partitionKey?: (index: number) => string } = {}): KinesisStreamEvent {
  const arn = kinesisStreamArn(stream);
  const arrival = (options.arrival ?? new Date()).getTime() / 1000;
  const first = options.firstSequence ?? 49590338271490256608559692538361571095921575989136588898n;
  return {
    Records: payloads.map((payload, index) => {
      const sequenceNumber = String(first + BigInt(index));
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: options.partitionKey?.(index) ?? String(index),
          sequenceNumber,
          data: Buffer.from(payload).toString('base64'),
          approximateArrivalTimestamp: arrival,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `shardId-000000000000:${sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/lambda-role`,
        awsRegion: REGION,
        eventSourceARN: arn,
      };
    }),
  };
}

/**
 * A DynamoDB Streams event inserting each item (view type NEW_AND_OLD_IMAGES), from the stream
 * `streamArn` when given, else from a stream of `table`. Throws when an item cannot be
 * marshalled (an integer beyond 2^53, a function).
 */
export function dynamoDbInsertEvent(table: string, items: readonly Record<string, unknown>[], keyNames: readonly string[], options: { arrival?: Date; streamArn?: string } = {}): DynamoDBStreamEvent {
  const created = Math.floor((options.arrival ?? new Date()).getTime() / 1000);
  return {
    Records: items.map((item, index) => {
      const image = marshall(item, { removeUndefinedValues: true });
      const keys = Object.fromEntries(keyNames.filter((name) => name in image).map((name) => [name, image[name]]));
      return {
        eventID: randomUUID().replaceAll('-', ''),
        eventName: 'INSERT',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: REGION,
        dynamodb: {
          ApproximateCreationDateTime: created,
          Keys: keys as never,
          NewImage: image as never,
          // BigInt: past 2^53 doubles are 16384 apart, so `+ index * 100` would give every record one number.
          SequenceNumber: String(111000000000000000000n + BigInt(index) * 100n),
          SizeBytes: JSON.stringify(image).length,
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
        eventSourceARN: options.streamArn ?? `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}/stream/2026-01-01T00:00:00.000`,
      };
    }),
  };
}

/** An EventBridge "Object Created" event for each object, each in its own SQS message: the wiring the generator emits. */
export function s3ObjectCreatedEvent(objects: readonly { bucket: string; key: string; size: number; etag?: string }[], options: { time?: Date } = {}): SQSEvent {
  const time = (options.time ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    Records: objects.map((object) => {
      const messageId = randomUUID();
      const body = {
        version: '0',
        id: randomUUID(),
        'detail-type': 'Object Created',
        source: 'aws.s3',
        account: ACCOUNT,
        time,
        region: REGION,
        resources: [`arn:aws:s3:::${object.bucket}`],
        detail: {
          version: '0',
          bucket: { name: object.bucket },
          object: { key: encodeKey(object.key), size: object.size, etag: object.etag ?? '', sequencer: '00' + Date.now().toString(16).toUpperCase() },
          'request-id': randomUUID(),
          requester: ACCOUNT,
          reason: 'PutObject',
        },
      };
      return {
        messageId,
        receiptHandle: `handle-${messageId}`,
        body: JSON.stringify(body),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: ACCOUNT, ApproximateFirstReceiveTimestamp: String(Date.now()) },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:ingest-objects`,
        awsRegion: REGION,
      };
    }),
  };
}

/** S3 writes keys into events form-encoded: spaces as `+`, other reserved characters as %XX. */
function encodeKey(key: string): string {
  return encodeURIComponent(key).replaceAll('%20', '+').replaceAll('%2F', '/');
}
