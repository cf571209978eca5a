/**
 * Turns what the CEL library returns into a JSON value a record can hold, following CEL's JSON
 * mapping (proto3 JSON) except for integers, which stay numbers while they are exact.
 */
import { Optional } from '@marcbachmann/cel-js';
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';

/** Thrown when a result has no JSON form (a CEL `type` value, for instance). */
export class NoJsonFormError extends Error {
  override name = 'NoJsonFormError';
}

/** Thrown when a result is or holds a double that is NaN or ±Infinity, which JSON cannot hold. */
export class NonFiniteResultError extends Error {
  override name = 'NonFiniteResultError';
}

/**
 * Converts a CEL result to plain JavaScript:
 * - `int` and `uint` (BigInt inside the library): a number when it is a safe integer
 *   (|n| ≤ 2^53 − 1), otherwise its decimal string, so no digit is lost;
 * - `double`, `string`, `bool`, `null`: as they are, except that a double that is NaN or
 *   ±Infinity (`record.a / record.b` with `b` 0.0) throws `NonFiniteResultError`: JSON cannot
 *   hold it, and `JSON.stringify` would silently write `null`;
 * - `timestamp`: RFC 3339 string in UTC, with milliseconds only when they are not zero
 *   (`2026-11-27T10:00:00Z`, `2026-11-27T10:00:00.250Z`);
 * - `duration`: seconds with an `s` suffix (`3600s`, `1.5s`);
 * - `bytes`: base64;
 * - lists: new arrays; maps: new objects with string keys (`{1: 'a'}` becomes `{"1": "a"}`);
 *   results never alias the record they were computed from, so a later step that changes one
 *   cannot change the other;
 * - optional values: their value, or null when empty.
 *
 * @throws NonFiniteResultError for NaN or ±Infinity, anywhere in the result.
 * @throws NoJsonFormError for anything else.
 */
export function toPlainValue(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new NonFiniteResultError(`the result is ${String(value)}, which JSON cannot hold`);
      return value;
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
      return bigintToPlain(value);
    case 'undefined':
      return null;
    case 'object':
      return objectToPlain(value);
    default:
      throw new NoJsonFormError(`a value of JavaScript type ${typeof value} has no JSON form`);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

function bigintToPlain(value: bigint): number | string {
  return value <= MAX_SAFE && value >= MIN_SAFE
    ? Number(value)
    : value.toString();
}

function objectToPlain(value: object | null): unknown {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(toPlainValue);
  if (value instanceof Date) return formatTimestamp(value);
  if (value instanceof Map) {
    const result: Record<string, unknown> = {};
    for (const [key, entry] of value) setOwn(result, keyToString(key), toPlainValue(entry));
    return result;
  }
  if (value instanceof Set) return [...value].map(toPlainValue);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof UnsignedInt) return bigintToPlain(value.valueOf());
  if (value instanceof Duration) return value.toString();
  if (value instanceof Optional) return value.hasValue() ? toPlainValue(value.value()) : null;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) {
    const result: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      setOwn(result, key, toPlainValue((value as Record<string, unknown>)[key]));
    }
    return result;
  }
  throw new NoJsonFormError(`a value of type ${value.constructor?.name ?? 'object'} has no JSON form`);
}

function keyToString(key: unknown): string {
  if (key instanceof UnsignedInt) return key.valueOf().toString();
  return String(key);
}

/** Defines the key even when it is `__proto__`, which plain assignment would treat as the prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** RFC 3339 in UTC, as proto3 JSON writes timestamps: no fraction when it is zero. */
export function formatTimestamp(date: Date): string {
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
