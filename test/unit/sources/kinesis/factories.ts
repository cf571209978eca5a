import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import protobuf from 'protobufjs';
import type { KinesisDecodeConfig } from '../../../../engine/sources/kinesis/config.ts';
import type { KinesisSource } from '../../../../engine/spec/spec-types.ts';
import { resolvedSource } from '../../../support/resolved-config.ts';

/** A captured event from test/fixtures/events/. */
export function kinesisFixture(name: string): KinesisStreamEvent {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8')) as KinesisStreamEvent;
}

/** A `kinesis` source config as decoding receives it: written with `overrides`, then resolved (defaults applied). */
export function config(overrides: Partial<KinesisSource> = {}): KinesisDecodeConfig {
  return resolvedSource({ type: 'kinesis', stream: 'orders', format: 'json', deaggregate: true, ...overrides });
}

/** A Kinesis event record as Lambda delivers it, carrying `payload` (bytes, or text as UTF-8). */
export function kinesisRecord(payload: Uint8Array | string, overrides: { sequence?: string; partitionKey?: string } = {}): KinesisStreamRecord {
  const sequence = overrides.sequence ?? '49590338271490256608559692538361571095921575989136588898';
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: overrides.partitionKey ?? 'outer-key',
      sequenceNumber: sequence,
      data: bytes.toString('base64'),
      approximateArrivalTimestamp: 1545084650.987,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000006:${sequence}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'us-east-2',
    eventSourceARN: 'arn:aws:kinesis:us-east-2:123456789012:stream/orders',
  };
}

// The KPL aggregation format's messages, declared here independently of the engine's copy.
const kpl = protobuf.parse(
  `syntax = "proto2";
   message AggregatedRecord {
     repeated string partition_key_table = 1;
     repeated string explicit_hash_key_table = 2;
     repeated Record records = 3;
   }
   message Tag { required string key = 1; optional string value = 2; }
   message Record {
     required uint64 partition_key_index = 1;
     optional uint64 explicit_hash_key_index = 2;
     required bytes data = 3;
     repeated Tag tags = 4;
   }`,
  { keepCase: true },
).root;
const AggregatedRecord = kpl.lookupType('AggregatedRecord');
const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

export interface UserRecordSpec {
  partition_key_index: number;
  data: string | Uint8Array;
  explicit_hash_key_index?: number;
  tags?: { key: string; value?: string }[];
}

/** A KPL aggregate: magic bytes, the encoded AggregatedRecord, and its MD5 digest. */
export function kplAggregate(partitionKeys: string[], records: UserRecordSpec[], explicitHashKeys: string[] = []): Uint8Array {
  const message = AggregatedRecord.fromObject({
    partition_key_table: partitionKeys,
    explicit_hash_key_table: explicitHashKeys,
    records: records.map((record) => ({
      ...record,
      data: typeof record.data === 'string' ? Buffer.from(record.data, 'utf8') : record.data,
    })),
  });
  return framedWithDigest(AggregatedRecord.encode(message).finish());
}

/**
 * An aggregate whose only user record has a partition key index but no `data`, which the format
 * requires. Written field by field: protobufjs's encoder always writes required fields.
 */
export function aggregateWithoutData(): Uint8Array {
  const record = protobuf.Writer.create().uint32((1 << 3) | 0).uint64(0).finish();
  const body = protobuf.Writer.create().uint32((1 << 3) | 2).string('k').uint32((3 << 3) | 2).bytes(record).finish();
  return framedWithDigest(body);
}

/** Magic bytes + `body` + MD5(`body`): what the KPL writes, whatever `body` holds. */
export function framedWithDigest(body: Uint8Array): Uint8Array {
  return Buffer.concat([MAGIC, body, createHash('md5').update(body).digest()]);
}

/** The same aggregate with one bit of its MD5 digest flipped. */
export function withCorruptDigest(aggregate: Uint8Array): Uint8Array {
  const copy = Buffer.from(aggregate);
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 0x01;
  return copy;
}

/** A gzip-compressed CloudWatch Logs subscription payload. */
export function cloudWatchLogsPayload(payload: unknown): Uint8Array {
  return gzipSync(JSON.stringify(payload));
}

export function dataMessage(logEvents: { id: string; timestamp: number; message: string }[]): Record<string, unknown> {
  return {
    messageType: 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: '/aws/lambda/checkout',
    logStream: '2026/01/05/[$LATEST]abc',
    subscriptionFilters: ['to-kinesis'],
    logEvents,
  };
}

export function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
