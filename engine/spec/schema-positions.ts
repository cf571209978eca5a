import schema from '../../ingest.schema.json' with { type: 'json' };
import type { SpecPath } from './diagnostic.ts';

type SchemaNode = { readonly [keyword: string]: unknown };

const DEFINITIONS = schema.$defs as unknown as Readonly<Record<string, SchemaNode>>;

/**
 * Called for each value (or, for `propertyNames`, each key) that one of the wanted definitions types.
 * For a key, `value` is the key itself and `path` ends with it.
 */
export type TypedVisitor = (ref: string, value: unknown, path: SpecPath, target: 'key' | 'value') => void;

/**
 * Calls `visit` for every value of a spec that the composed schema types by one of the
 * definitions in `refs` (`#/$defs/defs.template.template`...), with the value's path, and for
 * every key that a `propertyNames` of one of them types. Follows the schema as validation does:
 * `$ref`s, `properties` and `additionalProperties`, `items`, `allOf`, the branch of a `oneOf`
 * that the value's `type` selects, and the first `oneOf` branch of a value that has no `type`
 * but matches the branch's JSON type. Lets a check find every position of a kind of value (every
 * template, every field path) from the schema, so a field added to a fragment is checked without
 * being listed again. Expects a spec that passed the schema.
 */
export function forEachTyped(value: unknown, refs: ReadonlySet<string>, visit: TypedVisitor): void {
  walk(schema as unknown as SchemaNode, value, [], refs, visit, 0);
}

/** Deeper than any composition of the schema; a guard against a self-referencing definition. */
const MAX_DEPTH = 64;

function walk(node: SchemaNode, value: unknown, path: SpecPath, refs: ReadonlySet<string>, visit: TypedVisitor, depth: number): void {
  if (depth > MAX_DEPTH) return;
  const ref = node.$ref;
  if (typeof ref === 'string') {
    if (refs.has(ref)) {
      visit(ref, value, path, 'value');
      return;
    }
    const target = ref.startsWith('#/$defs/') ? DEFINITIONS[ref.slice('#/$defs/'.length)] : undefined;
    if (target) walk(target, value, path, refs, visit, depth + 1);
  }
  if (Array.isArray(node.allOf)) for (const part of node.allOf as SchemaNode[]) walk(part, value, path, refs, visit, depth + 1);
  if (Array.isArray(node.oneOf)) {
    const branches = node.oneOf as SchemaNode[];
    const branch = isMap(value) && branches.some((candidate) => selects(candidate, value)) ? branches.find((candidate) => selects(candidate, value)) : branches.find((candidate) => hasJsonType(candidate, value));
    if (branch) walk(branch, value, path, refs, visit, depth + 1);
  }
  const names = node.propertyNames;
  if (isMap(value) && isNode(names) && typeof names.$ref === 'string' && refs.has(names.$ref)) {
    for (const key of Object.keys(value)) visit(names.$ref, key, [...path, key], 'key');
  }
  if (Array.isArray(value) && isNode(node.items)) {
    value.forEach((item, index) => walk(node.items as SchemaNode, item, [...path, index], refs, visit, depth + 1));
  }
  if (isMap(value)) {
    const properties = isNode(node.properties) ? node.properties : undefined;
    const others = isNode(node.additionalProperties) ? node.additionalProperties : undefined;
    for (const key of Object.keys(value)) {
      const field = properties && Object.hasOwn(properties, key) ? properties[key] : others;
      if (isNode(field)) walk(field, value[key], [...path, key], refs, visit, depth + 1);
    }
  }
}

/** Whether a `oneOf` branch is the one a discriminating `type` selects. */
function selects(branch: SchemaNode, value: Record<string, unknown>): boolean {
  const resolved = typeof branch.$ref === 'string' ? DEFINITIONS[branch.$ref.slice('#/$defs/'.length)] : branch;
  const type = isNode(resolved?.properties) ? (resolved.properties as Record<string, SchemaNode>).type : undefined;
  if (!type) return false;
  if (type.const !== undefined) return type.const === value.type;
  return Array.isArray(type.enum) && type.enum.includes(value.type);
}

/** Whether `value` has the JSON type a branch declares (following its `$ref`): how a `oneOf` without a discriminator is told apart. */
function hasJsonType(branch: SchemaNode, value: unknown): boolean {
  const resolved = typeof branch.$ref === 'string' ? DEFINITIONS[branch.$ref.slice('#/$defs/'.length)] : branch;
  const type = resolved?.type;
  const jsonType = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : typeof value === 'number' ? 'number' : typeof value;
  const types = Array.isArray(type) ? type : [type];
  return types.includes(jsonType) || (jsonType === 'number' && types.includes('integer'));
}

function isNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
