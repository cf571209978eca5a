import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';
import type { FailureCode } from '../../pipeline/record.ts';
import { epochInstant } from '../../time/epoch-instant.ts';
import { describeType, isPlainObject, leafOf, parentOf, parseFieldPath, previewValue } from '../field-path.ts';
import type { FieldPath } from '../field-path.ts';

/** The types a field can be cast to. */
export type CastType = 'string' | 'int' | 'double' | 'bool' | 'timestamp' | 'json';

/** `cast: { field: type }`. */
export type CastConfig = StepConfig<'cast'>;

/** Converts one value or returns a reason why it cannot. */
type Caster = (value: unknown) => unknown;

/** Thrown by a caster; the step turns it into a `RecordError` naming the field and the value. */
class CastFailure {
  constructor(
    readonly reason: string,
    readonly code: FailureCode = 'transform-error',
  ) {}
}

/** NaN and ±Infinity have no JSON form: a cast never makes one, nor passes one on. */
function nonFinite(): CastFailure {
  return new CastFailure('not a finite number', 'non-finite-number');
}

/**
 * Converts field values in place: the field's new value is the old one converted, so writing over
 * it is the step's purpose (docs/decisions/0024-field-writes.md). A field that is missing is left
 * missing, and `null` stays `null` for every type (as SQL `CAST(NULL AS ...)`). A value that does
 * not convert fails the record with a `transform-error` naming the field, the value and the
 * reason; nothing is ever truncated or guessed silently. A value that is or would become NaN or
 * ±Infinity (`"1e400"` to `double`) fails with `non-finite-number`, since JSON would write `null`.
 *
 * - `string`: strings unchanged; numbers in JavaScript's shortest round-trip form (`1.5`, `100`,
 *   `1e+21`); booleans `"true"`/`"false"`. Objects and lists fail: use `json` to serialize them.
 * - `int`: integral numbers unchanged; decimal strings (`"42"`, `" -7 "`, `"4.0"`, `"1e3"`; no
 *   hex, no `Infinity`, not `""`) when their value is integral; `true`/`false` → 1/0. A
 *   non-integral value (`4.5`, `"4.5"`) fails instead of being truncated, and so does a value
 *   outside ±(2^53 − 1), which a JSON number cannot hold exactly.
 * - `double`: finite numbers unchanged; decimal strings as for `int`; `true`/`false` → 1/0.
 * - `bool`: booleans unchanged; the numbers 1 and 0; the strings `true`, `false`, `1`, `0`
 *   (any letter case, surrounding spaces ignored). Anything else fails (`"yes"`, `2`, `""`).
 * - `timestamp`: an ISO-8601 / RFC 3339 UTC string `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, with the
 *   fraction only when it is not zero (up to 9 digits from strings, 6 from numbers), so
 *   `"2026-11-27T10:00:00Z"` comes out unchanged. Accepted inputs:
 *   - strings `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS[.fraction]` with `T`, `t` or a
 *     space between date and time, followed by `Z`, `±HH:MM`, `±HHMM` or nothing. Without an
 *     offset the time is taken as UTC; a date alone is midnight UTC. Impossible dates
 *     (`2026-02-30`) and leap seconds fail;
 *   - numbers and decimal strings, as an epoch time whose unit follows from its magnitude
 *     (`epochInstant`, shared with the `date` helper and CEL's `timestamp(double)`): below 10^11
 *     seconds, below 10^14 milliseconds, below 10^17 microseconds, otherwise nanoseconds. Each
 *     band covers 1973-03-03 to 5138-11-16 in its unit, so a milliseconds value before March 1973
 *     would be read as seconds. Fractions of seconds are kept to microseconds.
 *   Results outside years 0000–9999 fail.
 * - `json`: the value serialized with `JSON.stringify` (a string becomes a quoted JSON string).
 *   `parse_json` is the inverse.
 */
