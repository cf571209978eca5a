import type { DynamoDBRecord, DynamoDBStreamEvent, StreamRecord } from 'aws-lambda';
import type { Decoded, DynamoDbMeta, FailureCode, RecordValue } from '../../pipeline/record.ts';
import type { DynamoDbDecodeConfig } from './config.ts';
import { InvalidAttributeValueError, unmarshallImage } from './unmarshall-image.ts';

type EventName = DynamoDbMeta['event_name'];

/**
 * True when a Lambda event comes from a DynamoDB Streams event source mapping
 * (its first record's `eventSource` is `aws:dynamodb`).
 */
export function isDynamoDbEvent(event: unknown): event is DynamoDBStreamEvent {
  if (typeof event !== 'object' || event === null) return false;
  const records = (event as { Records?: unknown }).Records;
  if (!Array.isArray(records) || records.length === 0) return false;
  const first: unknown = records[0];
  return typeof first === 'object' && first !== null && (first as { eventSource?: unknown }).eventSource === 'aws:dynamodb';
}

/**
 * The identifier Lambda expects in `batchItemFailures` for this record: its stream sequence
 * number; `''` when the record has none (Lambda then retries the whole batch).
 */
export function dynamoDbItemId(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? '';
}

/**
 * Decodes one DynamoDB Streams record of a Lambda event into one item. Pure; never throws.
 *
 * - An event kind not in `config.events` is `filtered`.
 * - The record is chosen by `config.image`: `new` → NewImage (for `remove`: the Keys, so a
 *   delete can reach a search sink); `old` → OldImage; either falls back to the Keys when the
 *   stream does not carry that image (KEYS_ONLY view, or OldImage of an insert). `both` →
 *   `{ new, old }`, each the image or `null` when absent. The keys are always in `meta.keys`.
 * - Numbers, sets and binary values: see `unmarshallImage` and docs/decisions/0005-dynamodb-numbers.md.
 *
 * Dead letters: `invalid-attribute-value` for an AttributeValue that cannot be unmarshalled
 * (only the images the record needs are read), `invalid-event` for a record without `dynamodb`,
 * `Keys`, `SequenceNumber` or a known `eventName`. `raw` is the Lambda record as UTF-8 JSON.
 * `meta.position` is `<table>/<sequence>`; `meta.arrival_time` is '' when the record has no
 * ApproximateCreationDateTime.
 */
export function decodeDynamoDbRecord(record: DynamoDBRecord, sourceId: string, config: DynamoDbDecodeConfig): Decoded[] {
  const raw = new TextEncoder().encode(JSON.stringify(record));
  const stream: StreamRecord = isObject(record.dynamodb) ? record.dynamodb : {};
  const eventName = eventNameOf(record.eventName);
  const table = tableOf(record.eventSourceARN) ?? config.table ?? '';
  const sequence = typeof stream.SequenceNumber === 'string' ? stream.SequenceNumber : '';
  const meta: DynamoDbMeta = {
    event: 'dynamodb',
    source: sourceId,
    arrival_time: isoFromSeconds(stream.ApproximateCreationDateTime),
    position: `${table}/${sequence}`,
    table,
    sequence,
    // A record with an unknown kind is dead-lettered; its meta still needs a kind, so guess from the images.
    event_name: eventName ?? guessEventName(stream),
    keys: {},
  };
  const deadLetter = (code: FailureCode, message: string): Decoded[] => [{ outcome: 'dead_letter', meta, raw, code, message }];

  if (!isObject(record.dynamodb)) return deadLetter('invalid-event', 'DynamoDB event record has no dynamodb field');
  if (sequence === '') return deadLetter('invalid-event', 'DynamoDB stream record has no SequenceNumber');
  if (eventName === undefined) return deadLetter('invalid-event', `unknown eventName ${JSON.stringify(record.eventName)}`);
  if (stream.Keys === undefined) return deadLetter('invalid-event', 'DynamoDB stream record has no Keys');

  if (!config.events.includes(eventName)) {
    meta.keys = keysOrEmpty(stream.Keys);
    return [{ outcome: 'filtered', meta, raw, reason: `event ${eventName} is not in events (${config.events.join(', ')})` }];
  }

  try {
    meta.keys = unmarshallImage(stream.Keys, 'Keys');
    return [{ outcome: 'record', value: chooseImage(stream, eventName, config.image, meta.keys), meta, raw }];
  } catch (error) {
    if (error instanceof InvalidAttributeValueError) return deadLetter('invalid-attribute-value', error.message);
    throw error;
  }
}

function chooseImage(stream: StreamRecord, eventName: EventName, image: DynamoDbDecodeConfig['image'], keys: RecordValue): RecordValue {
  switch (image) {
    case 'new':
      if (eventName === 'remove' || stream.NewImage === undefined) return keys;
      return unmarshallImage(stream.NewImage, 'NewImage');
    case 'old':
      return stream.OldImage === undefined ? keys : unmarshallImage(stream.OldImage, 'OldImage');
    case 'both':
      return {
        new: stream.NewImage === undefined ? null : unmarshallImage(stream.NewImage, 'NewImage'),
        old: stream.OldImage === undefined ? null : unmarshallImage(stream.OldImage, 'OldImage'),
      };
  }
}

function keysOrEmpty(keys: unknown): RecordValue {
  try {
    return unmarshallImage(keys, 'Keys');
  } catch {
    return {};
  }
}

function eventNameOf(name: unknown): EventName | undefined {
  switch (name) {
    case 'INSERT':
      return 'insert';
    case 'MODIFY':
      return 'modify';
    case 'REMOVE':
      return 'remove';
    default:
      return undefined;
  }
}

function guessEventName(stream: StreamRecord): EventName {
  if (stream.NewImage !== undefined && stream.OldImage === undefined) return 'insert';
  if (stream.NewImage === undefined && stream.OldImage !== undefined) return 'remove';
  return 'modify';
}

/** `arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2024-...` → `Orders`. */
function tableOf(arn: unknown): string | undefined {
  if (typeof arn !== 'string') return undefined;
  return /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/([^/]+)\//.exec(arn)?.[1];
}

function isoFromSeconds(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  const date = new Date(Math.round(seconds * 1000));
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
