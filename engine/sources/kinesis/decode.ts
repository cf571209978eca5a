import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { Decoded, FailureCode, KinesisMeta, RecordValue } from '../../pipeline/record.ts';
import type { KinesisDecodeConfig } from './config.ts';
import { decodePayload, decodeTextLines } from './decode-payload.ts';
import { deaggregate } from './deaggregate.ts';
import type { FilterPatterns } from './filter-pattern.ts';
import { parseCloudWatchLogs, type CloudWatchLogEvent, type CloudWatchLogsPayload } from './parse-cloudwatch-logs.ts';

/**
 * True when a Lambda event comes from a Kinesis event source mapping
 * (the `eventSource` of its first record that is an object is `aws:kinesis`).
 */
export function isKinesisEvent(event: unknown): event is KinesisStreamEvent {
  if (typeof event !== 'object' || event === null) return false;
  const records = (event as { Records?: unknown }).Records;
  if (!Array.isArray(records)) return false;
  // The first record that is an object tells: one malformed record must not hide the whole batch.
  const first: unknown = records.find((record: unknown) => typeof record === 'object' && record !== null);
  return first !== undefined && (first as { eventSource?: unknown }).eventSource === 'aws:kinesis';
}

/**
 * The identifier Lambda expects in `batchItemFailures` for this record: its sequence number;
 * `''` for a malformed record without one (it is dead-lettered, so never reported).
 */
export function kinesisItemId(record: KinesisStreamRecord): string {
  const kinesis: unknown = isObject(record) ? record.kinesis : undefined;
  const sequence = isObject(kinesis) ? kinesis.sequenceNumber : undefined;
  return typeof sequence === 'string' ? sequence : '';
}

/**
 * Decodes one Kinesis record of a Lambda event into records. Pure and synchronous; never throws:
 * every failure is a `dead_letter` item, so one bad record never affects its neighbours.
 *
 * One Kinesis record gives one item, or several when it is a KPL aggregate (`deaggregate`), a
 * CloudWatch Logs payload (one per log event) or a `text` payload (one per line), in order.
 * Positions are `<shard>/<sequence>`, with `:<index>` appended per user record, per log event
 * and per line.
 *
 * With `filter` (the source's compiled Lambda event filter), a record that matches no pattern is
 * `filtered`, as Lambda would never have delivered it; patterns see the `kinesis` member with
 * `data` decoded from base64 and parsed as JSON (before de-aggregation, as Lambda does).
 *
 * Dead-letter codes: `invalid-event` (the record is not an object, or has no `kinesis` object,
 * `kinesis.data`/`sequenceNumber` string or `eventSourceARN`), `invalid-base64`,
 * `invalid-aggregate` (valid KPL digest, undecodable protobuf or bad partition key index),
 * `record-too-large` (`max_record_bytes`), `invalid-utf8`, `invalid-json`, `not-an-object`,
 * `invalid-csv`, `invalid-cloudwatch-logs`. `raw` holds the decoded bytes of the (user) record,
 * or of the log event as JSON; for `invalid-event` and `invalid-base64`, what could be read.
 * Filtered items: empty KPL aggregates, CloudWatch Logs control messages and data messages
 * without events, each with a `reason`.
 */
