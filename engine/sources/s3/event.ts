import type { S3SourceConfig } from './config.ts';

/**
 * Recognises the Lambda events that announce new S3 objects and turns them into object
 * references. Four deliveries are understood, each possibly wrapped:
 *
 * - EventBridge `Object Created` events (`source: aws.s3`), delivered through SQS (the default
 *   wiring the generator creates) or straight to Lambda;
 * - classic S3 event notifications (`Records[].eventSource: aws:s3`), straight to Lambda,
 *   through SQS, through SNS, or through SNS then SQS (with or without raw message delivery).
 *
 * Object keys arrive URL-encoded in form style (`red flower.jpg` → `red+flower.jpg`,
 * `a+b` → `a%2Bb`) and are decoded here, for EventBridge events too: the AWS user guide only
 * documents the encoding for notifications, but S3 encodes EventBridge `detail.object.key` the
 * same way (AWS Powertools decodes it with `unquote_plus`; LocalStack's AWS-validated emulation
 * encodes both alike). A key whose `%` sequences do not decode is kept as sent.
 */

/** One object an event announces. */
export interface S3ObjectRef {
  bucket: string;
  /** The object key, URL-decoded: what GetObject takes. */
  key: string;
  /** Size in bytes as announced by the event. */
  size?: number;
  /** ETag without quotes, as announced by the event. */
  etag?: string;
  /** Orders events for the same key (hexadecimal string; compare after left-padding). */
  sequencer?: string;
  /** The version the event announces (versioned buckets): the one read. */
  versionId?: string;
  /** ISO-8601 time of the event: the records' `arrival_time`. */
  eventTime: string;
}

/** Why one batch item could not be read as an S3 event. */
export interface S3EventItemFailure {
  /** `invalid-json`: the message body is not JSON; `invalid-event`: JSON, but not a shape this module knows. */
  code: 'invalid-json' | 'invalid-event';
  message: string;
  /** The item as delivered (SQS body, SNS message, or the event as JSON), for the dead letter. */
  raw: string;
}

/**
 * The objects of one batch item: one SQS message, one SNS record, or the whole event for direct
 * S3 and EventBridge invocations. `itemId` is the SQS `messageId` to report in
 * `batchItemFailures`, and `undefined` where Lambda has no partial-batch response (direct S3,
 * SNS, EventBridge). An item that could not be parsed has a `failure` instead of `objects`;
 * its neighbours are unaffected. An item may hold no object: `s3:TestEvent`, events other than
 * object creation (removals, restores, tags), and empty `Records`.
 */
export type S3EventItem =
  | { itemId: string | undefined; objects: S3ObjectRef[]; failure?: undefined }
  | { itemId: string | undefined; objects?: undefined; failure: S3EventItemFailure };

type Json = { [key: string]: unknown };

/**
 * True when `event` is an S3 delivery this module parses: a direct S3 notification, an
 * EventBridge event from `aws.s3`, or an SNS or SQS event at least one of whose records holds
 * an S3 notification, an `s3:TestEvent` or an EventBridge S3 event. An SQS batch whose every
 * body is unreadable is not recognised (nothing in it says it came from S3).
 */
export function isS3Event(event: unknown): boolean {
  if (!isObject(event)) return false;
  if (event.source === 'aws.s3') return true;
  const records = event.Records;
  if (!Array.isArray(records) || records.length === 0) return false;
  const first: unknown = records[0];
  if (!isObject(first)) return false;
  if (first.eventSource === 'aws:s3') return true;
  if (first.EventSource === 'aws:sns') {
    return records.some((record) => isObject(record) && isObject(record.Sns) && isS3Text(record.Sns.Message, 1));
  }
  if (first.eventSource === 'aws:sqs') {
    return records.some((record) => isObject(record) && isS3Text(record.body, 0));
  }
  return false;
}

