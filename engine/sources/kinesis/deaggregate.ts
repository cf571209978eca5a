import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';

/**
 * The KPL aggregated record format (awslabs/amazon-kinesis-producer, aggregation-format.md):
 * 4 magic bytes, a protobuf `AggregatedRecord`, then the MD5 digest of the protobuf bytes.
 */
const KPL_MAGIC = [0xf3, 0x89, 0x9a, 0xc2] as const;
const MD5_BYTES = 16;

// The message definitions exactly as the format publishes them; `keepCase` keeps their field names.
const KPL_PROTO = `
syntax = "proto2";

message AggregatedRecord {
  repeated string partition_key_table     = 1;
  repeated string explicit_hash_key_table = 2;
  repeated Record records                 = 3;
}

message Tag {
  required string key   = 1;
  optional string value = 2;
}

message Record {
  required uint64 partition_key_index     = 1;
  optional uint64 explicit_hash_key_index = 2;
  required bytes  data                    = 3;
  repeated Tag    tags                    = 4;
}
`;

// Parsed on the first aggregate: most streams carry none, and every process that loads the Kinesis
// source (each `ingest run`, each cold start) would pay for the parse.
let aggregatedRecord: protobuf.Type | undefined;
function aggregatedRecordType(): protobuf.Type {
  return (aggregatedRecord ??= protobuf.parse(KPL_PROTO, { keepCase: true }).root.lookupType('AggregatedRecord'));
}

/** One user record of an aggregate, or why it cannot be used (its partition key index is out of range). */
export type UserRecord =
  | { subSequence: number; data: Uint8Array; partitionKey: string }
  | { subSequence: number; data: Uint8Array; error: string };

/**
 * What a Kinesis payload is with respect to KPL aggregation:
 * - `plain`: not an aggregate (no magic bytes, or an MD5 digest that does not match); the format
 *   requires such a record to be used unchanged, as one ordinary record;
 * - `aggregate`: its user records, in order (possibly none);
 * - `invalid`: magic bytes and digest match but the protobuf cannot be decoded.
 */
export type Deaggregated =
  | { kind: 'plain' }
  | { kind: 'aggregate'; records: UserRecord[] }
  | { kind: 'invalid'; message: string };

interface DecodedAggregate {
  partition_key_table: string[];
  records: { partition_key_index: number; data: Uint8Array }[];
}

/**
 * Splits a KPL-aggregated payload into its user records. Pure and synchronous; never throws.
 * The MD5 digest is verified before the protobuf is decoded, as the KPL and KCL do.
 */
export function deaggregate(payload: Uint8Array): Deaggregated {
  if (payload.length < KPL_MAGIC.length + MD5_BYTES || !KPL_MAGIC.every((byte, i) => payload[i] === byte)) {
    return { kind: 'plain' };
  }
  const body = payload.subarray(KPL_MAGIC.length, payload.length - MD5_BYTES);
  const digest = payload.subarray(payload.length - MD5_BYTES);
  const computed = createHash('md5').update(body).digest();
  if (!computed.equals(digest)) return { kind: 'plain' };

  let aggregate: DecodedAggregate;
  try {
    const AggregatedRecord = aggregatedRecordType();
    const message = AggregatedRecord.decode(body);
    aggregate = AggregatedRecord.toObject(message, { longs: Number, arrays: true }) as DecodedAggregate;
  } catch (error) {
    return { kind: 'invalid', message: `KPL aggregate with a valid digest holds an undecodable protobuf: ${(error as Error).message}` };
  }

  const records = aggregate.records.map((record, subSequence): UserRecord => {
    const data = toPlainBytes(record.data);
    const partitionKey = aggregate.partition_key_table[record.partition_key_index];
    if (partitionKey === undefined) {
      return {
        subSequence,
        data,
        error: `user record ${subSequence} names partition key ${record.partition_key_index}, but the table has ${aggregate.partition_key_table.length}`,
      };
    }
    return { subSequence, data, partitionKey };
  });
  return { kind: 'aggregate', records };
}

// protobufjs hands out Buffer slices under Node; records expose plain Uint8Array views.
function toPlainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
