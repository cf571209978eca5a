// Lambda events built from what the AWS APIs (here moto) really returned, field for field in
// the shape Lambda's event source mappings and S3 notifications deliver. Lambda itself cannot run
// code under moto, so the tests do the mapping's part: read the stream, wrap the records.
import { randomUUID } from 'node:crypto';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamsClient, AttributeValue as StreamAttributeValue, _Record as StreamApiRecord } from '@aws-sdk/client-dynamodb-streams';
import type { _Record as KinesisApiRecord } from '@aws-sdk/client-kinesis';
import type { Message as SqsApiMessage } from '@aws-sdk/client-sqs';
import type { DynamoDBStreamEvent, KinesisStreamEvent, SQSEvent, SQSRecord } from 'aws-lambda';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

/**
 * The Kinesis event Lambda delivers for `records` of one shard (GetRecords output): `eventID` is
 * `<shardId>:<sequence>`, `data` base64, `approximateArrivalTimestamp` epoch seconds with
 * milliseconds, `eventSourceARN` the stream ARN as DescribeStream reports it.
 */
export function kinesisEventFromGetRecords(streamArn: string, shardId: string, records: readonly KinesisApiRecord[]): KinesisStreamEvent {
  return {
    Records: records.map((record) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: record.PartitionKey!,
        sequenceNumber: record.SequenceNumber!,
        data: Buffer.from(record.Data!).toString('base64'),
        approximateArrivalTimestamp: record.ApproximateArrivalTimestamp!.getTime() / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${record.SequenceNumber!}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/lambda-role`,
      awsRegion: REGION,
      eventSourceARN: streamArn,
    })),
  };
}

/**
 * The DynamoDB Streams event Lambda delivers for `records` (DynamoDB Streams GetRecords output):
 * each record as the stream API gives it, `eventSourceARN` the stream ARN, the creation time in
 * whole epoch seconds, and binary attributes as base64 strings (Lambda's JSON; the SDK hands
 * them out as bytes).
 */
export function dynamoDbEventFromStreamRecords(streamArn: string, records: readonly StreamApiRecord[]): DynamoDBStreamEvent {
  return {
    Records: records.map((record) => {
      const stream = record.dynamodb!;
      const dynamodb: Record<string, unknown> = {
        ApproximateCreationDateTime: Math.floor(stream.ApproximateCreationDateTime!.getTime() / 1000),
        Keys: lambdaImage(stream.Keys!),
        SequenceNumber: stream.SequenceNumber,
        SizeBytes: stream.SizeBytes,
        StreamViewType: stream.StreamViewType,
      };
      if (stream.NewImage) dynamodb.NewImage = lambdaImage(stream.NewImage);
      if (stream.OldImage) dynamodb.OldImage = lambdaImage(stream.OldImage);
      return {
        eventID: record.eventID,
        eventName: record.eventName,
        eventVersion: record.eventVersion,
        eventSource: 'aws:dynamodb',
        awsRegion: record.awsRegion ?? REGION,
        dynamodb,
        eventSourceARN: streamArn,
      };
    }),
  } as DynamoDBStreamEvent;
}

function lambdaImage(image: Record<string, StreamAttributeValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, lambdaAttribute(value)]));
}

function lambdaAttribute(value: StreamAttributeValue): unknown {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((item) => Buffer.from(item).toString('base64')) };
  if (value.M !== undefined) return { M: lambdaImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(lambdaAttribute) };
  return value;
}

/** Reads every record of every shard of `streamArn` from its start, and wraps them as Lambda would. */
export async function dynamoDbEventFromStream(streams: DynamoDBStreamsClient, streamArn: string): Promise<DynamoDBStreamEvent> {
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription!.Shards!;
  const records: StreamApiRecord[] = [];
  for (const shard of shards) {
    let iterator = (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...(page.Records ?? []));
      iterator = page.Records?.length ? page.NextShardIterator : undefined;
    }
  }
  return dynamoDbEventFromStreamRecords(streamArn, records);
}

/**
 * The SQS event Lambda delivers for `messages` (ReceiveMessage output, requested with
 * `MessageSystemAttributeNames: ['All']`) of the queue `queueArn`.
 */
export function sqsEventFromMessages(queueArn: string, messages: readonly SqsApiMessage[]): SQSEvent {
  return {
    Records: messages.map((message): SQSRecord => ({
      messageId: message.MessageId!,
      receiptHandle: message.ReceiptHandle!,
      body: message.Body!,
      attributes: message.Attributes as unknown as SQSRecord['attributes'],
      messageAttributes: {},
      md5OfBody: message.MD5OfBody!,
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: queueArn.split(':')[3]!,
    })),
  };
}

/** What a classic S3 notification says about an object; take size and ETag from HeadObject. */
export interface NotifiedObject {
  bucket: string;
  key: string;
  size: number;
  /** As HeadObject returns it, quotes included or not. */
  etag: string;
}

/**
 * A classic S3 `ObjectCreated:Put` notification for each object, each in its own SQS message
 * (S3 → SQS → Lambda). Keys are form-encoded as S3 writes them: a space becomes `+`, `+` `%2B`.
 */
export function s3NotificationInSqs(objects: readonly NotifiedObject[], queue = 'ingest-notifications'): SQSEvent {
  const now = new Date();
  return {
    Records: objects.map((object, index): SQSRecord => {
      const notification = {
        Records: [{
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: REGION,
          eventTime: now.toISOString(),
          eventName: 'ObjectCreated:Put',
          userIdentity: { principalId: 'AWS:AROAEXAMPLE' },
          requestParameters: { sourceIPAddress: '127.0.0.1' },
          responseElements: { 'x-amz-request-id': randomUUID(), 'x-amz-id-2': randomUUID() },
          s3: {
            s3SchemaVersion: '1.0',
            configurationId: 'ingest',
            bucket: { name: object.bucket, ownerIdentity: { principalId: 'A2EXAMPLE' }, arn: `arn:aws:s3:::${object.bucket}` },
            object: {
              key: formEncodeKey(object.key),
              size: object.size,
              eTag: object.etag.replace(/^"|"$/g, ''),
              sequencer: (now.getTime() * 1000 + index).toString(16).toUpperCase().padStart(18, '0'),
            },
          },
        }],
      };
      const messageId = randomUUID();
      return {
        messageId,
        receiptHandle: `handle-${messageId}`,
        body: JSON.stringify(notification),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(now.getTime()),
          SenderId: 'AROAEXAMPLE:S3-PROD-END',
          ApproximateFirstReceiveTimestamp: String(now.getTime()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:${queue}`,
        awsRegion: REGION,
      };
    }),
  };
}

/** S3's form encoding of keys in notifications. */
function formEncodeKey(key: string): string {
  return encodeURIComponent(key).replaceAll('%20', '+').replaceAll('%2F', '/');
}
