import type { DynamoDBRecord, DynamoDBStreamEvent, StreamRecord } from 'aws-lambda';
import type { Decoded, DynamoDbMeta, FailureCode, RecordValue } from '../../pipeline/record.ts';
import type { DynamoDbDecodeConfig } from './config.ts';
import { InvalidAttributeValueError, unmarshallImage } from './unmarshall-image.ts';

type EventName = DynamoDbMeta['event_name'];

/**
 * True when a Lambda event comes from a DynamoDB Streams event source mapping
 * (the `eventSource` of its first record that is an object is `aws:dynamodb`).
 */
export function isDynamoDbEvent(event: unknown): event is DynamoDBStreamEvent {
  if (typeof event !== 'object' || event === null) return false;
  const records = (event as { Records?: unknown }).Records;
  if (!Array.isArray(records)) return false;
  // The first record that is an object tells: one malformed record must not hide the whole batch.
  const first: unknown = records.find((record: unknown) => typeof record === 'object' && record !== null);
  return first !== undefined && (first as { eventSource?: unknown }).eventSource === 'aws:dynamodb';
}

/**
 * The identifier Lambda expects in `batchItemFailures` for this record: its stream sequence
 * number; `''` when the record has none (Lambda then retries the whole batch).
 */
export function dynamoDbItemId(record: DynamoDBRecord): string {
  const stream: unknown = isObject(record) ? record.dynamodb : undefined;
  const sequence = isObject(stream) ? (stream as StreamRecord).SequenceNumber : undefined;
  return typeof sequence === 'string' ? sequence : '';
}

/**
 * Decodes one DynamoDB Streams record of a Lambda event into one item. Pure; never throws.
 *
 * - An event kind not in `config.events` is `filtered`.
 * - The record is chosen by `config.image`: `new` → NewImage (for `remove`: the Keys, so a
 *   delete can reach a search sink); `old` → OldImage; either falls back to the Keys when the
 *   stream does not carry that image (KEYS_ONLY view, or OldImage of an insert). `both` →
 *   `{ new, old }`: a side the change has by nature (new for insert and modify, old for modify
 *   and remove) is its image, or the Keys when the stream's view type does not carry it; a side
 *   the change cannot have is `null`. So no record is ever without the item's identity.
 *   The keys are always in `meta.keys`.
 * - Numbers, sets and binary values: see `unmarshallImage` and docs/decisions/0005-dynamodb-numbers.md.
 *   Sets are sorted; `meta.sets` lists where they are in the record.
 * - `meta.user_identity` is the record's `userIdentity` (`{ type, principal_id }`, which DynamoDB
 *   sets for time-to-live deletes) or null; `meta.ttl_delete` is true for a remove by TTL.
 *
 * Dead letters: `invalid-attribute-value` for an AttributeValue that cannot be unmarshalled
 * (only the images the record needs are read), `invalid-event` for a record that is not an
 * object or has no `dynamodb` object, `Keys`, `SequenceNumber`, `eventSourceARN` or known
 * `eventName`. `raw` is the Lambda record as UTF-8 JSON. `meta.position` is
 * `<table>/<sequence>`; `meta.arrival_time` is '' when the record has no ApproximateCreationDateTime.
 */
export function decodeDynamoDbRecord(record: DynamoDBRecord, sourceId: string, config: DynamoDbDecodeConfig): Decoded[] {
  const raw = new TextEncoder().encode(JSON.stringify(record) ?? 'undefined');
  const envelope: Partial<DynamoDBRecord> = isObject(record) ? record : {};
  const stream: StreamRecord = isObject(envelope.dynamodb) ? envelope.dynamodb : {};
  const eventName = eventNameOf(envelope.eventName);
  const table = tableOf(envelope.eventSourceARN) ?? config.table ?? '';
  const sequence = typeof stream.SequenceNumber === 'string' ? stream.SequenceNumber : '';
  const userIdentity = userIdentityOf(envelope.userIdentity);
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
    user_identity: userIdentity,
    ttl_delete: eventName === 'remove' && userIdentity?.type === 'Service' && userIdentity.principal_id === 'dynamodb.amazonaws.com',
    sets: [],
  };
  const deadLetter = (code: FailureCode, message: string): Decoded[] => [{ outcome: 'dead_letter', meta, raw, code, message }];

  if (!isObject(record)) return deadLetter('invalid-event', `DynamoDB event record is ${record === null ? 'null' : Array.isArray(record) ? 'a list' : `a ${typeof record}`}, not an object`);
  if (!isObject(record.dynamodb)) return deadLetter('invalid-event', 'DynamoDB event record has no dynamodb object');
  if (typeof record.eventSourceARN !== 'string') return deadLetter('invalid-event', 'DynamoDB event record has no eventSourceARN: its table is unknown');
  if (sequence === '') return deadLetter('invalid-event', 'DynamoDB stream record has no SequenceNumber');
  if (eventName === undefined) return deadLetter('invalid-event', `unknown eventName ${JSON.stringify(record.eventName)}`);
  if (stream.Keys === undefined) return deadLetter('invalid-event', 'DynamoDB stream record has no Keys');

  if (!config.events.includes(eventName)) {
    meta.keys = keysOrEmpty(stream.Keys);
    return [{ outcome: 'filtered', meta, raw, reason: `event ${eventName} is not in events (${config.events.join(', ')})` }];
  }

  try {
    meta.keys = unmarshallImage(stream.Keys, 'Keys');
    return [{ outcome: 'record', value: chooseImage(stream, eventName, config.image, meta.sets), meta, raw }];
  } catch (error) {
    if (error instanceof InvalidAttributeValueError) return deadLetter('invalid-attribute-value', error.message);
    throw error;
  }
}

function chooseImage(stream: StreamRecord, eventName: EventName, image: DynamoDbDecodeConfig['image'], sets: string[]): RecordValue {
  // The keys are read again rather than shared with meta.keys: steps may change the record, not meta.
  const read = (which: 'NewImage' | 'OldImage', prefix: string) =>
    stream[which] === undefined ? unmarshallImage(stream.Keys, 'Keys', { prefix, paths: sets }) : unmarshallImage(stream[which], which, { prefix, paths: sets });
  switch (image) {
    case 'new':
      // A removed item has no new image: its keys let a search sink delete the document.
      return eventName === 'remove' ? unmarshallImage(stream.Keys, 'Keys', { prefix: '', paths: sets }) : read('NewImage', '');
    case 'old':
      return read('OldImage', '');
    case 'both':
      return { new: eventName === 'remove' ? null : read('NewImage', 'new'), old: eventName === 'insert' ? null : read('OldImage', 'old') };
  }
}

/** `userIdentity` as DynamoDB Streams sends it (`{ type, principalId }`), in meta's snake_case; null when absent or malformed. */
function userIdentityOf(identity: unknown): DynamoDbMeta['user_identity'] {
  if (!isObject(identity)) return null;
  const { type, principalId } = identity as { type?: unknown; principalId?: unknown };
  if (typeof type !== 'string' || typeof principalId !== 'string') return null;
  return { type, principal_id: principalId };
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
