import type { RecordValue } from '../../pipeline/record.ts';
import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';
import { describeType, isPlainObject, leafOf, parentOf, parseFieldPath } from '../field-path.ts';

/** `flatten: { field?, separator? }`. */
export type FlattenConfig = StepConfig<'flatten'>;

/**
 * Turns nested objects into one level of keys joined by `separator`: `{a: {b: {c: 1}}, d: 2}`
 * becomes `{a_b_c: 1, d: 2}`. Lists are values, not traversed; an empty object stays as it is
 * (`{a: {}}` is unchanged), so no key disappears.
 *
 * Without `field` the whole record is flattened. With `field` only that object is, and its keys
 * take its place beside it, prefixed with its name: `{id: 1, geo: {lat: 1, lon: 2}}` becomes
 * `{id: 1, geo_lat: 1, geo_lon: 2}` (for a dotted field `a.geo`, inside `a`). A missing or null
 * field, or an empty object, is left alone; any other non-object fails the record with
 * `transform-error`.
 *
 * Two values that would land under the same key (`{a_b: 1, a: {b: 2}}`) fail the record with
 * `field-collision` rather than silently losing one of them (docs/decisions/0024-field-writes.md).
 */
export const flattenStep: StepPlugin<FlattenConfig> = {
  kind: 'flatten',
  compile(config) {
    const separator = config?.separator ?? '_';
    if (typeof separator !== 'string' || separator === '') throw new Error('flatten: separator must be a non-empty string');
    const path = config?.field === undefined ? undefined : parseFieldPath(config.field);
    if (path === undefined) {
      const keys = new FlatKeys(separator, '');
      return (record) => flattenObject(record, keys);
    }
    const leaf = leafOf(path);
    const keys = new FlatKeys(separator, leaf);
    return (record) => {
      const parent = parentOf(record, path);
      if (parent === undefined || !Object.hasOwn(parent, leaf)) return record;
      const value = parent[leaf];
      if (value === null) return record;
      if (!isPlainObject(value)) {
        throw new RecordError('transform-error', `field \`${path.text}\` holds ${describeType(value)}, not an object`);
      }
      if (!isNonEmptyObject(value)) return record;
      const flat: RecordValue = {};
      addEntries(flat, value, keys.root, keys);
      const flatKeys = Object.keys(flat);
      // Check every key before changing anything, so a failed record is left as it was.
      for (const key of flatKeys) {
        if (key !== leaf && Object.hasOwn(parent, key)) {
          throw new RecordError('field-collision', `two fields flatten to the same key \`${key}\``);
        }
      }
      delete parent[leaf];
      for (const key of flatKeys) defineField(parent, key, flat[key]);
      return record;
    };
  },
};

function flattenObject(source: RecordValue, keys: FlatKeys): RecordValue {
  // Nothing to do for an already flat object: return it without copying.
  let nested = false;
  for (const key in source) {
    if (Object.hasOwn(source, key) && isNonEmptyObject(source[key])) {
      nested = true;
      break;
    }
  }
  if (!nested) return source;
  const target: RecordValue = {};
  addEntries(target, source, keys.root, keys);
  return target;
}

function addEntries(target: RecordValue, source: RecordValue, prefix: FlatKey, keys: FlatKeys): void {
  for (const key of Object.keys(source)) {
    const value = source[key];
    const flat = keys.inside(prefix, key);
    if (isNonEmptyObject(value)) {
      addEntries(target, value, flat, keys);
      continue;
    }
    const flatKey = flat.text;
    if (Object.hasOwn(target, flatKey)) {
      throw new RecordError('field-collision', `two fields flatten to the same key \`${flatKey}\``);
    }
    defineField(target, flatKey, value);
  }
}

function defineField(target: RecordValue, key: string, value: unknown): void {
  // A key read from the record may be `__proto__` (JSON.parse makes it an own property);
  // defining it keeps it a plain field instead of invoking the prototype setter.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function isNonEmptyObject(value: unknown): value is RecordValue {
  if (!isPlainObject(value)) return false;
  for (const key in value) if (Object.hasOwn(value, key)) return true;
  return false;
}

/** A flat key, and the keys of the fields inside the object it names by their key there. */
interface FlatKey {
  readonly text: string;
  inner: Map<string, FlatKey> | undefined;
}

/** How many flat keys a step remembers at most; keys of records are data, so they are bounded. */
const MAX_FLAT_KEYS = 1024;

/**
 * The flat keys a step has made, by the path of keys they come from. Records of a stream mostly
 * share their keys, so each flat key is joined once rather than for every record (a joined key
 * used as a field name costs a lookup in V8's table of names every time it is made).
 */
class FlatKeys {
  readonly root: FlatKey;
  private count = 0;

  constructor(
    private readonly separator: string,
    prefix: string,
  ) {
    this.root = { text: prefix, inner: undefined };
  }

  /** The flat key of field `key` of the object that `outer` names. */
  inside(outer: FlatKey, key: string): FlatKey {
    const known = outer.inner?.get(key);
    if (known !== undefined) return known;
    const made: FlatKey = { text: outer.text === '' ? key : outer.text + this.separator + key, inner: undefined };
    if (this.count >= MAX_FLAT_KEYS) {
      this.root.inner = undefined;
      this.count = 0;
    }
    (outer.inner ??= new Map()).set(key, made);
    this.count++;
    return made;
  }
}