export const castStep: StepPlugin<CastConfig> = {
  kind: 'cast',
  compile(config) {
    if (!isPlainObject(config)) throw new Error('cast: expected a mapping of field → type');
    const paths: FieldPath[] = [];
    const casters: Caster[] = [];
    const types: CastType[] = [];
    for (const [field, type] of Object.entries(config)) {
      const caster = Object.hasOwn(CASTERS, type as string) ? CASTERS[type] : undefined;
      if (caster === undefined) {
        throw new Error(`cast: unknown type ${JSON.stringify(type)} for field \`${field}\` (expected ${Object.keys(CASTERS).join(', ')})`);
      }
      paths.push(parseFieldPath(field));
      casters.push(caster);
      types.push(type);
    }
    const count = paths.length;

    return (record) => {
      for (let index = 0; index < count; index++) {
        const path = paths[index]!;
        const parent = parentOf(record, path);
        const leaf = leafOf(path);
        if (parent === undefined || !Object.hasOwn(parent, leaf)) continue;
        const value = parent[leaf];
        if (value === null) continue;
        try {
          parent[leaf] = casters[index]!(value);
        } catch (error) {
          if (!(error instanceof CastFailure)) throw error;
          throw new RecordError(error.code, `field \`${path.text}\` holds ${previewValue(value)}, which cannot be cast to ${types[index]}: ${error.reason}`);
        }
      }
      return record;
    };
  },
};

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number written as a string, or `undefined` when the string is not one. */
function parseDecimal(text: string): number | undefined {
  const trimmed = text.trim();
  return DECIMAL.test(trimmed) ? Number(trimmed) : undefined;
}

function toInt(value: unknown): number {
  let number: number;
  if (typeof value === 'number') number = value;
  else if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new CastFailure('outside ±(2^53 − 1)');
    return Number(value);
  } else if (typeof value === 'boolean') return value ? 1 : 0;
  else if (typeof value === 'string') {
    const parsed = parseDecimal(value);
    if (parsed === undefined) throw new CastFailure('not a decimal number');
    number = parsed;
  } else throw new CastFailure(`${describeType(value)} is not a number`);
  if (!Number.isFinite(number)) throw nonFinite();
  if (!Number.isInteger(number)) throw new CastFailure('not an integral value (use double, or round it with set)');
  if (!Number.isSafeInteger(number)) throw new CastFailure('outside ±(2^53 − 1), the integers a JSON number holds exactly');
  return number === 0 ? 0 : number;
}

function toDouble(value: unknown): number {
  let number: number;
  if (typeof value === 'number') number = value;
  else if (typeof value === 'bigint') number = Number(value);
  else if (typeof value === 'boolean') return value ? 1 : 0;
  else if (typeof value === 'string') {
    const parsed = parseDecimal(value);
    if (parsed === undefined) throw new CastFailure('not a decimal number');
    number = parsed;
  } else throw new CastFailure(`${describeType(value)} is not a number`);
  if (!Number.isFinite(number)) throw nonFinite();
  return number;
}

function toBool(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 1n) return true;
  if (value === 0 || value === 0n) return false;
  if (typeof value === 'string') {
    switch (value.trim().toLowerCase()) {
      case 'true':
      case '1':
        return true;
      case 'false':
      case '0':
        return false;
    }
  }
  throw new CastFailure('expected true, false, 1 or 0');
}

function toText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw nonFinite();
      return String(value);
    case 'bigint':
    case 'boolean':
      return String(value);
    default:
      throw new CastFailure(`${describeType(value)} has no string form (cast it to json to serialize it)`);
  }
}

function toJson(value: unknown): string {
  try {
    return typeof value === 'bigint' ? value.toString() : JSON.stringify(value, refuseNonFinite);
  } catch (error) {
    if (error instanceof CastFailure) throw error;
    throw new CastFailure((error as Error).message);
  }
}

/** `JSON.stringify` writes NaN and ±Infinity as `null`: refuse them instead. */
function refuseNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) throw nonFinite();
  return value;
}

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?$/;

