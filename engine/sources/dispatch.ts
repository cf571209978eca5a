import type { DynamoDBRecord, KinesisStreamRecord } from 'aws-lambda';
import type { BatchItem } from '../pipeline/pipeline.ts';
import type { Decoded, S3Meta } from '../pipeline/record.ts';
import type { ObjectStore } from '../ports/object-store.ts';
import type { DynamoDbDecodeConfig } from './dynamodb/config.ts';
import { decodeDynamoDbRecord, dynamoDbItemId, isDynamoDbEvent } from './dynamodb/decode.ts';
import type { KinesisDecodeConfig } from './kinesis/config.ts';
import { decodeKinesisRecord, isKinesisEvent, kinesisItemId } from './kinesis/decode.ts';
import { compileFilterPatterns } from './kinesis/filter-pattern.ts';
import type { FilterPatterns } from './kinesis/filter-pattern.ts';
import type { S3SourceConfig } from './s3/config.ts';
import { isS3Event, matchesSource, parseS3Event } from './s3/event.ts';
import type { S3ObjectRef } from './s3/event.ts';
import { readObjectRecords } from './s3/read.ts';
import { ObjectContext } from './s3/object-context.ts';

export type SourceConfig =
  | ({ type: 'kinesis'; stream: string } & KinesisDecodeConfig)
  | ({ type: 'dynamodb'; stream_arn?: string } & DynamoDbDecodeConfig)
  | ({ type: 's3' } & S3SourceConfig);

/** What an event turned into: the items to process, and whether Lambda accepts a partial batch response for it. */
export interface DispatchedEvent {
  kind: 'kinesis' | 'dynamodb' | 's3' | 'schedule';
  items: Iterable<BatchItem> | AsyncIterable<BatchItem>;
  /** False for direct S3, SNS and EventBridge invocations: any failure must fail the invocation. */
  partialBatch: boolean;
}

/** An event that no declared source accepts. Thrown: it is a wiring problem, not a bad record. */
export class UnknownEventError extends Error {
  override name = 'UnknownEventError';
}

export interface DispatchOptions {
  /**
   * The event is for this source alone (`ingest test`, where a case names its source): an event
   * of another type is rejected, and a stream or table still given as a parameter reference
   * without a value accepts any ARN, since the test cannot know the value.
   */
  source?: string;
}

/**
 * Recognises the event's shape and hands each batch item to the source that declared its
 * origin: a Kinesis event by its stream ARN, a DynamoDB Streams event by its stream ARN or the
 * table it names, S3 objects by bucket, prefix and suffix. Throws `UnknownEventError` naming what
 * was received when no source declares the origin, whether the spec has one source of that type
 * or several, so nothing of a foreign event is processed. A stream record that names another
 * stream than the first one of its event also rejects the event; a record too malformed to name
 * one (not an object, no `eventSourceARN`) is dead-lettered alone as `invalid-event`. An S3 event
 * none of whose objects belongs to a source is rejected; within a batch that has objects of a
 * source, a foreign object is dead-lettered alone (`unmatched-object`), so it cannot hold the
 * others hostage. See docs/decisions/0019-event-dispatch.md.
 */
