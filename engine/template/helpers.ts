/**
 * The helpers a template may call. Each is pure and fails loudly: a template builds an object
 * key, an index name, an id or a SQL snippet, and a silently empty or wrong piece would file the
 * record under the wrong name. So a helper given a missing value throws `TemplateRenderError`
 * instead of printing ''.
 */
import { createHash } from 'node:crypto';
import { UTCDateMini } from '@date-fns/utc/date/mini';
import { format as formatDate, parseISO } from 'date-fns';
import { epochDate } from '../time/epoch-instant.ts';
import { TemplateRenderError } from './errors.ts';

/**
 * date-fns' context for UTC: `utc` of @date-fns/utc, with its minimal date class. Its `UTCDate`
 * adds only `toString` and the like, which date-fns never calls, and builds three
 * `Intl.DateTimeFormat` when its module loads, a third of what a cold start does beyond a bare
 * handler (loading ICU's locale data; docs/decisions/0058-smaller-cold-start.md).
 */
const utc = (value: Date | number | string) => new UTCDateMini(+new Date(value));

/** What Handlebars passes as the last argument of every helper call (the part we read). */
export interface HelperCallOptions {
  loc?: { start?: { line?: number; column?: number } };
}

// Handlebars calls a helper with its positional arguments, then its options object.
type Helper = (...args: any[]) => string;

/** How a helper may be called; checked on the template's syntax tree before it compiles. */
export interface HelperSignature {
  /** Fewest and most positional arguments. */
  minArguments: number;
  maxArguments: number;
  /** `{{#name ...}}...{{/name}}` only (true), or `{{name ...}}` and `(name ...)` only (false). */
  block: boolean;
  /** Named arguments (`key=value`) allowed. */
  namedArguments: boolean;
  usage: string;
}

/** Handlebars' own helpers that templates may use. `log` is left out: plugins do not log. */
export const BUILT_IN_HELPERS: Readonly<Record<string, HelperSignature>> = Object.freeze({
  if: { minArguments: 1, maxArguments: 1, block: true, namedArguments: true, usage: '{{#if value}}...{{else}}...{{/if}}' },
  unless: { minArguments: 1, maxArguments: 1, block: true, namedArguments: true, usage: '{{#unless value}}...{{/unless}}' },
  each: { minArguments: 1, maxArguments: 1, block: true, namedArguments: false, usage: '{{#each list}}...{{/each}}' },
  with: { minArguments: 1, maxArguments: 1, block: true, namedArguments: false, usage: '{{#with object}}...{{/with}}' },
  lookup: { minArguments: 2, maxArguments: 2, block: false, namedArguments: false, usage: '{{lookup object key}}' },
});

/** Ingest's helpers, as documented in the spec reference. */
export const INGEST_HELPERS: Readonly<Record<string, HelperSignature>> = Object.freeze({
  date: {
    minArguments: 2,
    maxArguments: 2,
    block: false,
    namedArguments: false,
    usage: "{{date record.ts 'yyyy/MM/dd'}} or {{date now 'HH'}}",
  },
  lower: { minArguments: 1, maxArguments: 1, block: false, namedArguments: false, usage: '{{lower record.name}}' },
  upper: { minArguments: 1, maxArguments: 1, block: false, namedArguments: false, usage: '{{upper record.name}}' },
  slug: { minArguments: 1, maxArguments: 1, block: false, namedArguments: false, usage: '{{slug record.title}}' },
  hash: { minArguments: 1, maxArguments: 2, block: false, namedArguments: false, usage: '{{hash record.email}} or {{hash record.email 16}}' },
});

/** Longest `hash` output: a SHA-256 digest in hex. */
export const HASH_HEX_LENGTH = 64;

function location(options: unknown): { line?: number; column?: number } {
  const start = (options as HelperCallOptions | undefined)?.loc?.start;
  if (typeof start?.line !== 'number' || typeof start.column !== 'number') return {};
  return { line: start.line, column: start.column + 1 };
}

function missing(helper: string, options: unknown, what = 'its argument'): TemplateRenderError {
  return new TemplateRenderError('missing-value', `${helper}: ${what} has no value`, location(options));
}

