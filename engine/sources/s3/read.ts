import type { Decoded } from '../../pipeline/record.ts';
import { ItemReadError } from '../../pipeline/record.ts';
import type { ObjectStore } from '../../ports/object-store.ts';
import type { S3SourceConfig } from './config.ts';
import { decodeCsvObject } from './decode-csv-object.ts';
import type { S3ObjectRef } from './event.ts';
import { streamJsonElements } from './stream-json-elements.ts';
import { DEFAULT_MAX_DEPTH, parseJsonValue } from '../parse-json-record.ts';
import { LineSplitter, type Line } from './split-lines.ts';
import { ObjectReadError, objectBytes } from './object-bytes.ts';
import { contentIdentity, ObjectContext, objectPosition } from './object-context.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Reads one object of an `s3` source as records, streaming: the object is never held whole,
 * and it is the version the event names when it names one (a later upload or delete marker does
 * not change what an event's records are). Every record's meta carries the object's content
 * identity (`version_id`, `etag`, and `position`; see `objectPosition`).
 * Records come in chunks, in order: those decoded from one chunk of the content (`jsonl`, `text`),
 * from one piece of it (`csv`, possibly none), or one element (`json`). Nothing is read ahead
 * of what the consumer pulls beyond a few chunks (see `objectBytes`), so memory is bounded by the
 * consumer's batch, the chunk size and `max_record_bytes`. Stopping the iteration early closes the object
 * (docs/decisions/0060-chunked-object-reading.md).
 *
 * Formats (all UTF-8; a byte-order mark at the start is ignored; gzip per `compression`):
 * - `jsonl`: one JSON object per line; blank lines skipped. Per line: `invalid-utf8`,
 *   `invalid-json`, `not-an-object`. `line` is the 1-based line, `raw` the line.
 * - `json`: one object, or an array of objects streamed element by element. Per element:
 *   `not-an-object`, `record-too-large`. Malformed JSON ends the object with one `invalid-json`
 *   dead letter at the element it is in, naming the byte offset of the error, with raw the
 *   document's bytes from that element's start (at most `max_record_bytes`); every element
 *   that ends before the error stays good, wherever the read's chunks fall. `line` is the
 *   0-based element index, `raw` the element re-serialised as JSON.
 * - `csv`: see `decodeCsvObject`; values are strings.
 * - `text`: `{ message: line }` per non-empty line (a trailing `\r` removed); `invalid-utf8`.
 * Every format: a line or element larger than `max_record_bytes` → `record-too-large`, with
 * its first `max_record_bytes` bytes as raw (none for JSON elements).
 *
 * Object-level outcomes, each one dead letter for the object (`line` 0):
 * - `object-not-found`: the store has no such object. It was deleted (or overwritten by a
 *   delete marker) between the event and the read; it is not retried, since retrying cannot
 *   bring it back. Empty raw.
 * - `invalid-gzip`: corrupt gzip data, or gzip data that ends before its end marker.
 * - `truncated-object`: the body stream failed, or ended short of the size the store announced.
 * The last two are thrown as an `ItemReadError` mid-iteration, after chunks that turn out to be
 * untrustworthy (a corrupt gzip stream inflates to garbage before its checksum is checked): the
 * pipeline discards the object's output and dead-letters it whole
 * (docs/decisions/0010-item-commit-point.md).
 *
 * With `contentsRead` (one set per invocation), a content already read in the invocation (same
 * bucket, key and version id or ETag; see `contentIdentity`) yields nothing, so the output does
 * not depend on how Lambda batched the events announcing it. Contents without an identity are
 * always read.
 *
 * Rejects with any other error only for failures that a retry may cure: the store's `get`
 * rejecting (access denied, throttling, network), so the caller reports the batch item as
 * failed rather than dead-lettering its records.
 */
export async function* readObjectRecords(
  store: ObjectStore,
  ref: S3ObjectRef,
  sourceId: string,
  config: S3SourceConfig,
  contentsRead?: Set<string>,
): AsyncGenerator<Decoded[]> {
  const maxRecordBytes = config.max_record_bytes;
  const stored = await store.get(ref.bucket, ref.key, ref.versionId === undefined ? {} : { versionId: ref.versionId });
  if (stored === undefined) {
    const context = new ObjectContext(ref, sourceId, {}, maxRecordBytes);
    const what = ref.versionId === undefined ? `s3://${ref.bucket}/${ref.key}` : `version ${ref.versionId} of s3://${ref.bucket}/${ref.key}`;
    yield [context.deadLetter(0, undefined, 'object-not-found', `${what} does not exist: it was deleted after the event was sent`)];
    return;
  }
  const context = new ObjectContext(ref, sourceId, stored, maxRecordBytes);
  const identity = contentIdentity(context.content) === undefined ? undefined : objectPosition(ref.bucket, ref.key, context.content, 0);
  if (identity !== undefined && contentsRead !== undefined) {
    // Two events of an unversioned key in one batch can both read its newest content: read it once.
    if (contentsRead.has(identity)) {
      stored.body.destroy();
      return;
    }
    contentsRead.add(identity);
  }
  const bytes = objectBytes(stored, config.compression);
  switch (config.format) {
    case 'jsonl':
      yield* decodeLines(bytes, context, (line) => decodeJsonLine(line, context, config.max_depth ?? DEFAULT_MAX_DEPTH));
      return;
    case 'text':
      yield* decodeLines(bytes, context, (line) => decodeTextLine(line, context));
      return;
    case 'json':
      yield* decodeJsonDocument(bytes, context, config.max_depth ?? DEFAULT_MAX_DEPTH);
      return;
    case 'csv':
      yield* decodeCsvObject(bytes, context, config.csv);
      return;
  }
}

async function* decodeLines(
  bytes: AsyncIterable<Uint8Array>,
  context: ObjectContext,
  decodeLine: (line: Line) => Decoded | undefined,
): AsyncGenerator<Decoded[]> {
  const lines = new LineSplitter(context.maxRecordBytes);
  const decode = (line: Line, into: Decoded[]) => {
    if (line.number === 1 && startsWithBom(line.bytes)) line.bytes = line.bytes.subarray(BOM.length);
    if (line.oversized) {
      into.push(context.deadLetter(
        line.number,
        line.bytes,
        'record-too-large',
        `line ${line.number} is ${line.length} bytes, larger than max_record_bytes (${context.maxRecordBytes}); raw holds its first ${line.bytes.byteLength} bytes`,
      ));
      return;
    }
    const decoded = decodeLine(line);
    if (decoded !== undefined) into.push(decoded);
  };
  try {
    for await (const chunk of bytes) {
      const decoded: Decoded[] = [];
      for (const line of lines.push(chunk)) decode(line, decoded);
      if (decoded.length > 0) yield decoded;
    }
  } catch (error) {
    if (!(error instanceof ObjectReadError)) throw error;
    // The lines read so far cannot be trusted either: the pipeline discards the object's output (ADR 0010).
    throw new ItemReadError(error.code, `${error.message}; stopped in line ${lines.number}`, context.meta(0), lines.partial(), { cause: error });
  }
  const last = lines.end();
  if (last === undefined) return;
  const decoded: Decoded[] = [];
  decode(last, decoded);
  if (decoded.length > 0) yield decoded;
}

function decodeJsonLine(line: Line, context: ObjectContext, maxDepth: number): Decoded | undefined {
  let text: string;
  try {
    text = utf8.decode(line.bytes);
  } catch {
    return context.deadLetter(line.number, line.bytes, 'invalid-utf8', `line ${line.number} is not valid UTF-8`);
  }
  if (text.trim() === '') return undefined;
  const parsed = parseJsonValue(text, maxDepth);
  if (!parsed.ok) {
    const reason = parsed.code === 'invalid-json' ? `is not valid JSON: ${parsed.message}` : `cannot be a record: ${parsed.message}`;
    return context.deadLetter(line.number, line.bytes, parsed.code, `line ${line.number} ${reason}`);
  }
  return context.recordOrNotAnObject(line.number, parsed.value, line.bytes, `line ${line.number}`);
}

function decodeTextLine(line: Line, context: ObjectContext): Decoded | undefined {
  if (line.bytes.byteLength === 0) return undefined;
  try {
    return context.record(line.number, { message: utf8.decode(line.bytes) }, line.bytes);
  } catch {
    return context.deadLetter(line.number, line.bytes, 'invalid-utf8', `line ${line.number} is not valid UTF-8`);
  }
}

async function* decodeJsonDocument(bytes: AsyncIterable<Uint8Array>, context: ObjectContext, maxDepth: number): AsyncGenerator<Decoded[]> {
  for await (const element of streamJsonElements(bytes, context.maxRecordBytes, maxDepth)) {
    switch (element.kind) {
      case 'value': {
        const raw = Buffer.from(JSON.stringify(element.value));
        yield [context.recordOrNotAnObject(element.index, element.value, raw, `element ${element.index}`)];
        break;
      }
      case 'too-large':
        yield [context.deadLetter(
          element.index,
          undefined,
          'record-too-large',
          `element ${element.index} is larger than max_record_bytes (${context.maxRecordBytes}); it was skipped unread`,
        )];
        break;
      case 'refused':
        yield [context.deadLetter(element.index, undefined, element.code, element.message)];
        break;
      case 'stopped':
        if (element.code === 'invalid-gzip' || element.code === 'truncated-object') throw new ItemReadError(element.code, element.message, context.meta(0));
        // One dead letter for the rest of the document, at the element the error is in, with that element's bytes on.
        yield [context.deadLetter(element.index, element.raw, element.code, element.message)];
        return;
    }
  }
}

function startsWithBom(bytes: Uint8Array): boolean {
  return bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
}
