import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser, type Token } from 'stream-json/core/parser.js';
import { jsonVerifier } from 'stream-json/core/utils/verifier.js';
import { DEFAULT_MAX_DEPTH, jsonNumber, NonFiniteNumberError } from '../parse-json-record.ts';
import { ObjectReadError } from './object-bytes.ts';

/**
 * Characters parsed at a time. Windows are cut from the decoded text, not from the read's
 * chunks, so where a read's chunks fall changes nothing.
 */
const FEED_CHARS = 1024;

/**
 * What {@link streamJsonElements} finds: each element of a top-level array (or the top-level
 * value itself when it is not an array), in order. `index` is the element's 0-based position.
 */
export type JsonElement =
  | { kind: 'value'; index: number; value: unknown }
  /** The element exceeded the bound and was skipped without being held; `bytes` is its size so far. */
  | { kind: 'too-large'; index: number; bytes: number }
  /**
   * The element cannot be a record value and was skipped: nested deeper than `maxDepth`
   * (`too-deep`), or holding a number beyond the double range (`non-finite-number`). Numbers
   * follow the JSON record rules of `parse-json-record.ts` (exact text beyond 2^53).
   */
  | { kind: 'refused'; index: number; code: 'too-deep' | 'non-finite-number'; message: string }
  /**
   * Decoding cannot go on: the last item. `index` is the element the error is in (or the next
   * one, when it falls between elements); every element that ends before the error was yielded.
   * `offset` is the byte offset of the error in the document. `raw` holds the document's bytes
   * from the start of that element, at most `maxElementBytes` of them (`truncated` when there
   * were more); it is empty for a read error, and when the element's start was no longer held
   * (see {@link streamJsonElements}).
   */
  | {
      kind: 'stopped';
      index: number;
      code: 'invalid-json' | 'invalid-utf8' | ObjectReadError['code'];
      message: string;
      offset: number;
      raw: Uint8Array;
      truncated: boolean;
    };

type Stopped = Extract<JsonElement, { kind: 'stopped' }>;

/** Where parsing can restart with a fresh parser: the document start, or just after a top-level element. */
interface Anchor {
  /** Byte offset of the anchor in the document. */
  bytes: number;
  /** Index of the first element after the anchor. */
  index: number;
  /** True between elements of a top-level array; false at the document start. */
  inArray: boolean;
}

/** A fresh parser put between two elements of a top-level array: its tokens are consumed, never yielded. */
const BETWEEN_ELEMENTS = '[{}';

/**
 * Streams a JSON document without holding it whole: tokens from stream-json's parser are
 * assembled one element at a time, and an element larger than `maxElementBytes` (measured as
 * its JSON text) is dropped as soon as it passes the bound, its remaining tokens skipped.
 * An empty (or all-whitespace) document yields nothing. An element nested deeper than
 * `maxDepth` (a top-level array does not count) is skipped as `refused`, as soon as it passes
 * the bound. Never throws for bad content: malformed JSON, invalid UTF-8 and an
 * {@link ObjectReadError} from `chunks` end the sequence with a `stopped` item. The outcome does
 * not depend on how `chunks` split the document.
 *
 * Recovery: the parser gives no tokens for a window of text it fails in, so the text since the
 * last known restart point (an anchor: the document start, or just after the closing bracket of
 * a top-level element, located by counting closing tokens back from the window's end) is kept.
 * On an error, a fresh parser replays it a character at a time to yield the elements that end
 * before the error, and stream-json's verifier places the error exactly. While the JSON is good
 * nothing of this runs beyond keeping that text and one look at each window's last tokens.
 * Memory is at most about two elements' worth of text (`2 * maxElementBytes`) plus one input
 * chunk; when more text than that passes without an anchor (only elements that are not objects
 * or arrays, or strings holding brackets after every element's end), the text is let go and an
 * error there is placed only to within its window, with an empty raw.
 */