function toTimestamp(value: unknown): string {
  if (typeof value === 'number') return fromEpoch(value);
  if (typeof value === 'bigint') return fromEpoch(Number(value));
  if (typeof value !== 'string') throw new CastFailure(`${describeType(value)} is neither an ISO-8601 string nor an epoch number`);
  const epoch = parseDecimal(value);
  if (epoch !== undefined) return fromEpoch(epoch);
  return fromIso(value.trim());
}

/** Already in the output form: returned as it is once its date and time are checked. */
const CANONICAL_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{0,8}[1-9])?Z$/;

function fromIso(text: string): string {
  // The common case, a timestamp already written by a machine in UTC, costs no allocation.
  if (CANONICAL_TIMESTAMP.test(text) && isValidCanonical(text)) return text;
  const match = ISO_TIMESTAMP.exec(text);
  if (match === null) throw new CastFailure('not an ISO-8601 timestamp (YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM])');
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', , sign, offsetHours = '00', offsetMinutes = '00'] = match;
  const [y, mo, d, h, mi, s] = [Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second)];
  if (h > 23 || mi > 59 || s > 59 || Number(offsetHours) > 23 || Number(offsetMinutes) > 59) throw new CastFailure('time out of range');
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(y, mo - 1, d);
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) throw new CastFailure('no such date');
  date.setUTCHours(h, mi, s, 0);
  if (sign !== undefined) {
    const offsetMs = (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
    date.setTime(date.getTime() + (sign === '+' ? -offsetMs : offsetMs));
  }
  return formatUtc(date.getTime(), fraction.replace(/0+$/, ''));
}

function isValidCanonical(text: string): boolean {
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && digits(text, 11, 13) <= 23 && digits(text, 14, 16) <= 59 && digits(text, 17, 19) <= 59;
}

/** The number written by the ASCII digits `text[start..end)` (already known to be digits). */
function digits(text: string, start: number, end: number): number {
  let value = 0;
  for (let index = start; index < end; index++) value = value * 10 + text.charCodeAt(index) - 48;
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function fromEpoch(value: number): string {
  const instant = epochInstant(value);
  if (instant === undefined) throw nonFinite();
  // Formatted by arithmetic (`formatUtc`): no Date per record.
  const time = instant.seconds * 1000;
  if (!(Math.abs(time) <= MAX_DATE_MILLISECONDS)) throw new CastFailure('outside the representable time range');
  return formatUtc(time, instant.micros === 0 ? '' : String(instant.micros).padStart(6, '0').replace(/0+$/, ''));
}

const DAY_MILLISECONDS = 86_400_000;
/** The furthest a Date reaches from the epoch, either way (ECMAScript's time values). */
const MAX_DATE_MILLISECONDS = 8.64e15;
/** 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, the years an RFC 3339 timestamp can hold. */
const FIRST_TIME = -62_167_219_200_000;
const LAST_TIME = 253_402_300_799_999;

// The timestamps of a batch mostly fall on a few days, and Date#toISOString costs more than the
// rest of a cast: the date part is formatted once per day, the time of day by arithmetic.
let lastDay = Number.NaN;
let lastDate = '';

/** `time` (epoch milliseconds, whole seconds) as `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. */
function formatUtc(time: number, fraction: string): string {
  if (!(time >= FIRST_TIME && time <= LAST_TIME)) throw new CastFailure('outside years 0000–9999');
  const day = Math.floor(time / DAY_MILLISECONDS);
  if (day !== lastDay) {
    lastDate = new Date(day * DAY_MILLISECONDS).toISOString().slice(0, 11);
    lastDay = day;
  }
  const seconds = Math.floor((time - day * DAY_MILLISECONDS) / 1000);
  const clock = `${twoDigits(Math.floor(seconds / 3600))}:${twoDigits(Math.floor(seconds / 60) % 60)}:${twoDigits(seconds % 60)}`;
  return fraction === '' ? `${lastDate}${clock}Z` : `${lastDate}${clock}.${fraction}Z`;
}

function twoDigits(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

const CASTERS: Readonly<Record<CastType, Caster>> = Object.assign(Object.create(null), {
  string: toText,
  int: toInt,
  double: toDouble,
  bool: toBool,
  timestamp: toTimestamp,
  json: toJson,
});
