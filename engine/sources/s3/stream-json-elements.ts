import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser, type Token } from 'stream-json/core/parser.js';
import { DEFAULT_MAX_DEPTH, jsonNumber, NonFiniteNumberError } from '../parse-json-record.ts';
import { ObjectReadError } from './object-bytes.ts';

/** Bytes decoded and parsed at a time: the most a decoding or parse error can hide before it. */
const FEED_BYTES = 1024;

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
   * Decoding cannot go on: the last item. `index` is the first element not yielded; elements
   * that end in the last KiB before a JSON or UTF-8 error are not yielded either (the parser
   * gives no tokens for the slice it fails in), and are the first this item stands for.
   */
  | { kind: 'stopped'; index: number; code: 'invalid-json' | 'invalid-utf8' | ObjectReadError['code']; message: string };

/**
 * Streams a JSON document without holding it whole: tokens from stream-json's parser are
 * assembled one element at a time, and an element larger than `maxElementBytes` (measured as
 * its JSON text) is dropped as soon as it passes the bound, its remaining tokens skipped.
 * Memory is one element plus one input chunk. An empty (or all-whitespace) document yields
 * nothing. An element nested deeper than `maxDepth` (a top-level array does not count) is
 * skipped as `refused`, as soon as it passes the bound. Never throws for bad content: malformed
 * JSON, invalid UTF-8 and an {@link ObjectReadError} from `chunks` end the sequence with a
 * `stopped` item.
 */
export async function* streamJsonElements(
  chunks: AsyncIterable<Uint8Array>,
  maxElementBytes: number,
  maxDepth: number = DEFAULT_MAX_DEPTH,
): AsyncGenerator<JsonElement> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const parse = jsonParser({ packValues: false, streamValues: true }) as (text: string | typeof none) => unknown;
  const assembler = new ElementAssembler(maxElementBytes, maxDepth);
  let bytesRead = 0;
  let sawContent = false;

  const stop = (code: Extract<JsonElement, { kind: 'stopped' }>['code'], reason: string): JsonElement => ({
    kind: 'stopped',
    index: assembler.index,
    code,
    message: `${reason}, in element ${assembler.index}, after ${bytesRead} bytes of JSON`,
  });

  try {
    for await (const chunk of chunks) {
      // Small slices: a slice that fails to decode or parse yields none of its tokens, so the
      // elements that end just before an error are lost only within one slice.
      for (let offset = 0; offset < chunk.byteLength; offset += FEED_BYTES) {
        const slice = chunk.subarray(offset, offset + FEED_BYTES);
        let text: string;
        try {
          text = decoder.decode(slice, { stream: true });
        } catch {
          yield stop('invalid-utf8', 'the JSON is not valid UTF-8');
          return;
        }
        if (!sawContent && /\S/.test(text)) sawContent = true;
        let tokens: Token[];
        try {
          tokens = tokensOf(parse(text));
        } catch (error) {
          yield stop('invalid-json', `the JSON is malformed (${(error as Error).message})`);
          return;
        }
        bytesRead += slice.byteLength;
        for (const token of tokens) {
          const element = assembler.consume(token);
          if (element !== undefined) yield element;
        }
      }
    }
  } catch (error) {
    if (!(error instanceof ObjectReadError)) throw error;
    yield stop(error.code, error.message);
    return;
  }

  try {
    decoder.decode();
  } catch {
    yield stop('invalid-utf8', 'the JSON ends inside a UTF-8 sequence');
    return;
  }
  let tokens: Token[];
  try {
    tokens = tokensOf(parse(none));
  } catch (error) {
    // An empty or all-whitespace document holds no element; anything else left open is an error.
    if (sawContent) yield stop('invalid-json', `the JSON ends early (${(error as Error).message})`);
    return;
  }
  for (const token of tokens) {
    const element = assembler.consume(token);
    if (element !== undefined) yield element;
  }
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

  private beginIfElement(): void {
    if (this.depth !== this.elementDepth) return;
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