export async function* streamJsonElements(
  chunks: AsyncIterable<Uint8Array>,
  maxElementBytes: number,
  maxDepth: number = DEFAULT_MAX_DEPTH,
): AsyncGenerator<JsonElement> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const parse = jsonParser({ packValues: false, streamValues: true }) as (text: string | typeof none) => unknown;
  const assembler = new ElementAssembler(maxElementBytes, maxDepth);
  const keepChars = 2 * maxElementBytes + 4 * FEED_CHARS;
  let anchor: Anchor | undefined = { bytes: 0, index: 0, inArray: false };
  let kept: string[] = [];
  let keptChars = 0;
  /** Byte offset of the end of the text parsed so far. */
  let parsedBytes = 0;
  let queue = '';
  let sawContent = false;
  let firstText = true;
  /** The bytes of an unfinished UTF-8 sequence the decoder holds from earlier chunks. */
  let carried: Uint8Array = new Uint8Array(0);
  const iterator = chunks[Symbol.asyncIterator]();

  /** Parses one window: yields the elements it completes, returns the error it fails with. */
  const feedWindow = function* (window: string): Generator<JsonElement, Error | undefined> {
    if (anchor !== undefined) {
      kept.push(window);
      keptChars += window.length;
    }
    let tokens: Token[];
    try {
      tokens = tokensOf(parse(window));
    } catch (error) {
      return error as Error;
    }
    parsedBytes += Buffer.byteLength(window);
    /** Index in `tokens` of the last closing bracket that ended a top-level element. */
    let lastClosed = -1;
    for (const [i, token] of tokens.entries()) {
      const element = assembler.consume(token);
      if (element === undefined) continue;
      if ((token.name === 'endObject' || token.name === 'endArray') && assembler.betweenArrayElements) lastClosed = i;
      yield element;
    }
    const at = lastClosed < 0 ? -1 : closingBracketAt(window, tokens, lastClosed);
    if (at >= 0) {
      const tail = window.slice(at + 1);
      anchor = { bytes: parsedBytes - Buffer.byteLength(tail), index: assembler.index, inArray: true };
      kept = [tail];
      keptChars = tail.length;
    } else if (anchor !== undefined && keptChars > keepChars) {
      anchor = undefined;
      kept = [];
      keptChars = 0;
    }
    return undefined;
  };

  /** The rest of the document's bytes, up to `limit`, for a dead letter's raw. */
  const readRest = async (text: string, limit: number): Promise<{ raw: Uint8Array; truncated: boolean }> => {
    const parts: Uint8Array[] = [Buffer.from(text)];
    let length = parts[0]!.byteLength;
    while (length <= limit) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await iterator.next();
      } catch (error) {
        // The raw is a courtesy: a read that fails now leaves it shorter.
        if (error instanceof ObjectReadError) break;
        throw error;
      }
      if (next.done === true) break;
      parts.push(next.value);
      length += next.value.byteLength;
    }
    const all = Buffer.concat(parts);
    return { raw: all.subarray(0, limit), truncated: all.byteLength > limit };
  };

  /** The elements that end before the error and were not yielded yet, then the `stopped` item. */
  const stopAfterError = async (error: Error, atEnd: boolean): Promise<JsonElement[]> => {
    const failing = kept.join('');
    const found = anchor === undefined ? undefined : replay(anchor, failing, atEnd, maxElementBytes, maxDepth);
    if (found === undefined) {
      // No anchor: the error is known only to lie in the text parsed since the last good window.
      const stopped: Stopped = {
        kind: 'stopped',
        index: assembler.index,
        code: 'invalid-json',
        message: `${jsonProblem(error, atEnd)}, in element ${assembler.index}, after byte ${parsedBytes} of the document`,
        offset: parsedBytes,
        raw: new Uint8Array(0),
        truncated: false,
      };
      return [stopped];
    }
    const recovered = found.elements.filter((element) => element.index >= assembler.index);
    const offset = anchor!.bytes + Buffer.byteLength(failing.slice(0, found.errorAt));
    const rest = await readRest(failing.slice(found.elementStart) + queue, maxElementBytes);
    const where = `in element ${found.index}, at byte ${offset} of the document`;
    const truncated = rest.truncated ? `; raw holds the first ${maxElementBytes} bytes (max_record_bytes) from the element's start` : '';
    const stopped: Stopped = {
      kind: 'stopped',
      index: found.index,
      code: 'invalid-json',
      message: `${jsonProblem(found.error ?? error, atEnd)}, ${where}${truncated}`,
      offset,
      ...rest,
    };
    return [...recovered, stopped];
  };

  const stopForUtf8 = (message: string): Stopped => ({
    kind: 'stopped',
    index: assembler.index,
    code: 'invalid-utf8',
    message: `${message}, in element ${assembler.index}, after byte ${parsedBytes} of the document`,
    offset: parsedBytes,
    raw: new Uint8Array(0),
    truncated: false,
  });

  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await iterator.next();
    } catch (error) {
      if (!(error instanceof ObjectReadError)) throw error;
      yield { kind: 'stopped', index: assembler.index, code: error.code, message: error.message, offset: parsedBytes, raw: new Uint8Array(0), truncated: false };
      return;
    }
    let text: string;
    let utf8Error: string | undefined;
    if (next.done === true) {
      try {
        text = decoder.decode();
      } catch {
        text = '';
        utf8Error = 'the JSON ends inside a UTF-8 sequence';
      }
    } else {
      try {
        text = decoder.decode(next.value, { stream: true });
      } catch {
        // The text before the bad byte is still parsed, so that where chunks fall changes nothing.
        text = validPrefix(carried, next.value);
        utf8Error = 'the JSON is not valid UTF-8';
      }
      carried = incompleteTail(next.value, carried);
    }
    if (firstText && text !== '') {
      firstText = false;
      if (text.startsWith('\uFEFF')) {
        // A byte-order mark is not JSON; it still counts in byte offsets.
        text = text.slice(1);
        parsedBytes += 3;
        anchor = { bytes: 3, index: 0, inArray: false };
      }
    }
    if (!sawContent && /\S/.test(text)) sawContent = true;
    queue += text;
    const last = next.done === true || utf8Error !== undefined;
    while (queue.length >= FEED_CHARS || (last && queue !== '')) {
      const window = queue.slice(0, FEED_CHARS);
      queue = queue.slice(window.length);
      const error = yield* feedWindow(window);
      if (error !== undefined) {
        // The text parsed in this window so far is lost to the parser; the replay finds it in `kept`.
        yield* await stopAfterError(error, false);
        return;
      }
    }
    if (utf8Error !== undefined) {
      yield stopForUtf8(utf8Error);
      return;
    }
    if (next.done === true) break;
  }

  let tokens: Token[];
  try {
    tokens = tokensOf(parse(none));
  } catch (error) {
    // An empty or all-whitespace document holds no element; anything else left open is an error.
    if (!sawContent) return;
    yield* await stopAfterError(error as Error, true);
    return;
  }
  for (const token of tokens) {
    const element = assembler.consume(token);
    if (element !== undefined) yield element;
  }
}

