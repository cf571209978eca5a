/**
 * JSON text to record values, the one way every decoder (Kinesis `json`, S3 `jsonl` and `json`,
 * CloudWatch Logs payloads) and the `parse_json` step read it. Decided in
 * docs/decisions/0022-json-record-values.md:
 *
 * - **Depth is bounded.** A value nested deeper than `max_depth` (objects and lists; a scalar is
 *   depth 0, `{"a": 1}` depth 1) is refused with `too-deep`, so no later step, sink or dead-letter
 *   writer walks a structure deep enough to exhaust the stack.
 * - **Integers keep their value.** An integer beyond 2^53 stays its exact decimal text, as
 *   DynamoDB numbers do (ADR 0005): `12345678901234567890` stays `"12345678901234567890"`.
 *   Fractions and exponents read as doubles, as JSON means them.
 * - **No number becomes infinite.** A number beyond the double range (`1e400`) is refused with
 *   `non-finite-number`; `JSON.parse` would turn it into `Infinity`, which JSON writes as `null`.
 *
 * `JSON.parse` does the work for almost every record; only text with an integer long enough to
 * lose digits, or a number beyond the double range, is parsed a second time with lossless-json.
 */
import { parse as parseLossless } from 'lossless-json';
import type { RecordValue } from '../pipeline/record.ts';
import { convertDynamoDbNumber } from './dynamodb/convert-number.ts';

/** `max_depth` when the spec leaves it out. */
export const DEFAULT_MAX_DEPTH = 256;

/** Why JSON text gives no value. */
export type JsonProblemCode = 'invalid-json' | 'too-deep' | 'non-finite-number';

export type ParsedJson = { ok: true; value: unknown } | { ok: false; code: JsonProblemCode; message: string };

export type ParsedJsonRecord =
  | { ok: true; value: RecordValue }
  | { ok: false; code: JsonProblemCode | 'not-an-object'; message: string };

/**
 * A number token in structural position (after `[`, `,`, `:` or at the start) that `JSON.parse`
 * may change: an integer of 16 or more digits (beyond 2^53), or a number with an exponent
 * (which may overflow). Group 1 is the token. Matches inside strings only cost the check of
 * {@link changesSomeNumber}, or at worst a second parse.
 */
const NUMBER_AT_RISK = /(?:^|[,:[])\s*(-?\d{16,}(?![\d.eE])|-?\d[\d.]*[eE][-+]?\d+)/g;

/**
 * A cheap test that every text {@link NUMBER_AT_RISK} matches also passes (a number token starts
 * with a digit, and a digit precedes its exponent), 30–40 times faster on ordinary records; only
 * texts that pass it (long digit runs, hex ids such as `9e4f`) pay for the exact test.
 */
const MAYBE_AT_RISK = /\d{16}|\d[eE]/;

/**
 * Parses JSON text into a value. Never throws.
 *
 * @returns the value, or `invalid-json` (with `JSON.parse`'s message), `too-deep` (nested
 *   deeper than `maxDepth`) or `non-finite-number` (a number beyond the double range).
 */
export function parseJsonValue(text: string, maxDepth: number = DEFAULT_MAX_DEPTH): ParsedJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, code: 'invalid-json', message: (error as Error).message };
  }
  // V8 parses any depth without recursion; bound it before anything recursive sees the value.
  // Nesting deeper than maxDepth takes more than maxDepth opening and closing brackets, so short
  // texts (most records) need no walk.
  if (text.length > 2 * maxDepth + 1 && exceedsDepth(value, maxDepth)) {
    return { ok: false, code: 'too-deep', message: `JSON is nested deeper than max_depth (${maxDepth})` };
  }
  if (!MAYBE_AT_RISK.test(text) || !changesSomeNumber(text)) return { ok: true, value };
  try {
    return { ok: true, value: parseLossless(text, undefined, { parseNumber: jsonNumber, onDuplicateKey: lastValueWins }) };
  } catch (error) {
    if (error instanceof NonFiniteNumberError) return { ok: false, code: 'non-finite-number', message: error.message };
    throw error;
  }
}

/**
 * Whether `JSON.parse` changes a number of `text`. Most long numbers in records are doubles that
 * JavaScript itself wrote (`142.85714285714286`, 17 significant digits): they read back exactly,
 * and checking that is far cheaper than parsing the record again losslessly.
 */
function changesSomeNumber(text: string): boolean {
  NUMBER_AT_RISK.lastIndex = 0;
  for (let match = NUMBER_AT_RISK.exec(text); match !== null; match = NUMBER_AT_RISK.exec(text)) {
    const token = match[1]!;
    if (String(Number(token)) === token) continue;
    try {
      if (typeof jsonNumber(token) === 'number') continue;
    } catch {
      // Not a number token after all (text inside a string), or beyond the double range: the
      // lossless parse tells which.
    }
    return true;
  }
  return false;
}

/**
 * Parses JSON text that must be one object, as a record. Never throws. Fails like
 * {@link parseJsonValue}, and with `not-an-object` for any other JSON value.
 */
export function parseJsonRecord(text: string, maxDepth: number = DEFAULT_MAX_DEPTH): ParsedJsonRecord {
  const parsed = parseJsonValue(text, maxDepth);
  if (!parsed.ok) return parsed;
  const { value } = parsed;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'not-an-object', message: `record is JSON ${describeJsonType(value)}, not an object` };
  }
  return { ok: true, value: value as RecordValue };
}

/** Thrown by {@link jsonNumber} for a number beyond the double range. */
export class NonFiniteNumberError extends Error {
  override name = 'NonFiniteNumberError';
}

/**
 * The record value of one JSON number token (`-12`, `0.5`, `1E+3`). JSON numbers are doubles
 * (RFC 8259 section 6), so a fraction or an exponent reads as the nearest double, as every JSON
 * reader does; only an integer written out in digits beyond 2^53 keeps its exact text (ADR 0005),
 * however long, because ids are where lost digits silently change meaning. `-0` becomes `0`.
 *
 * @throws NonFiniteNumberError when the value lies beyond the double range (`1e400`, `-2e308`).
 */
export function jsonNumber(text: string): number | string {
  const number = Number(text);
  if (Number.isSafeInteger(number) || /[.eE]/.test(text)) {
    if (!Number.isFinite(number)) {
      throw new NonFiniteNumberError(`the number ${text.length > 40 ? `${text.slice(0, 37)}...` : text} is beyond the range of a double`);
    }
    return number === 0 ? 0 : number;
  }
  return convertDynamoDbNumber(text);
}

/**
 * Whether `value` holds objects or lists nested deeper than `maxDepth`. Walks at most
 * `maxDepth + 1` levels, so its own recursion is bounded whatever the value.
 */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (maxDepth <= 0) return true;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (typeof item === 'object' && item !== null && exceedsDepth(item, maxDepth - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (typeof item === 'object' && item !== null && exceedsDepth(item, maxDepth - 1)) return true;
  }
  return false;
}

/** As `JSON.parse` does: a repeated key keeps its last value (lossless-json would throw). */
function lastValueWins({ newValue }: { newValue: unknown }): unknown {
  return newValue;
}

function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
