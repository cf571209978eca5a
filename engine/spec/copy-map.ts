/**
 * Copies of user-supplied maps (spec sections, step configs, literals, test records) that hold
 * every key as an ordinary own key. A plain `{}` copy turns a key named `__proto__` into the
 * copy's prototype: the key vanishes and its fields become reachable as inherited members.
 */

/**
 * A deep copy of a JSON-like value in which every object has no prototype. Lists are copied,
 * scalars kept; anything else (a `Date`, a `Uint8Array`) is kept as the same instance.
 */
export function copyMap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyMap);
  if (typeof value !== 'object' || value === null) return value;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value)) copy[key] = copyMap((value as Record<string, unknown>)[key]);
  return copy;
}

/**
 * A deep copy of a JSON-like value in the form records have: ordinary objects, as `JSON.parse`
 * makes them, with every key (`__proto__` too) an own property. For records the spec holds (test
 * cases), which are compared with and handled like decoded records.
 */
export function copyRecord(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyRecord);
  if (typeof value !== 'object' || value === null) return value;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) setEntry(copy, key, copyRecord((value as Record<string, unknown>)[key]));
  return copy;
}

/** Sets `key` as an own, enumerable data property of `target`, even when it is `__proto__`. */
export function setEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
