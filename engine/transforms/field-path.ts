/**
 * Dotted field paths (`user.address.city`) as transform steps use them. A path is split once, when
 * the step compiles; reading and writing a record then walk the pre-split segments without
 * allocating.
 *
 * Rules every step shares:
 * - a segment names an own property of a plain object. Arrays and scalars are not traversed: a path
 *   that runs into one reads as missing and cannot be written through;
 * - a dot always separates segments: a record key that itself contains a dot cannot be addressed;
 * - `__proto__`, `constructor` and `prototype` are refused as segments when the step compiles, so
 *   no path can ever reach `Object.prototype`; reads check own properties, so inherited members
 *   (`toString`, `hasOwnProperty`...) read as missing.
 */
import type { RecordValue } from '../pipeline/record.ts';
import { RecordError } from '../plugin/types.ts';

/** A field path split into its segments, at least one, none empty or forbidden. */
export interface FieldPath {
  /** The path as written in the spec, for messages. */
  readonly text: string;
  readonly segments: readonly string[];
}

/** Returned by `readField` when the path does not lead to a value. Never stored in a record. */
export const MISSING: unique symbol = Symbol('missing');

const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

type Container = { [field: string]: unknown };

/**
 * Whether `value` is an object whose fields a path may walk into: a plain object (as `JSON.parse`
 * and object literals make) or a null-prototype one. Lists, null and class instances (a
 * `Uint8Array` from a DynamoDB binary attribute, a `Set`, a `Date`) are values, not containers.
 */
export function isPlainObject(value: unknown): value is Container {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Splits a dotted path. Called when a step compiles; throws (the spec is wrong) on an empty path,
 * an empty segment (`a..b`, `.a`, `a.`) or a segment that could reach an object prototype.
 */
export function parseFieldPath(text: string): FieldPath {
  if (typeof text !== 'string' || text.length === 0) {
    throw new Error(`field path must be a non-empty string, got ${JSON.stringify(text)}`);
  }
  const segments = text.split('.');
  for (const segment of segments) {
    if (segment.length === 0) throw new Error(`field path \`${text}\` has an empty segment`);
    if (FORBIDDEN_SEGMENTS.has(segment)) {
      throw new Error(`field path \`${text}\` uses \`${segment}\`, which is not allowed as a field name (prototype safety)`);
    }
  }
  return { text, segments };
}

/** Parses every path of a list, in order. Throws like `parseFieldPath`, or when `texts` is not a list. */
export function parseFieldPaths(texts: readonly string[]): FieldPath[] {
  if (!Array.isArray(texts)) throw new Error(`expected a list of field paths, got ${JSON.stringify(texts)}`);
  return texts.map(parseFieldPath);
}

/** The value at `path`, or `MISSING` when some segment is not an own property of a plain object. */
export function readField(record: RecordValue, path: FieldPath): unknown {
  const segments = path.segments;
  let current: unknown = record;
  for (let index = 0; index < segments.length; index++) {
    if (!isPlainObject(current)) return MISSING;
    const segment = segments[index]!;
    if (!Object.hasOwn(current, segment)) return MISSING;
    current = current[segment];
  }
  return current;
}

/**
 * The object holding the last segment of `path`, or `undefined` when an intermediate segment is
 * missing or not a plain object. Lets a step read, test and replace a field with one walk.
 */
export function parentOf(record: RecordValue, path: FieldPath): Container | undefined {
  const segments = path.segments;
  let current: Container = record;
  for (let index = 0; index < segments.length - 1; index++) {
    const segment = segments[index]!;
    if (!Object.hasOwn(current, segment)) return undefined;
    const next = current[segment];
    if (!isPlainObject(next)) return undefined;
    current = next;
  }
  return current;
}

/** The last segment of `path`: the key to use on the object `parentOf` returns. */
export function leafOf(path: FieldPath): string {
  return path.segments[path.segments.length - 1]!;
}

/**
 * Assigns `value` at `path`, creating missing (or null) intermediate objects. Throws a `transform-error`
 * `RecordError` when an intermediate field exists but is not a plain object (a string, a list):
 * replacing it silently would lose data.
 */
export function writeField(record: RecordValue, path: FieldPath, value: unknown): void {
  const segments = path.segments;
  let current: Container = record;
  for (let index = 0; index < segments.length - 1; index++) {
    const segment = segments[index]!;
    // null holds no data, so it is replaced by an object like a missing field.
    if (!Object.hasOwn(current, segment) || current[segment] === undefined || current[segment] === null) {
      const created: Container = {};
      current[segment] = created;
      current = created;
      continue;
    }
    const next = current[segment];
    if (!isPlainObject(next)) {
      const prefix = segments.slice(0, index + 1).join('.');
      throw new RecordError('transform-error', `cannot write field \`${path.text}\`: \`${prefix}\` is ${describeType(next)}, not an object`);
    }
    current = next;
  }
  current[segments[segments.length - 1]!] = value;
}

/** Removes the field at `path`. Returns whether it was present. Missing paths are left alone. */
export function deleteField(record: RecordValue, path: FieldPath): boolean {
  const parent = parentOf(record, path);
  const leaf = leafOf(path);
  if (parent === undefined || !Object.hasOwn(parent, leaf)) return false;
  delete parent[leaf];
  return true;
}

/** A short name of a value's JSON type, for messages: `a string`, `a list`, `null`... */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
    case 'bigint':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

const PREVIEW_LENGTH = 80;

/** A value as it appears in an error message: JSON, cut to a bounded length. */
export function previewValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'bigint' ? value.toString() : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH)}…` : text;
}