/**
 * Parses an event that {@link isS3Event} recognised into its batch items, in delivery order.
 * Never throws for bad content: a malformed item becomes an item with a `failure`. Throws a
 * `TypeError` only when `event` has none of the recognised shapes at all.
 *
 * An object announced more than once in the event (S3 and SQS deliver at least once, so one
 * batch can hold the same notification twice) is listed only where it is first announced; the
 * later items keep their ids and lose that object, so a duplicate SQS message succeeds without
 * reading anything. What makes two announcements the same is {@link announcementIdentity}.
 * The output of an invocation thus does not depend on how Lambda batched the duplicates.
 */
export function parseS3Event(event: unknown): S3EventItem[] {
  return withoutRepeatedObjects(parseItems(event));
}

/**
 * What tells two announcements of an object apart: bucket, key, version id, ETag and sequencer.
 * A redelivered notification repeats all five; two writes, even of identical bytes, differ at
 * least in their sequencer (S3 orders the events of one key by it), and each is a write the
 * user made.
 */
function announcementIdentity(ref: S3ObjectRef): string {
  return JSON.stringify([ref.bucket, ref.key, ref.versionId ?? '', ref.etag ?? '', ref.sequencer ?? '']);
}

function withoutRepeatedObjects(items: S3EventItem[]): S3EventItem[] {
  const seen = new Set<string>();
  return items.map((item) => {
    if (item.failure !== undefined) return item;
    const objects = item.objects.filter((ref) => {
      const identity = announcementIdentity(ref);
      if (seen.has(identity)) return false;
      seen.add(identity);
      return true;
    });
    return objects.length === item.objects.length ? item : { itemId: item.itemId, objects };
  });
}

function parseItems(event: unknown): S3EventItem[] {
  if (!isObject(event)) throw new TypeError('not an S3 event: the event is not an object');
  if (event.source === 'aws.s3') return [toItem(undefined, interpret(event, 0), event)];
  const records = event.Records;
  const first: unknown = Array.isArray(records) ? records[0] : undefined;
  if (!Array.isArray(records) || !isObject(first)) throw new TypeError('not an S3 event: no Records');
  if (first.eventSource === 'aws:s3') return [toItem(undefined, interpret(event, 0), event)];
  if (first.EventSource === 'aws:sns') {
    return records.map((record: unknown) => {
      const message = isObject(record) && isObject(record.Sns) ? record.Sns.Message : undefined;
      return toItem(undefined, interpretText(message, 1), message ?? record);
    });
  }
  if (first.eventSource === 'aws:sqs') {
    return records.map((record: unknown) => {
      const messageId = isObject(record) && typeof record.messageId === 'string' ? record.messageId : undefined;
      const body = isObject(record) ? record.body : undefined;
      return toItem(messageId, interpretText(body, 0), body ?? record);
    });
  }
  throw new TypeError('not an S3 event: unknown record source');
}

/** True when the object belongs to the source: same bucket, key within `prefix` and `suffix`. */
export function matchesSource(ref: S3ObjectRef, config: Pick<S3SourceConfig, 'bucket' | 'prefix' | 'suffix'>): boolean {
  return ref.bucket === config.bucket
    && ref.key.startsWith(config.prefix ?? '')
    && ref.key.endsWith(config.suffix ?? '');
}

/** Decodes a key as S3 sends it in events (form encoding: `+` is a space). */
export function decodeEventKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    // Malformed `%` sequences: the key was not encoded by S3 (a hand-written event); use it as is.
    return encoded;
  }
}

type Interpretation = { objects: S3ObjectRef[] } | { code: S3EventItemFailure['code']; message: string };

function toItem(itemId: string | undefined, result: Interpretation, raw: unknown): S3EventItem {
  if ('objects' in result) return { itemId, objects: result.objects };
  return { itemId, failure: { code: result.code, message: result.message, raw: typeof raw === 'string' ? raw : JSON.stringify(raw) ?? '' } };
}

function isS3Text(text: unknown, snsDepth: number): boolean {
  return 'objects' in interpretText(text, snsDepth);
}