function nonFinite(what: string, value: number, options: unknown): TemplateRenderError {
  return new TemplateRenderError('non-finite-number', `${what} is ${String(value)}, which has no text form`, location(options));
}

/** The text of a scalar: strings as they are, numbers and booleans as JavaScript prints them. */
function scalarText(helper: string, value: unknown, options: unknown): string {
  if (value === undefined || value === null) throw missing(helper, options);
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw nonFinite(`${helper}: its argument`, value, options);
      return String(value);
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      if (value instanceof Date) return value.toISOString();
      throw new TemplateRenderError(
        'invalid-value',
        `${helper}: its argument is ${Array.isArray(value) ? 'a list' : 'an object'}, not text`,
        location(options),
      );
  }
}

/** An ISO-8601 date-time with an explicit zone: the engine's own parser reads it exactly, and fast. */
const ZONED_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * Reads a point in time: a Date, an epoch number, or an ISO-8601 string. An epoch number's unit
 * follows from its magnitude, as for `cast` and CEL (`epochDate`: below 10^11 seconds, then
 * milliseconds, microseconds, nanoseconds). A string without a zone is read as UTC, never as the
 * machine's local time.
 */
export function toInstant(value: unknown): Date | undefined {
  let date: Date;
  if (value instanceof Date) date = value;
  else if (typeof value === 'number') {
    const fromEpoch = epochDate(value);
    if (fromEpoch === undefined) return undefined;
    date = fromEpoch;
  }
  else if (typeof value === 'string') date = ZONED_DATE_TIME.test(value) ? new Date(value) : parseISO(value, { in: utc });
  else return undefined;
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * `toInstant(value)` as milliseconds since the epoch, NaN when it is not a point in time. A
 * zoned date-time, the common case, is read without making a Date.
 */
function instantTime(value: unknown): number {
  if (typeof value === 'string' && ZONED_DATE_TIME.test(value)) return Date.parse(value);
  return toInstant(value)?.getTime() ?? Number.NaN;
}

/**
 * Why a date-fns format string would fail or mislead, or undefined when it is fine. `YYYY` and
 * `DD` are week-numbering year and day of year: almost always a typo for `yyyy` and `dd`.
 */
export function dateFormatProblem(pattern: string): string | undefined {
  if (pattern === '') return 'the format is empty';
  if (/[YD]/.test(unquoted(pattern))) {
    return `format '${pattern}' uses Y or D (week-numbering year, day of year); use yyyy for the year and dd for the day of the month`;
  }
  try {
    formatDate(0, pattern, { in: utc });
  } catch (error) {
    return `format '${pattern}' is not a date-fns format: ${error instanceof Error ? error.message : String(error)}`;
  }
  return undefined;
}

/** The pattern without its quoted literal text. */
function unquoted(pattern: string): string {
  return pattern.replace(/'(?:[^']|'')*'?/g, '');
}

/**
 * A checked format and the last text it produced. date-fns takes microseconds per call, and
 * records of one batch mostly fall in the same day or hour: a pattern made only of year,
 * month, day, hour, minute and second fields gives the same text for every instant of the
 * same UTC period, so the last result is reused while the period does not change.
 */
interface DateFormat {
  problem: string | undefined;
  /** Length of the period the text depends on, in milliseconds; undefined when not cacheable. */
  periodMs: number | undefined;
  lastPeriod: number;
  lastText: string;
}

const PERIODS: ReadonlyArray<readonly [RegExp, number]> = [
  [/^[yMd]*$/, 86_400_000],
  [/^[yMdH]*$/, 3_600_000],
  [/^[yMdHm]*$/, 60_000],
  [/^[yMdHms]*$/, 1_000],
];

const MAX_CACHED_FORMATS = 256;
const dateFormats = new Map<string, DateFormat>();

function dateFormat(pattern: string): DateFormat {
  let cached = dateFormats.get(pattern);
  if (cached) return cached;
  const fields = unquoted(pattern).replace(/[^A-Za-z]/g, '');
  cached = {
    problem: dateFormatProblem(pattern),
    periodMs: PERIODS.find(([fieldsMatch]) => fieldsMatch.test(fields))?.[1],
    lastPeriod: Number.NaN,
    lastText: '',
  };
  // Patterns come from the spec, so there are few; the bound only guards computed patterns.
  if (dateFormats.size >= MAX_CACHED_FORMATS) dateFormats.clear();
  dateFormats.set(pattern, cached);
  return cached;
}