/**
 * Where in `window` the closing bracket of `tokens[closed]` is, or -1 when that is not certain.
 * Every bracket after it is either a later closing token or a character of a string, so
 * counting closing tokens back from the end finds it, unless a later string holds a bracket
 * (it may have been written as a `\\u` escape, which is no bracket in the text).
 */
function closingBracketAt(window: string, tokens: Token[], closed: number): number {
  let after = 0;
  for (let i = closed + 1; i < tokens.length; i += 1) {
    const token = tokens[i]!;
    if (token.name === 'endObject' || token.name === 'endArray') after += 1;
    else if (token.name === 'stringChunk' && /[}\]]/.test(token.value)) return -1;
  }
  let at = window.length;
  for (let count = 0; count <= after && at >= 0; count += 1) {
    at = at === 0 ? -1 : Math.max(window.lastIndexOf('}', at - 1), window.lastIndexOf(']', at - 1));
  }
  const expected = tokens[closed]!.name === 'endObject' ? '}' : ']';
  return at >= 0 && window[at] === expected ? at : -1;
}

/** The text a fresh decoder gives for `chunk` (after the `carried` bytes) up to its first invalid byte. */
function validPrefix(carried: Uint8Array, chunk: Uint8Array): string {
  const probe = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let text = probe.decode(carried, { stream: true });
  for (let at = 0; at < chunk.byteLength; at += 1) {
    try {
      text += probe.decode(chunk.subarray(at, at + 1), { stream: true });
    } catch {
      break;
    }
  }
  return text;
}