function interpretText(text: unknown, snsDepth: number): Interpretation {
  if (typeof text !== 'string') return { code: 'invalid-event', message: 'the message has no text body' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { code: 'invalid-json', message: `the message body is not JSON: ${(error as Error).message}` };
  }
  return interpret(value, snsDepth);
}

/** `snsDepth` counts SNS envelopes already opened: S3 → SNS → SQS nests one, never more. */
function interpret(value: unknown, snsDepth: number): Interpretation {
  if (!isObject(value)) return { code: 'invalid-event', message: 'the message is not a JSON object' };
  if (value.Event === 's3:TestEvent') return { objects: [] };
  if (value.source === 'aws.s3' && typeof value['detail-type'] === 'string') return fromEventBridge(value);
  if (Array.isArray(value.Records)) return fromNotification(value.Records);
  if (value.Type === 'Notification' && typeof value.Message === 'string' && snsDepth === 0) {
    return interpretText(value.Message, snsDepth + 1);
  }
  return { code: 'invalid-event', message: 'the message is neither an S3 event notification, an EventBridge S3 event, nor an SNS notification of one' };
}

function fromEventBridge(event: Json): Interpretation {
  if (event['detail-type'] !== 'Object Created') return { objects: [] };
  const detail = event.detail;
  const bucket = isObject(detail) && isObject(detail.bucket) ? detail.bucket.name : undefined;
  const object = isObject(detail) ? detail.object : undefined;
  if (typeof bucket !== 'string' || bucket === '' || !isObject(object) || typeof object.key !== 'string' || object.key === '') {
    return { code: 'invalid-event', message: 'EventBridge Object Created event lacks detail.bucket.name or detail.object.key' };
  }
  if (typeof event.time !== 'string') return { code: 'invalid-event', message: 'EventBridge Object Created event lacks time' };
  return {
    objects: [withOptional({ bucket, key: decodeEventKey(object.key), eventTime: event.time }, {
      size: object.size,
      etag: object.etag,
      sequencer: object.sequencer,
      versionId: object['version-id'],
    })],
  };
}

function fromNotification(records: unknown[]): Interpretation {
  const objects: S3ObjectRef[] = [];
  for (const [index, record] of records.entries()) {
    if (!isObject(record) || record.eventSource !== 'aws:s3') {
      return { code: 'invalid-event', message: `Records[${index}] is not an S3 event record` };
    }
    if (typeof record.eventName !== 'string' || !record.eventName.startsWith('ObjectCreated:')) continue;
    const s3 = record.s3;
    const bucket = isObject(s3) && isObject(s3.bucket) ? s3.bucket.name : undefined;
    const object = isObject(s3) ? s3.object : undefined;
    if (typeof bucket !== 'string' || bucket === '' || !isObject(object) || typeof object.key !== 'string' || object.key === '') {
      return { code: 'invalid-event', message: `Records[${index}] lacks s3.bucket.name or s3.object.key` };
    }
    if (typeof record.eventTime !== 'string') return { code: 'invalid-event', message: `Records[${index}] lacks eventTime` };
    objects.push(withOptional({ bucket, key: decodeEventKey(object.key), eventTime: record.eventTime }, {
      size: object.size,
      etag: object.eTag,
      sequencer: object.sequencer,
      versionId: object.versionId,
    }));
  }
  return { objects };
}

function withOptional(
  ref: S3ObjectRef,
  optional: { size: unknown; etag: unknown; sequencer: unknown; versionId: unknown },
): S3ObjectRef {
  if (typeof optional.size === 'number' && Number.isSafeInteger(optional.size) && optional.size >= 0) ref.size = optional.size;
  if (typeof optional.etag === 'string' && optional.etag !== '') ref.etag = optional.etag.replace(/^"|"$/g, '');
  if (typeof optional.sequencer === 'string' && optional.sequencer !== '') ref.sequencer = optional.sequencer;
  if (typeof optional.versionId === 'string' && optional.versionId !== '') ref.versionId = optional.versionId;
  return ref;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