export function dispatchEvent(event: unknown, sources: Readonly<Record<string, SourceConfig>>, store: ObjectStore, options: DispatchOptions = {}): DispatchedEvent {
  const declared = Object.entries(sources).filter(([id]) => options.source === undefined || id === options.source);
  const lenient = options.source !== undefined;
  if (isKinesisEvent(event)) {
    const arn = streamArnOf(event.Records, 'Kinesis stream');
    const [id, source] = find(declared, 'kinesis', (candidate) => kinesisStreamMatches(candidate.stream, arn, lenient), `Kinesis stream ${arn}`, options.source);
    const filter = compiledFilter(source);
    return {
      kind: 'kinesis',
      partialBatch: true,
      items: new ChunkedDecoder(event.Records, kinesisItem, id, source, filter),
    };
  }
  if (isDynamoDbEvent(event)) {
    const arn = streamArnOf(event.Records, 'DynamoDB stream');
    const [id, source] = find(declared, 'dynamodb', (candidate) => dynamoDbStreamMatches(candidate, arn, lenient), `DynamoDB stream ${arn}`, options.source);
    return {
      kind: 'dynamodb',
      partialBatch: true,
      items: new ChunkedDecoder(event.Records, dynamoDbItem, id, source, undefined),
    };
  }
  if (isS3Event(event)) {
    const s3Sources = declared.filter((entry): entry is [string, Extract<SourceConfig, { type: 's3' }>] => entry[1].type === 's3');
    if (s3Sources.length === 0) throw new UnknownEventError(`received an S3 object event, but ${noSourceOfType('s3', declared, options.source)}`);
    const items = parseS3Event(event);
    const objects = items.flatMap((item) => item.objects ?? []);
    if (objects.length > 0 && !objects.some((ref) => s3Sources.some(([, source]) => matchesSource(ref, source)))) {
      const names = s3Sources.map(([id, source]) => `${id}: s3://${source.bucket}/${source.prefix ?? ''}*${source.suffix ?? ''}`).join(', ');
      throw new UnknownEventError(`received an S3 event for ${objects.slice(0, 3).map((ref) => `s3://${ref.bucket}/${ref.key}`).join(', ')}${objects.length > 3 ? ', ...' : ''}, which no s3 source declares (${names})`);
    }
    const contentsRead = new Set<string>();
    return {
      kind: 's3',
      partialBatch: items.some((item) => item.itemId !== undefined),
      items: items.map((item): BatchItem => ({
        id: item.itemId,
        records: item.failure ? [unreadableItem(item.failure, s3Sources[0]![0])] : objectRecords(item.objects, s3Sources, store, contentsRead),
        // What an object that cannot be read at all is counted under (docs/decisions/0010-item-commit-point.md).
        source: item.objects?.map((ref) => s3Sources.find(([, source]) => matchesSource(ref, source))?.[0]).find((id) => id !== undefined),
      })),
    };
  }
  if (isScheduledEvent(event)) return { kind: 'schedule', items: [], partialBatch: false };
  throw new UnknownEventError(`received an event no source declares: ${describeEvent(event)}`);
}

const compiledFilters = new WeakMap<object, FilterPatterns>();

/** The source's Lambda event filter, compiled once per source (the spec lives as long as the function). */
function compiledFilter(source: Extract<SourceConfig, { type: 'kinesis' }>): FilterPatterns | undefined {
  if (source.filter === undefined) return undefined;
  let compiled = compiledFilters.get(source);
  if (compiled === undefined) {
    compiled = compileFilterPatterns(source.filter);
    compiledFilters.set(source, compiled);
  }
  return compiled;
}

/** Records of a stream event decoded at a time; see `ChunkedDecoder`. */
const DECODE_CHUNK = 128;

/** Decodes one record of a stream event as a batch item of the source `sourceId` (`source` its config). */
type ItemDecoder<T, S> = (record: T, sourceId: string, source: S, filter: FilterPatterns | undefined) => BatchItem;

function kinesisItem(record: KinesisStreamRecord, sourceId: string, source: KinesisDecodeConfig, filter: FilterPatterns | undefined): BatchItem {
  return { id: kinesisItemId(record), records: decodeKinesisRecord(record, sourceId, source, filter) };
}

function dynamoDbItem(record: DynamoDBRecord, sourceId: string, source: DynamoDbDecodeConfig): BatchItem {
  return { id: dynamoDbItemId(record), records: decodeDynamoDbRecord(record, sourceId, source) };
}

/**
 * The items of a stream event, decoded a chunk at a time as the pipeline asks for them. On the
 * runtime benchmark (10,000 JSON records) both extremes take about 10 % longer: decoding the
 * whole batch first keeps every record alive until the pipeline reaches it, so the garbage
 * collector copies the batch; decoding each record just before its turn interleaves JSON parsing
 * with the steps and sinks, and parsing runs faster in a tight loop.
 *
 * An iterator of its own rather than a generator, and one object per event: a generator made
 * an iterator result per item (two while it delegated to each chunk), this iterator hands out
 * one result object again and again (`for...of` reads it before asking for the next item), and
 * its decoder is a module function given its arguments rather than a closure made per event,
 * whose code V8 optimized again for every invocation
 * (docs/decisions/0061-fewer-objects-per-record.md). Like a generator, it iterates once.
 */
class ChunkedDecoder<T, S> implements IterableIterator<BatchItem> {
  private readonly chunk: BatchItem[] = [];
  /** Where the decoded chunk starts in `records`, and where it ends. */
  private start = 0;
  private end = 0;
  /** The next item to hand out, as an index into `records`. */
  private cursor = 0;
  private readonly result: IteratorYieldResult<BatchItem> = { done: false, value: undefined as unknown as BatchItem };

  constructor(
    private readonly records: readonly T[],
    private readonly decode: ItemDecoder<T, S>,
    private readonly sourceId: string,
    private readonly source: S,
    private readonly filter: FilterPatterns | undefined,
  ) {}

  [Symbol.iterator](): IterableIterator<BatchItem> {
    return this;
  }

  next(): IteratorResult<BatchItem> {
    if (this.cursor === this.end) {
      const { records } = this;
      if (this.end === records.length) {
        // Its layout outlives the invocation (docs/decisions/0057-stable-layouts.md); its items do not.
        this.chunk.length = 0;
        this.result.value = undefined as unknown as BatchItem;
        lastDecoder = this;
        return { done: true, value: undefined };
      }
      this.start = this.end;
      this.end = Math.min(this.start + DECODE_CHUNK, records.length);
      for (let index = this.start; index < this.end; index++) this.chunk[index - this.start] = this.decode(records[index]!, this.sourceId, this.source, this.filter);
    }
    this.result.value = this.chunk[this.cursor++ - this.start]!;
    return this.result;
  }
}

/**
 * The last stream event's decoder, emptied, alive until the next one is done: V8 collects a
 * hidden class once no object has it, and deoptimizes the code compiled against it
 * (docs/decisions/0057-stable-layouts.md). Nothing reads it.
 */
let lastDecoder: unknown;

/** The records of an item's objects, in chunks (see `BatchItem.records`). */
async function* objectRecords(objects: S3ObjectRef[], sources: [string, Extract<SourceConfig, { type: 's3' }>][], store: ObjectStore, contentsRead: Set<string>): AsyncIterable<Decoded[]> {
  for (const ref of objects) {
    const match = sources.find(([, source]) => matchesSource(ref, source));
    if (!match) {
      yield [unmatchedObject(ref, sources[0]![0])];
      continue;
    }
    yield* readObjectRecords(store, ref, match[0], match[1], contentsRead);
  }
}

function unmatchedObject(ref: S3ObjectRef, sourceId: string): Decoded {
  const message = `object s3://${ref.bucket}/${ref.key} matches no s3 source (bucket, prefix, suffix); check the notification wiring`;
  return new ObjectContext(ref, sourceId, {}, 0).deadLetter(0, Buffer.from(JSON.stringify(ref)), 'unmatched-object', message);
}

function unreadableItem(failure: { code: 'invalid-json' | 'invalid-event'; message: string; raw: string }, sourceId: string): Decoded {
  const meta: S3Meta = { event: 's3', source: sourceId, bucket: '', key: '', line: 0, arrival_time: new Date().toISOString(), position: 'event' };
  return { outcome: 'dead_letter', code: failure.code === 'invalid-json' ? 'invalid-json' : 'invalid-event', message: failure.message, meta, raw: Buffer.from(failure.raw) };
}

function find<T extends SourceConfig['type']>(
  declared: [string, SourceConfig][],
  type: T,
  matches: (source: Extract<SourceConfig, { type: T }>) => boolean,
  what: string,
  only: string | undefined,
): [string, Extract<SourceConfig, { type: T }>] {
  const candidates = declared.filter((entry): entry is [string, Extract<SourceConfig, { type: T }>] => entry[1].type === type);
  if (candidates.length === 0) throw new UnknownEventError(`received an event from ${what}, but ${noSourceOfType(type, declared, only)}`);
  const match = candidates.find(([, source]) => matches(source));
  if (!match) {
    const names = candidates.map(([id, source]) => `${id}: ${declaredOrigin(source)}`).join(', ');
    throw new UnknownEventError(`received an event from ${what}, but no ${type} source declares it (${type} sources: ${names})`);
  }
  return match;
}

function noSourceOfType(type: SourceConfig['type'], declared: [string, SourceConfig][], only: string | undefined): string {
  if (only !== undefined) {
    const source = declared[0]?.[1];
    return source === undefined ? `the spec declares no source \`${only}\`` : `source \`${only}\` is a ${source.type} source, not a ${type} source`;
  }
  return `the spec declares no ${type} source`;
}

function declaredOrigin(source: SourceConfig): string {
  switch (source.type) {
    case 'kinesis':
      return `stream ${source.stream}`;
    case 'dynamodb':
      return source.stream_arn ?? `table ${source.table ?? '?'}`;
    case 's3':
      return `s3://${source.bucket}/${source.prefix ?? ''}`;
  }
}

/**
 * The stream ARN every record of a stream event names. Lambda sends one stream per event, so a
 * record naming another one is a foreign record: the event is rejected rather than half-processed.
 * Records without a string ARN are left to their decoder, which dead-letters them.
 */
function streamArnOf(records: readonly unknown[], what: string): string {
  let arn: string | undefined;
  // Indexed: `for...of` in code run once per event makes an iterator result per record.
  for (let index = 0; index < records.length; index++) {
    const record = records[index];
    const candidate = typeof record === 'object' && record !== null ? (record as { eventSourceARN?: unknown }).eventSourceARN : undefined;
    if (typeof candidate !== 'string') continue;
    if (arn === undefined) arn = candidate;
    else if (candidate !== arn) throw new UnknownEventError(`received one event with records from ${what} ${arn} and ${candidate}; Lambda delivers one stream per event`);
  }
  return arn ?? '(no eventSourceARN)';
}

/** An unresolved `${param.x}`: accepted as any origin only for spec tests (`lenient`). */
function isUnresolvedReference(value: string | undefined): boolean {
  return value !== undefined && value.includes('${param.');
}

/**
 * A Kinesis source names its stream by ARN (the event's ARN must be it, or one of its enhanced
 * fan-out consumers) or by name (the stream in the event's ARN must have that name).
 */
function kinesisStreamMatches(declared: string, arn: string, lenient: boolean): boolean {
  if (lenient && isUnresolvedReference(declared)) return true;
  if (declared.startsWith('arn:')) return arn === declared || arn.startsWith(`${declared}/consumer/`);
  return /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/([^/]+)/.exec(arn)?.[1] === declared;
}

/**
 * A DynamoDB source matches its stream ARN, or another stream of the same table: a stream
 * re-enabled on its table gets a new ARN. The table is the one in the declared stream ARN
 * (same partition, region and account), else the declared `table` (name or ARN).
 */
function dynamoDbStreamMatches(source: Extract<SourceConfig, { type: 'dynamodb' }>, arn: string, lenient: boolean): boolean {
  if (source.stream_arn === arn) return true;
  const eventTable = tableArnOf(arn);
  if (eventTable === undefined) return false;
  const declaredTable = source.stream_arn === undefined ? undefined : tableArnOf(source.stream_arn);
  if (declaredTable !== undefined) return declaredTable === eventTable;
  const { table } = source;
  if (table !== undefined && !isUnresolvedReference(table)) return table.startsWith('arn:') ? table === eventTable : eventTable.endsWith(`:table/${table}`);
  // Neither the stream nor the table has a value: only a spec test, which names its source, accepts the event.
  return lenient;
}

/** `arn:aws:dynamodb:r:a:table/users/stream/label` → `arn:aws:dynamodb:r:a:table/users`. */
function tableArnOf(arn: string): string | undefined {
  return /^(arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+)\/stream\//.exec(arn)?.[1];
}

function isScheduledEvent(event: unknown): boolean {
  const candidate = event as { source?: unknown; 'detail-type'?: unknown } | null;
  return candidate?.source === 'aws.events' && candidate['detail-type'] === 'Scheduled Event';
}

function describeEvent(event: unknown): string {
  if (event === null || typeof event !== 'object') return `a ${event === null ? 'null' : typeof event} value`;
  const keys = Object.keys(event).slice(0, 8);
  const records = (event as { Records?: unknown[] }).Records;
  const first = Array.isArray(records) ? (records[0] as Record<string, unknown> | undefined) : undefined;
  const origin = first ? ` with Records[0].eventSource=${JSON.stringify(first.eventSource ?? first.EventSource)}` : '';
  return `an object with keys [${keys.join(', ')}]${origin}`;
}
