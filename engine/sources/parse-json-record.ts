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
 * `JSON.parse` does the work for almost every record; only a record holding a number beyond
 * ±2^53 (an integer that lost digits, or a value beyond the double range) is parsed a second
 * time with lossless-json.
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
  // The same walk finds the numbers JSON.parse could not read faithfully: any integer beyond 2^53
  // (or a value beyond the double range) parses to a double beyond 2^53.
  let found = 0;
  if (typeof value === 'object' && value !== null) found = inspectValue(value, maxDepth);
  else if (typeof value === 'number' && isUnsafeNumber(value)) found = UNSAFE_NUMBER;
  if (found & TOO_DEEP) {
    return { ok: false, code: 'too-deep', message: `JSON is nested deeper than max_depth (${maxDepth})` };
  }
  if (found === 0) return { ok: true, value };
  try {
    return { ok: true, value: parseLossless(text, undefined, { parseNumber: jsonNumber, onDuplicateKey: lastValueWins }) };
  } catch (error) {
    if (error instanceof NonFiniteNumberError) return { ok: false, code: 'non-finite-number', message: error.message };
    throw error;
  }
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

const UNSAFE_NUMBER = 1;
const TOO_DEEP = 2;

/**
 * What a parsed value holds that needs more than `JSON.parse`: `TOO_DEEP` when objects or lists
 * nest deeper than `depthLeft`, `UNSAFE_NUMBER` when a number lies beyond ±2^53 (an integer whose
 * digits `JSON.parse` lost, or a value beyond the double range), or both flags. Walks at most
 * `depthLeft + 1` levels, so its own recursion is bounded whatever the value; the walk costs less
 * than a regular expression over the text would. Members that are not objects or lists are
 * checked in the loop rather than by a call each: that halves the walk's cost on typical records.
 */
function inspectValue(value: object, depthLeft: number): number {
  if (depthLeft <= 0) return TOO_DEEP;
  let found = 0;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const member: unknown = value[index];
      if (typeof member === 'object' && member !== null) {
        found |= inspectValue(member, depthLeft - 1);
        if (found & TOO_DEEP) return found;
      } else if (typeof member === 'number' && isUnsafeNumber(member)) {
        found |= UNSAFE_NUMBER;
      }
    }
    return found;
  }
  for (const key in value) {
    const member: unknown = (value as Record<string, unknown>)[key];
    if (typeof member === 'object' && member !== null) {
      found |= inspectValue(member, depthLeft - 1);
      if (found & TOO_DEEP) return found;
    } else if (typeof member === 'number' && isUnsafeNumber(member)) {
      found |= UNSAFE_NUMBER;
    }
  }
  return found;
}

function isUnsafeNumber(value: number): boolean {
  return value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER;
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