const date: Helper = (value: unknown, pattern: unknown, options: unknown) => {
  if (value === undefined || value === null) throw missing('date', options, 'the date');
  if (typeof pattern !== 'string') {
    throw new TemplateRenderError('invalid-value', 'date: the format must be a string', location(options));
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw nonFinite('date: the date', value, options);
  const time = instantTime(value);
  if (Number.isNaN(time)) {
    throw new TemplateRenderError(
      'invalid-value',
      `date: ${JSON.stringify(value)} is not a date (expected an ISO-8601 string, an epoch number in seconds, milliseconds, microseconds or nanoseconds, or a Date)`,
      location(options),
    );
  }
  const format = dateFormat(pattern);
  if (format.problem) throw new TemplateRenderError('invalid-value', `date: ${format.problem}`, location(options));
  if (format.periodMs === undefined) return formatDate(time, pattern, { in: utc });
  const period = Math.floor(time / format.periodMs);
  if (period !== format.lastPeriod) {
    format.lastText = formatDate(time, pattern, { in: utc });
    format.lastPeriod = period;
  }
  return format.lastText;
};

const lower: Helper = (value: unknown, options: unknown) => scalarText('lower', value, options).toLowerCase();

const upper: Helper = (value: unknown, options: unknown) => scalarText('upper', value, options).toUpperCase();

/** Lowercase ASCII letters and digits; every other run of characters becomes one '-'. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

const slug: Helper = (value: unknown, options: unknown) => {
  const text = scalarText('slug', value, options);
  const result = slugify(text);
  if (result === '') {
    throw new TemplateRenderError('invalid-value', `slug: ${JSON.stringify(text)} has no letter or digit`, location(options));
  }
  return result;
};

const hash: Helper = (value: unknown, ...rest: unknown[]) => {
  // Called as (value, options) or (value, length, options).
  const options = rest[rest.length - 1];
  const length = rest.length > 1 ? rest[0] : undefined;
  if (value === undefined || value === null) throw missing('hash', options);
  // Objects hash as their JSON: key order is the order of the source data, so a retried record
  // hashes the same.
  const text = typeof value === 'object' && !(value instanceof Date) ? JSON.stringify(value) : scalarText('hash', value, options);
  const digest = createHash('sha256').update(text, 'utf8').digest('hex');
  if (length === undefined) return digest;
  if (!isHashLength(length)) {
    throw new TemplateRenderError(
      'invalid-value',
      `hash: the length must be an integer from 1 to ${HASH_HEX_LENGTH}, got ${JSON.stringify(length)}`,
      location(options),
    );
  }
  return digest.slice(0, length);
};

export function isHashLength(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= HASH_HEX_LENGTH;
}

/** Implementations of `INGEST_HELPERS`, by name. */
export const HELPER_IMPLEMENTATIONS: Readonly<Record<keyof typeof INGEST_HELPERS, Helper>> = Object.freeze({
  date,
  lower,
  upper,
  slug,
  hash,
});

/** Name of the hidden helper every printed `{{...}}` is routed through (see analyze-template.ts). */
export const PRINT_HELPER = '__ingest_print';

/**
 * Prints one `{{...}}` value; called as (value, template text, missingAsEmpty, options). Text,
 * numbers and booleans print as they are; a Date as ISO-8601. A missing or null value throws
 * (or prints '' when `missingAsEmpty`); an object or a list throws, since `[object Object]` is
 * never a useful key.
 */
export const printValue: Helper = (value: unknown, expression: unknown, missingAsEmpty: unknown, options: unknown) => {
  if (value === undefined || value === null) {
    if (missingAsEmpty === true) return '';
    throw new TemplateRenderError('missing-value', `${String(expression)} has no value`, location(options));
  }
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw nonFinite(String(expression), value, options);
      return String(value);
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
      throw new TemplateRenderError(
        'invalid-value',
        `${String(expression)} is ${Array.isArray(value) ? 'a list' : `a ${typeof value === 'object' ? 'map' : typeof value}`}; a template prints text, numbers and booleans (pick a field, or use {{#each}})`,
        location(options),
      );
  }
};
