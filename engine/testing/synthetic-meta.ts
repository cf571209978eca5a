import type { RecordMeta } from '../pipeline/record.ts';
import type { SourceConfig } from '../sources/dispatch.ts';
import { dynamoDbTableName } from '../sources/dynamodb/table-name.ts';

/**
 * The metadata a `given` record of a spec test carries: what the source would have attached,
 * with a fixed arrival time and positions that count up, so tests are reproducible.
 */
export function syntheticMeta(sourceId: string, source: SourceConfig, index: number, arrivalTime: string): RecordMeta {
  const sequence = String(index + 1).padStart(20, '0');
  switch (source.type) {
    case 'kinesis':
      return { event: 'kinesis', source: sourceId, stream: source.stream, shard: 'shardId-000000000000', sequence, partition_key: String(index), arrival_time: arrivalTime, position: `shardId-000000000000/${sequence}` };
    case 'dynamodb': {
      const table = dynamoDbTableName(source, sourceId);
      return { event: 'dynamodb', source: sourceId, table, sequence, event_name: 'insert', keys: {}, user_identity: null, ttl_delete: false, sets: [], arrival_time: arrivalTime, position: `${table}/${sequence}` };
    }
    case 's3':
      return { event: 's3', source: sourceId, bucket: source.bucket, key: `${source.prefix ?? ''}test${source.suffix ?? ''}`, line: index + 1, arrival_time: arrivalTime, position: `${source.bucket}/${source.prefix ?? ''}test:${index + 1}` };
  }
}