export function decodeKinesisRecord(record: KinesisStreamRecord, sourceId: string, config: KinesisDecodeConfig, filter?: FilterPatterns): Decoded[] {
  if (!isObject(record)) {
    const meta: KinesisMeta = { event: 'kinesis', source: sourceId, arrival_time: '', position: '/', stream: '', shard: '', sequence: '', partition_key: '' };
    return [deadLetter(meta, utf8Bytes(JSON.stringify(record) ?? 'undefined'), 'invalid-event', `Kinesis event record is ${record === null ? 'null' : Array.isArray(record) ? 'a list' : `a ${typeof record}`}, not an object`)];
  }
  const meta = envelopeMeta(record, sourceId);
  const kinesis: unknown = record.kinesis;
  if (!isObject(kinesis)) {
    return [deadLetter(meta, utf8Bytes(JSON.stringify(record)), 'invalid-event', 'Kinesis event record has no kinesis object')];
  }
  if (typeof record.eventSourceARN !== 'string') {
    return [deadLetter(meta, utf8Bytes(JSON.stringify(record)), 'invalid-event', 'Kinesis event record has no eventSourceARN: its stream is unknown')];
  }
  const { data, sequenceNumber } = kinesis as { data?: unknown; sequenceNumber?: unknown };
  if (typeof sequenceNumber !== 'string' || sequenceNumber === '') {
    return [deadLetter(meta, utf8Bytes(JSON.stringify(record)), 'invalid-event', 'Kinesis event record has no sequenceNumber')];
  }
  if (typeof data !== 'string') {
    return [deadLetter(meta, utf8Bytes(JSON.stringify(record)), 'invalid-event', 'Kinesis event record has no data string')];
  }
  const payload = decodeBase64(data);
  if (payload === undefined) {
    return [deadLetter(meta, utf8Bytes(data), 'invalid-base64', 'kinesis.data is not valid base64')];
  }
  if (filter !== undefined && !matchesFilter(filter, kinesis, payload)) {
    return [{ outcome: 'filtered', meta, raw: payload, reason: 'matches none of the source\'s filter patterns: Lambda would not deliver it' }];
  }

  if (!config.deaggregate) return decodeUserRecord(payload, meta, config);
  const unpacked = deaggregate(payload);
  switch (unpacked.kind) {
    case 'plain':
      return decodeUserRecord(payload, meta, config);
    case 'invalid':
      return [deadLetter(meta, payload, 'invalid-aggregate', unpacked.message)];
    case 'aggregate': {
      if (unpacked.records.length === 0) {
        return [{ outcome: 'filtered', meta, raw: payload, reason: 'KPL aggregate holds no user records' }];
      }
      return unpacked.records.flatMap((user) => {
        const partitionKey = 'partitionKey' in user ? user.partitionKey : meta.partition_key;
        const userMeta: KinesisMeta = {
          ...meta,
          sub_sequence: user.subSequence,
          partition_key: partitionKey,
          position: `${meta.position}:${user.subSequence}`,
        };
        if ('error' in user) return [deadLetter(userMeta, user.data, 'invalid-aggregate', user.error)];
        return decodeUserRecord(user.data, userMeta, config);
      });
    }
  }
}

function decodeUserRecord(bytes: Uint8Array, meta: KinesisMeta, config: KinesisDecodeConfig): Decoded[] {
  if (config.format === 'cloudwatch_logs') return decodeCloudWatchLogs(bytes, meta, config);
  if (config.max_record_bytes !== undefined && bytes.length > config.max_record_bytes) {
    return [deadLetter(meta, bytes, 'record-too-large', `record is ${bytes.length} bytes, above max_record_bytes ${config.max_record_bytes}`)];
  }
  if (config.format === 'text') return decodeTextLines(bytes, meta);
  const decoded = decodePayload(bytes, config.format, config.csv, config.max_depth);
  if (!decoded.ok) return [deadLetter(meta, bytes, decoded.code, decoded.message)];
  return [{ outcome: 'record', value: decoded.value, meta, raw: bytes }];
}

function decodeCloudWatchLogs(bytes: Uint8Array, meta: KinesisMeta, config: KinesisDecodeConfig): Decoded[] {
  const parsed = parseCloudWatchLogs(bytes);
  if (!parsed.ok) return [deadLetter(meta, bytes, parsed.code, parsed.message)];
  const { payload } = parsed;
  if (payload.messageType === 'CONTROL_MESSAGE') {
    return [{ outcome: 'filtered', meta, raw: bytes, reason: 'CloudWatch Logs control message' }];
  }
  if (payload.logEvents.length === 0) {
    return [{ outcome: 'filtered', meta, raw: bytes, reason: 'CloudWatch Logs data message without log events' }];
  }
  return payload.logEvents.map((event, index): Decoded => {
    const eventMeta: KinesisMeta = {
      ...meta,
      // Inside a KPL aggregate the user record index stays the sub-sequence; the position carries both.
      sub_sequence: meta.sub_sequence ?? index,
      position: `${meta.position}:${index}`,
    };
    const raw = utf8Bytes(JSON.stringify(event));
    const messageBytes = Buffer.byteLength(event.message, 'utf8');
    if (config.max_record_bytes !== undefined && messageBytes > config.max_record_bytes) {
      return deadLetter(eventMeta, raw, 'record-too-large', `log event message is ${messageBytes} bytes, above max_record_bytes ${config.max_record_bytes}`);
    }
    return { outcome: 'record', value: logEventRecord(event, payload), meta: eventMeta, raw };
  });
}

