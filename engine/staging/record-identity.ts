/**
 * How a staged row's source identity is written, so that the load transaction can compare
 * identities as text in any collation (docs/decisions/0031-exactly-once-warehouse-loads.md).
 */

import { createHash } from 'node:crypto';
import type { RecordMeta } from '../pipeline/record.ts';

const DIGITS = /^\d{1,999}$/;

/**
 * A position (a Kinesis or DynamoDB sequence number, an S3 line or element number) as staged:
 * three digits giving its length, then its digits without leading zeros. Digit strings of one
 * length compare as numbers; the prefix orders shorter numbers first. Throws a `RangeError` for
 * anything but a non-negative decimal integer.
 */
export function stagedPosition(position: string | number): string {
  const digits = String(position).replace(/^0+(?=\d)/, '');
  if (!DIGITS.test(digits)) throw new RangeError(`a position must be a non-negative decimal integer, not ${JSON.stringify(position)}`);
  return String(digits.length).padStart(3, '0') + digits;
}

/** Widths of the sub-position's fields: a KPL user record index and a line or log event index (each below 2^20 in a 1 MiB record), and the sink's ordinal. */
const SUB_WIDTHS = [7, 7, 9] as const;

/**
 * The sub-position of a record inside its source position, as 23 fixed-width digits: the user
 * record's index in a KPL aggregate, the line's or log event's index in its payload, and the
 * ordinal of this record among those the sink received from the same input record (explode and
 * fan-out), each 0 when it does not apply. Throws a `RangeError` for a field out of its width.
 */
export function stagedSubPosition(aggregateIndex: number, lineIndex: number, ordinal: number): string {
  return [aggregateIndex, lineIndex, ordinal].map((value, index) => {
    const width = SUB_WIDTHS[index]!;
    if (!Number.isSafeInteger(value) || value < 0 || String(value).length > width) throw new RangeError(`sub-position field ${index} out of range: ${value}`);
    return String(value).padStart(width, '0');
  }).join('');
}

/** A record's identity as staged in the hidden columns (all but the file, which the staged file sets). */
export interface StagedIdentity {
  source: string;
  partition: string;
  position: string;
  subPosition: string;
  /** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, or null when the source gave no arrival time. */
  arrival: string | null;
}

export interface IdentityOptions {
  /** Ordinal of this record among those the sink received from the same input record (explode, fan-out). */
  ordinal: number;
  /** Kinesis with `parallelization` above 1: Lambda keeps order per partition key, so the partition includes it. */
  perPartitionKey?: boolean;
}

/** Longest staged partition in bytes; longer ones keep a readable head and a digest of the whole. */
export const MAX_PARTITION_BYTES = 256;

/**
 * The staged identity of a record (docs/decisions/0031-exactly-once-warehouse-loads.md,
 * section 1). The partition is the unit Lambda keeps in order: the shard (and the partition key
 * when `perPartitionKey`) for Kinesis, the item key for DynamoDB, the object version for S3.
 * Throws a `RangeError` for a meta whose position is not numeric (a hand-written event lacking
 * its sequence number), so that the record fails alone instead of being staged without identity.
 */
export function recordIdentity(meta: RecordMeta, options: IdentityOptions): StagedIdentity {
  let partition: string;
  let position: string;
  let nested: number[] = [];
  if (meta.event === 'kinesis') {
    partition = `${meta.stream}/${meta.shard}` + (options.perPartitionKey ? `/${meta.partition_key}` : '');
    position = meta.sequence;
    // KPL user records and lines of a payload append `:<index>` to the position, outermost first.
    const prefix = `${meta.shard}/${meta.sequence}`;
    const suffix = meta.position.startsWith(prefix) ? meta.position.slice(prefix.length) : '';
    nested = suffix === '' ? [] : suffix.slice(1).split(':').map(Number);
    if (nested.length > 2 || nested.some((index) => !Number.isSafeInteger(index))) throw new RangeError(`unexpected Kinesis position ${JSON.stringify(meta.position)}`);
  } else if (meta.event === 'dynamodb') {
    partition = `${meta.table}/${canonicalJson(meta.keys)}`;
    position = meta.sequence;
  } else {
    partition = `${meta.bucket}/${meta.key}@${meta.version_id ?? meta.etag ?? ''}`;
    position = String(meta.line);
  }
  return {
    source: meta.source,
    partition: boundedPartition(partition),
    position: stagedPosition(position),
    subPosition: stagedSubPosition(nested[0] ?? 0, nested[1] ?? 0, options.ordinal),
    arrival: meta.arrival_time === '' ? null : meta.arrival_time.replace('T', ' ').replace(/Z$/, ''),
  };
}

function boundedPartition(partition: string): string {
  if (Buffer.byteLength(partition) <= MAX_PARTITION_BYTES) return partition;
  const digest = createHash('sha256').update(partition).digest('hex');
  let head = '';
  for (const char of partition) {
    if (Buffer.byteLength(head + char) > MAX_PARTITION_BYTES - 65) break;
    head += char;
  }
  return `${head}~${digest}`;
}

/** JSON with object keys sorted, so that one item key always reads the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value) ?? 'null';
}
