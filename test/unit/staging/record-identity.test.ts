import { describe, expect, it } from 'vitest';
import type { DynamoDbMeta, KinesisMeta, S3Meta } from '../../../engine/pipeline/record.ts';
import { MAX_PARTITION_BYTES, recordIdentity, stagedPosition, stagedSubPosition } from '../../../engine/staging/record-identity.ts';

const SEQUENCE = '49590338271490256608559692538361571095921575989136588898';

function kinesis(suffix = '', partitionKey = 'user-1'): KinesisMeta {
  return {
    event: 'kinesis', source: 'orders', arrival_time: '2026-12-03T08:00:00.123Z', position: `shardId-000000000001/${SEQUENCE}${suffix}`,
    stream: 'orders', shard: 'shardId-000000000001', sequence: SEQUENCE, partition_key: partitionKey,
  };
}

function dynamodb(keys: DynamoDbMeta['keys']): DynamoDbMeta {
  return { event: 'dynamodb', source: 'users', arrival_time: '2026-12-03T08:00:00Z', position: `users/4421584500000000017450439091`, table: 'users', sequence: '4421584500000000017450439091', event_name: 'modify', keys } as DynamoDbMeta;
}

function s3(key: string, extra: Partial<S3Meta> = {}): S3Meta {
  return { event: 's3', source: 'clicks', arrival_time: '2026-12-03T08:00:00Z', position: `raw/${key}:17`, bucket: 'raw', key, line: 17, ...extra };
}

describe('recordIdentity', () => {
  it('places a Kinesis record in its shard at its sequence number', () => {
    expect(recordIdentity(kinesis(), { ordinal: 0 })).toEqual({
      source: 'orders', partition: 'orders/shardId-000000000001', position: stagedPosition(SEQUENCE), subPosition: stagedSubPosition(0, 0, 0), arrival: '2026-12-03 08:00:00.123',
    });
  });

  it('orders KPL user records and the lines inside them by their indexes, then by the sink ordinal', () => {
    expect(recordIdentity(kinesis(':3'), { ordinal: 0 }).subPosition).toBe(stagedSubPosition(3, 0, 0));
    expect(recordIdentity(kinesis(':3:5'), { ordinal: 2 }).subPosition).toBe(stagedSubPosition(3, 5, 2));
  });

  it('adds the partition key to the partition when Lambda keeps order per key', () => {
    expect(recordIdentity(kinesis('', 'user-9'), { ordinal: 0, perPartitionKey: true }).partition).toBe('orders/shardId-000000000001/user-9');
  });

  it('places a DynamoDB record in its item, whatever the order of the key attributes', () => {
    const one = recordIdentity(dynamodb({ pk: 'a', sk: 1 }), { ordinal: 0 });
    const other = recordIdentity(dynamodb({ sk: 1, pk: 'a' }), { ordinal: 0 });

    expect(one.partition).toBe('users/{"pk":"a","sk":1}');
    expect(other.partition).toBe(one.partition);
  });

  it('places an S3 record in the object version it was read from, at its line', () => {
    expect(recordIdentity(s3('day/1.json', { version_id: 'v2', etag: 'abc' }), { ordinal: 0 })).toMatchObject({ partition: 'raw/day/1.json@v2', position: stagedPosition(17) });
    expect(recordIdentity(s3('day/1.json', { etag: 'abc' }), { ordinal: 0 }).partition).toBe('raw/day/1.json@abc');
  });

  it('keeps long partitions within bounds and still tells them apart', () => {
    const long = 'k/'.repeat(400);
    const one = recordIdentity(s3(`${long}a`), { ordinal: 0 }).partition;
    const other = recordIdentity(s3(`${long}b`), { ordinal: 0 }).partition;

    expect(Buffer.byteLength(one)).toBeLessThanOrEqual(MAX_PARTITION_BYTES);
    expect(one).not.toBe(other);
  });

  it('refuses a Kinesis record without a sequence number rather than staging it without identity', () => {
    const meta = { ...kinesis(), sequence: '', position: 'shardId-000000000001/' };

    expect(() => recordIdentity(meta, { ordinal: 0 })).toThrow(RangeError);
  });
});
