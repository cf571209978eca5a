import type { RecordValue } from '../../pipeline/record.ts';
import type { StepPlugin } from '../../plugin/types.ts';
import type { StepConfig } from '../../spec/spec-types.ts';
import { RecordError } from '../../plugin/types.ts';
import { describeType, isPlainObject, leafOf, parentOf, parseFieldPath } from '../field-path.ts';
import type { FieldPath } from '../field-path.ts';

/** `explode: field`: the path of a list field. */
export type ExplodeConfig = StepConfig<'explode'>;

/**
 * Turns a record whose field holds a list into one record per element: each is the record with
 * that field replaced by the element, in list order.
 *
 * - An empty list yields no records: the input record counts as filtered, as if a filter had
 *   dropped it. (Use `default` or `set` beforehand to keep such records some other way.)
 * - A missing field, `null` or any non-list fails the record with `transform-error`: a record that
 *   silently vanished or passed through unexploded would hide a shape problem upstream. Add
 *   `default: { field: [] }` first to treat a missing list as empty.
 * - The first output reuses the input object; the others are deep copies (the list itself is not
 *   copied), so later steps can mutate one output without touching its siblings.
 */
export const explodeStep: StepPlugin<ExplodeConfig> = {
  kind: 'explode',
  compile(config) {
    const path = parseFieldPath(config);
    const leaf = leafOf(path);
    return (record) => {
      const parent = parentOf(record, path);
      const list = parent !== undefined && Object.hasOwn(parent, leaf) ? parent[leaf] : undefined;
      if (!Array.isArray(list)) {
        const holds = list === undefined ? 'is missing' : `holds ${describeType(list)}`;
        throw new RecordError('transform-error', `field \`${path.text}\` ${holds}; expected a list`);
      }
      const count = list.length;
      if (count === 0) return undefined;
      const records: RecordValue[] = new Array(count);
      for (let index = 1; index < count; index++) {
        const copy = copyExcept(record, path, 0);
        setAlongCopiedPath(copy, path, list[index]);
        records[index] = copy;
      }
      parent![leaf] = list[0];
      records[0] = record;
      return records;
    };
  },
};

/** Deep copy of a JSON object, except the value at `path` (from `depth` on), which is left out. */
function copyExcept(source: RecordValue, path: FieldPath, depth: number): RecordValue {
  const segment = path.segments[depth]!;
  const last = depth === path.segments.length - 1;
  const copy: RecordValue = {};
  for (const key of Object.keys(source)) {
    const value = source[key];
    const copied = key !== segment ? copyValue(value) : last ? undefined : copyExcept(value as RecordValue, path, depth + 1);
    defineField(copy, key, copied);
  }
  return copy;
}

function setAlongCopiedPath(copy: RecordValue, path: FieldPath, value: unknown): void {
  let current = copy;
  const segments = path.segments;
  for (let index = 0; index < segments.length - 1; index++) current = current[segments[index]!] as RecordValue;
  current[segments[segments.length - 1]!] = value;
}

function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    for (let index = 0; index < value.length; index++) copy[index] = copyValue(value[index]);
    return copy;
  }
  if (!isPlainObject(value)) return value;
  const copy: RecordValue = {};
  for (const key of Object.keys(value)) defineField(copy, key, copyValue(value[key]));
  return copy;
}

function defineField(target: RecordValue, key: string, value: unknown): void {
  // Record keys may include `__proto__` as an own property (from JSON.parse); keep it one.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