/** The bytes of an unfinished UTF-8 sequence at the end of what has been decoded so far. */
function incompleteTail(chunk: Uint8Array, carried: Uint8Array): Uint8Array {
  const bytes = chunk.byteLength >= 4 ? chunk.subarray(chunk.byteLength - 4) : Buffer.concat([carried, chunk]);
  for (let back = 1; back <= Math.min(4, bytes.byteLength); back += 1) {
    const byte = bytes[bytes.byteLength - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.subarray(bytes.byteLength - back) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}

/** The parser's complaint in the engine's words. */
function jsonProblem(error: Error, atEnd: boolean): string {
  return atEnd ? `the JSON ends early (${error.message})` : `the JSON is malformed (${error.message})`;
}

/** What {@link replay} finds: the elements that end before the error, and where the error is. */
interface Replayed {
  elements: JsonElement[];
  /** Index of the element the error is in. */
  index: number;
  /** Character offset in the replayed text where that element starts. */
  elementStart: number;
  /** Character offset in the replayed text of the error. */
  errorAt: number;
  error: Error | undefined;
}

/**
 * Re-parses `text` (the document from `anchor` on, through the window the parser failed in) to
 * find every element that ends before the error, the element the error is in with its start,
 * and the error's place. stream-json's verifier, which tracks positions, places the error; a
 * fresh parser then takes the text before it in windows, so it cannot fail, and the last
 * top-level closing bracket in them marks where the failing element starts. Only when elements
 * other than objects and arrays end after that bracket is the rest replayed a character at a
 * time ({@link replayByCharacter}). Returns `undefined` when the text holds no error (a defect
 * here, not bad input).
 */
function replay(anchor: Anchor, text: string, atEnd: boolean, maxElementBytes: number, maxDepth: number): Replayed | undefined {
  const prefix = anchor.inArray ? BETWEEN_ELEMENTS : '';
  const errorAt = verifierErrorAt(prefix, text, atEnd);
  if (errorAt === undefined) return replayByCharacter(anchor, text, atEnd, maxElementBytes, maxDepth);
  const parse = jsonParser({ packValues: false, streamValues: true }) as (text: string | typeof none) => unknown;
  const assembler = new ElementAssembler(maxElementBytes, maxDepth);
  if (anchor.inArray) for (const token of tokensOf(parse(prefix))) assembler.consume(token);
  assembler.index = anchor.index;
  const elements: JsonElement[] = [];
  let boundary = 0;
  let indexAtBoundary = anchor.index;
  for (let start = 0; start < errorAt; start += FEED_CHARS) {
    const window = text.slice(start, Math.min(start + FEED_CHARS, errorAt));
    let tokens: Token[];
    try {
      tokens = tokensOf(parse(window));
    } catch {
      return replayByCharacter(anchor, text, atEnd, maxElementBytes, maxDepth);
    }
    let lastClosed = -1;
    for (const [i, token] of tokens.entries()) {
      const element = assembler.consume(token);
      if (element === undefined) continue;
      elements.push(element);
      if ((token.name === 'endObject' || token.name === 'endArray') && assembler.betweenArrayElements) lastClosed = i;
    }
    const at = lastClosed < 0 ? -1 : closingBracketAt(window, tokens, lastClosed);
    if (at >= 0) {
      boundary = start + at + 1;
      indexAtBoundary = assembler.index;
    } else if (lastClosed >= 0) {
      return replayByCharacter(anchor, text, atEnd, maxElementBytes, maxDepth);
    }
  }
  if (assembler.index !== indexAtBoundary) {
    // Elements that are not objects or arrays ended after the bracket: only a character-wise replay places them.
    const from: Anchor = boundary === 0 ? anchor : { bytes: 0, index: indexAtBoundary, inArray: true };
    const rest = replayByCharacter(from, text.slice(boundary), atEnd, maxElementBytes, maxDepth);
    if (rest === undefined) return undefined;
    return {
      ...rest,
      elements: [...elements.filter((element) => element.index < indexAtBoundary), ...rest.elements],
      elementStart: boundary + rest.elementStart,
      errorAt: boundary + rest.errorAt,
    };
  }
  const atDocumentStart = boundary === 0 && !anchor.inArray;
  let elementStart = atDocumentStart && assembler.inTopLevelArray ? skipSeparators(text, 0, '[') : boundary;
  if (assembler.topLevelArrayClosed) elementStart = skipSeparators(text, elementStart, ']');
  return {
    elements,
    index: assembler.index,
    elementStart: skipSeparators(text, elementStart),
    errorAt,
    error: undefined,
  };
}

/** The verifier's error offset within `text` (after `prefix`), or `undefined` when it finds none. */
function verifierErrorAt(prefix: string, text: string, atEnd: boolean): number | undefined {
  const verify = jsonVerifier() as (text: string | typeof none) => unknown;
  try {
    verify(prefix + text);
    if (atEnd) verify(none);
  } catch (error) {
    const offset = (error as { offset?: unknown }).offset;
    if (typeof offset === 'number' && offset >= prefix.length) return Math.min(offset - prefix.length, text.length);
  }
  return undefined;
}

/**
 * {@link replay} a character at a time: slow (a parser call per character) but it sees every
 * element end, whatever the element.
 */
function replayByCharacter(anchor: Anchor, text: string, atEnd: boolean, maxElementBytes: number, maxDepth: number): Replayed | undefined {
  const parse = jsonParser({ packValues: false, streamValues: true }) as (text: string | typeof none) => unknown;
  const assembler = new ElementAssembler(maxElementBytes, maxDepth);
  const prefix = anchor.inArray ? BETWEEN_ELEMENTS : '';
  if (anchor.inArray) for (const token of tokensOf(parse(prefix))) assembler.consume(token);
  assembler.index = anchor.index;
  const elements: JsonElement[] = [];
  let elementStart: number | undefined;
  let afterLastToken = 0;
  let failedAt: number | undefined;
  let failure: Error | undefined;
  const take = (tokens: Token[], at: number): void => {
    if (tokens.length > 0) afterLastToken = at + 1;
    for (const token of tokens) {
      const wasIn = assembler.inElement;
      const element = assembler.consume(token);
      if (!wasIn && assembler.inElement) elementStart = at;
      if (element !== undefined) {
        elements.push(element);
        elementStart = undefined;
      }
    }
  };
  for (let at = 0; at < text.length; at += 1) {
    try {
      take(tokensOf(parse(text[at]!)), at);
    } catch (error) {
      failedAt = at;
      failure = error as Error;
      break;
    }
  }
  if (failedAt === undefined && atEnd) {
    try {
      take(tokensOf(parse(none)), text.length);
    } catch (error) {
      failedAt = text.length;
      failure = error as Error;
    }
  }
  if (failedAt === undefined) return undefined;
  return {
    elements,
    index: assembler.index,
    elementStart: elementStart ?? skipSeparators(text, afterLastToken),
    errorAt: verifiedErrorAt(prefix, text, failedAt),
    error: failure,
  };
}

/**
 * Where the element after `from` starts: past whitespace and commas, and past one `bracket` of
 * the top-level array (its `[` at the document start, its `]` once it has closed).
 */
function skipSeparators(text: string, from: number, bracket?: '[' | ']'): number {
  let at = from;
  while (at < text.length && ' \t\n\r,'.includes(text[at]!)) at += 1;
  if (bracket !== undefined && text[at] === bracket) return skipSeparators(text, at + 1);
  return at;
}

/** The verifier's exact error offset within `text`, or the parser's own when the verifier disagrees. */
function verifiedErrorAt(prefix: string, text: string, failedAt: number): number {
  const verify = jsonVerifier() as (text: string | typeof none) => unknown;
  try {
    verify(prefix + text.slice(0, failedAt + 1));
    if (failedAt >= text.length) verify(none);
  } catch (error) {
    const offset = (error as { offset?: unknown }).offset;
    if (typeof offset === 'number' && offset >= prefix.length && offset - prefix.length <= failedAt) return offset - prefix.length;
  }
  return Math.min(failedAt, text.length);
}

function tokensOf(output: unknown): Token[] {
  return isMany(output) ? (getManyValues(output) as Token[]) : [];
}

type Container = unknown[] | { [key: string]: unknown };

/**
 * Builds values from streamed tokens (the parser packs nothing, so no string is held twice and
 * none grows past the bound). Elements are the children of a top-level array, or the top-level
 * value when it is not an array.
 */
class ElementAssembler {
  /** Index of the element being assembled, or of the next one. */
  index = 0;
  /** True from an element's first token to its last. */
  inElement = false;
  private started = false;
  private elementDepth = 0;
  private depth = 0;
  private containers: Container[] = [];
  private keys: (string | undefined)[] = [];
  private key: string | undefined;
  private text = '';
  private size = 0;
  private skipping = false;
  /** Why the element being skipped is refused; `undefined` when it is skipped for its size. */
  private refusal: { code: 'too-deep' | 'non-finite-number'; message: string } | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly maxDepth: number,
  ) {}

  consume(token: Token): JsonElement | undefined {
    if (!this.started) {
      this.started = true;
      if (token.name === 'startArray') {
        this.elementDepth = 1;
        this.depth = 1;
        return undefined;
      }
    }
    switch (token.name) {
      case 'startObject':
      case 'startArray':
        this.beginIfElement();
        this.grow(1);
        this.depth += 1;
        if (!this.skipping && this.depth - this.elementDepth > this.maxDepth) {
          this.refuse('too-deep', `element ${this.index} is nested deeper than max_depth (${this.maxDepth}); it was skipped unread`);
        }
        if (!this.skipping) {
          this.keys.push(this.key);
          this.key = undefined;
          this.containers.push(token.name === 'startObject' ? {} : []);
        }
        return undefined;
      case 'endObject':
      case 'endArray': {
        this.depth -= 1;
        if (this.depth < this.elementDepth) return undefined; // the top-level array closed
        this.grow(1);
        if (this.skipping) return this.depth === this.elementDepth ? this.finish(undefined) : undefined;
        const value = this.containers.pop();
        this.key = this.keys.pop();
        return this.place(value);
      }
      case 'startKey':
      case 'startString':
      case 'startNumber':
        if (token.name !== 'startKey') this.beginIfElement();
        this.text = '';
        this.grow(token.name === 'startNumber' ? 0 : 2);
        return undefined;
      case 'stringChunk':
      case 'numberChunk':
        this.grow(Buffer.byteLength(token.value));
        if (!this.skipping) this.text += token.value;
        return undefined;
      case 'endKey':
        this.grow(1);
        this.key = this.text;
        this.text = '';
        return undefined;
      case 'endString':
        return this.scalar(this.text);
      case 'endNumber':
        return this.scalar(this.skipping ? undefined : this.number(this.text));
      case 'nullValue':
      case 'trueValue':
      case 'falseValue':
        this.beginIfElement();
        this.grow(token.name === 'falseValue' ? 5 : 4);
        return this.scalar(token.value);
      default:
        // Packed tokens are turned off; whitespace carries nothing.
        return undefined;
    }
  }

  /** True once the document has shown itself to be a top-level array. */
  get inTopLevelArray(): boolean {
    return this.elementDepth === 1;
  }

  /** True once the top-level array has closed: anything after it is an error. */
  get topLevelArrayClosed(): boolean {
    return this.elementDepth === 1 && this.depth === 0;
  }

  /** True between two elements of a top-level array (or before its first). */
  get betweenArrayElements(): boolean {
    return this.elementDepth === 1 && this.depth === 1 && !this.inElement;
  }

  private beginIfElement(): void {
    if (this.depth !== this.elementDepth) return;
    this.inElement = true;
    this.size = 0;
    this.skipping = false;
    this.refusal = undefined;
  }

  private grow(bytes: number): void {
    this.size += bytes;
    if (!this.skipping && this.size > this.maxBytes) this.skip();
  }

  private skip(): void {
    this.skipping = true;
    this.containers = [];
    this.keys = [];
    this.key = undefined;
    this.text = '';
  }

  private refuse(code: 'too-deep' | 'non-finite-number', message: string): void {
    this.refusal = { code, message };
    this.skip();
  }

  /** The element's number, or `undefined` after refusing the element for it. */
  private number(text: string): number | string | undefined {
    try {
      return jsonNumber(text);
    } catch (error) {
      if (!(error instanceof NonFiniteNumberError)) throw error;
      this.refuse('non-finite-number', `element ${this.index}: ${error.message}`);
      return undefined;
    }
  }

  private scalar(value: unknown): JsonElement | undefined {
    this.text = '';
    if (this.skipping) return this.depth === this.elementDepth ? this.finish(undefined) : undefined;
    return this.place(value);
  }

  private place(value: unknown): JsonElement | undefined {
    const parent = this.containers[this.containers.length - 1];
    if (parent === undefined) return this.finish(value);
    if (Array.isArray(parent)) {
      parent.push(value);
    } else if (this.key === '__proto__') {
      // As JSON.parse does: an own property, never the prototype.
      Object.defineProperty(parent, this.key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      parent[this.key ?? ''] = value;
    }
    this.key = undefined;
    return undefined;
  }

  private finish(value: unknown): JsonElement {
    const index = this.index;
    this.index += 1;
    this.inElement = false;
    if (this.skipping) {
      this.skipping = false;
      const refusal = this.refusal;
      this.refusal = undefined;
      if (refusal !== undefined) return { kind: 'refused', index, ...refusal };
      return { kind: 'too-large', index, bytes: this.size };
    }
    return { kind: 'value', index, value };
  }
}