/**
 * The record for one log event. `message` stays a string even when it holds JSON: parsing is
 * the user's choice (a `parse_json` step). `timestamp` becomes ISO-8601 (milliseconds kept).
 */
function logEventRecord(event: CloudWatchLogEvent, payload: CloudWatchLogsPayload): RecordValue {
  const value: RecordValue = {
    id: event.id,
    timestamp: isoFromMilliseconds(event.timestamp),
    message: event.message,
    log_group: payload.logGroup,
    log_stream: payload.logStream,
    owner: payload.owner,
    subscription_filters: payload.subscriptionFilters,
  };
  if (event.extractedFields !== undefined) value.extracted_fields = event.extractedFields;
  return value;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Lambda's view of a record for event filtering: the `kinesis` member, `data` as parsed JSON when it is JSON. */
function matchesFilter(filter: FilterPatterns, kinesis: Record<string, unknown>, payload: Uint8Array): boolean {
  let data: unknown;
  let dataIsJson = true;
  try {
    data = JSON.parse(strictUtf8.decode(payload));
  } catch {
    dataIsJson = false;
  }
  return filter.matches({ ...kinesis, data }, dataIsJson);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Meta shared by every item of one Kinesis record; tolerant of missing envelope fields. */
function envelopeMeta(record: KinesisStreamRecord, sourceId: string): KinesisMeta {
  const kinesis = (record.kinesis ?? {}) as Partial<KinesisStreamRecord['kinesis']>;
  const sequence = typeof kinesis.sequenceNumber === 'string' ? kinesis.sequenceNumber : '';
  const shard = shardOf(record.eventID);
  const arrival = kinesis.approximateArrivalTimestamp;
  return {
    event: 'kinesis',
    source: sourceId,
    arrival_time: typeof arrival === 'number' ? isoFromMilliseconds(Math.round(arrival * 1000)) : '',
    position: positionPrefix(shard) + sequence,
    stream: streamOf(record.eventSourceARN),
    shard,
    sequence,
    partition_key: typeof kinesis.partitionKey === 'string' ? kinesis.partitionKey : '',
  };
}

// The records of a batch mostly come from one shard: its id is reused rather than cut out of
// every record's event id (a string the meta of each record would keep alive).
let lastShard = '';

/** `shardId-000000000006:4959...` → `shardId-000000000006`. */
function shardOf(eventId: unknown): string {
  if (typeof eventId !== 'string') return '';
  const colon = eventId.indexOf(':');
  if (colon === -1) return '';
  if (colon !== lastShard.length || !eventId.startsWith(lastShard)) lastShard = eventId.slice(0, colon);
  return lastShard;
}

let lastPrefixShard: string | undefined;
let lastPrefix = '';

/** `<shard>/`, the start of the positions of a shard's records: made once per shard rather than once per record. */
function positionPrefix(shard: string): string {
  if (shard !== lastPrefixShard) {
    lastPrefixShard = shard;
    lastPrefix = `${shard}/`;
  }
  return lastPrefix;
}

/** `arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream` → `lambda-stream`; `''` when not such an ARN. */
// Every record of a batch names the same stream: parse its ARN once.
let lastArn: unknown;
let lastStream = '';

function streamOf(arn: unknown): string {
  if (arn === lastArn) return lastStream;
  const match = typeof arn === 'string' ? /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/([^/]+)/.exec(arn) : null;
  lastArn = arn;
  lastStream = match?.[1] ?? '';
  return lastStream;
}

// Records of one batch mostly share their arrival second: reuse the last formatted time.
let lastMilliseconds = Number.NaN;
let lastIso = '';

function isoFromMilliseconds(milliseconds: number): string {
  if (milliseconds === lastMilliseconds) return lastIso;
  const date = new Date(milliseconds);
  lastMilliseconds = milliseconds;
  lastIso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  return lastIso;
}

// Buffer.from(..., 'base64') skips characters it does not know, so corrupt data decodes to
// fewer bytes than its length promises: compare instead of scanning the alphabet first.
// The Buffer is returned as it is: another view over its bytes would cost an allocation per record.
function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength !== (text.length / 4) * 3 - padding) return undefined;
  return bytes;
}

const encoder = new TextEncoder();

function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function deadLetter(meta: KinesisMeta, raw: Uint8Array, code: FailureCode, message: string): Decoded {
  return { outcome: 'dead_letter', meta, raw, code, message };
}
