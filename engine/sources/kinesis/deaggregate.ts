import { createHash } from 'node:crypto';
import { PbfReader } from 'pbf';

/**
 * The KPL aggregated record format (awslabs/amazon-kinesis-producer, aggregation-format.md):
 * 4 magic bytes, a protobuf `AggregatedRecord`, then the MD5 digest of the protobuf bytes.
 * The messages, as the format publishes them (proto2):
 *
 *   message AggregatedRecord {
 *     repeated string partition_key_table     = 1;
 *     repeated string explicit_hash_key_table = 2;
 *     repeated Record records                 = 3;
 *   }
 *   message Tag { required string key = 1; optional string value = 2; }
 *   message Record {
 *     required uint64 partition_key_index     = 1;
 *     optional uint64 explicit_hash_key_index = 2;
 *     required bytes  data                    = 3;
 *     repeated Tag    tags                    = 4;
 *   }
 *
 * pbf decodes the wire format; the readers below name the fields de-aggregation uses and let pbf
 * skip the others (docs/decisions/0058-smaller-cold-start.md).
 */
const KPL_MAGIC = [0xf3, 0x89, 0x9a, 0xc2] as const;
const MD5_BYTES = 16;

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

const PLAIN: Deaggregated = { kind: 'plain' };

interface DecodedAggregate {
  partitionKeys: string[];
  records: DecodedRecord[];
}

interface DecodedRecord {
  partitionKeyIndex: number;
  data: Uint8Array;
}

function readAggregateField(field: number, aggregate: DecodedAggregate, pbf: PbfReader): void {
  if (field === 1) aggregate.partitionKeys.push(pbf.readString());
  else if (field === 3) aggregate.records.push(complete(readMessage(pbf, pbf.readVarint() + pbf.pos, readRecordField, {}), aggregate.records.length));
}

function readRecordField(field: number, record: Partial<DecodedRecord>, pbf: PbfReader): void {
  if (field === 1) record.partitionKeyIndex = pbf.readVarint();
  else if (field === 3) record.data = pbf.readBytes();
}

function complete({ partitionKeyIndex, data }: Partial<DecodedRecord>, index: number): DecodedRecord {
  if (partitionKeyIndex === undefined || data === undefined) throw new Error(`user record ${index} lacks its required partition_key_index or data`);
  return { partitionKeyIndex, data };
}

/**
 * Reads the fields of the message that ends at `end`. pbf trusts the lengths it reads; here a
 * message or field that runs past its end makes the aggregate undecodable.
 */
function readMessage<T>(pbf: PbfReader, end: number, readField: (field: number, message: T, pbf: PbfReader) => void, message: T): T {
  if (end > pbf.length) throw new Error(`a message runs ${end - pbf.length} bytes past the end of the aggregate`);
  pbf.readFields(readField, message, end);
  if (pbf.pos !== end) throw new Error(`a field runs ${pbf.pos - end} bytes past the end of its message`);
  return message;
}

/**
 * Splits a KPL-aggregated payload into its user records. Pure and synchronous; never throws.
 * The MD5 digest is verified before the protobuf is decoded, as the KPL and KCL do.
 */
export function deaggregate(payload: Uint8Array): Deaggregated {
  // Every plain record of a stream comes through here: it costs no allocation.
  if (payload.length < KPL_MAGIC.length + MD5_BYTES || payload[0] !== KPL_MAGIC[0] || payload[1] !== KPL_MAGIC[1] || payload[2] !== KPL_MAGIC[2] || payload[3] !== KPL_MAGIC[3]) {
    return PLAIN;
  }
  const body = payload.subarray(KPL_MAGIC.length, payload.length - MD5_BYTES);
  const digest = payload.subarray(payload.length - MD5_BYTES);
  const computed = createHash('md5').update(body).digest();
  if (!computed.equals(digest)) return PLAIN;

  let aggregate: DecodedAggregate;
  try {
    const pbf = new PbfReader(body);
    aggregate = readMessage(pbf, pbf.length, readAggregateField, { partitionKeys: [], records: [] });
  } catch (error) {
    return { kind: 'invalid', message: `KPL aggregate with a valid digest holds an undecodable protobuf: ${(error as Error).message}` };
  }

  const records = aggregate.records.map((record, subSequence): UserRecord => {
    const data = toPlainBytes(record.data);
    const partitionKey = aggregate.partitionKeys[record.partitionKeyIndex];
    if (partitionKey === undefined) {
      return {
        subSequence,
        data,
        error: `user record ${subSequence} names partition key ${record.partitionKeyIndex}, but the table has ${aggregate.partitionKeys.length}`,
      };
    }
    return { subSequence, data, partitionKey };
  });
  return { kind: 'aggregate', records };
}

// pbf hands out slices of the payload, a Buffer under Node; records expose plain Uint8Array views.
function toPlainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
