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
  walk(schema as unknown as SchemaNode, value, [], { refs, visit, reaching: reachingFor(refs) }, 0);
}

/** Deeper than any composition of the schema; a guard against a self-referencing definition. */
const MAX_DEPTH = 64;

interface Walk {
  refs: ReadonlySet<string>;
  visit: TypedVisitor;
  /** Whether one of `refs` can type a value somewhere under a schema node (see `reachingFor`). */
  reaching: (node: SchemaNode) => boolean;
}

/**
 * `path` is the walk's one path, pushed and popped as it descends; `visit` receives a copy.
 * Subtrees of the schema where none of the wanted definitions can occur are not walked: most of a
 * spec holds no template or field path, and walking it cost more than the checks themselves.
 */
function walk(node: SchemaNode, value: unknown, path: (string | number)[], context: Walk, depth: number): void {
  if (depth > MAX_DEPTH || !context.reaching(node)) return;
  const { refs, visit } = context;
  const ref = node.$ref;
  if (typeof ref === 'string') {
    if (refs.has(ref)) {
      visit(ref, value, [...path], 'value');
      return;
    }
    const target = definitionOf(ref);
    if (target) walk(target, value, path, context, depth + 1);
  }
  if (Array.isArray(node.allOf)) for (const part of node.allOf as SchemaNode[]) walk(part, value, path, context, depth + 1);
  if (Array.isArray(node.oneOf)) {
    const branches = node.oneOf as SchemaNode[];
    const branch = (isMap(value) ? branches.find((candidate) => selects(candidate, value)) : undefined) ?? branches.find((candidate) => hasJsonType(candidate, value));
    if (branch) walk(branch, value, path, context, depth + 1);
  }
  const names = node.propertyNames;
  if (isMap(value) && isNode(names) && typeof names.$ref === 'string' && refs.has(names.$ref)) {
    for (const key of Object.keys(value)) visit(names.$ref, key, [...path, key], 'key');
  }
  if (Array.isArray(value) && isNode(node.items)) {
    for (let index = 0; index < value.length; index++) {
      path.push(index);
      walk(node.items, value[index], path, context, depth + 1);
      path.pop();
    }
  }
  if (isMap(value)) {
    const properties = isNode(node.properties) ? node.properties : undefined;
    const others = isNode(node.additionalProperties) ? node.additionalProperties : undefined;
    for (const key of Object.keys(value)) {
      const field = properties && Object.hasOwn(properties, key) ? properties[key] : others;
      if (!isNode(field)) continue;
      path.push(key);
      walk(field, value[key], path, context, depth + 1);
      path.pop();
    }
  }
}

/** Per set of wanted definitions (the callers' sets are module constants), whether each schema node can lead to one. */
const REACHING = new WeakMap<ReadonlySet<string>, (node: SchemaNode) => boolean>();

/**
 * Whether some value under a schema node can be typed by one of `refs`: through a `$ref`, a
 * `propertyNames`, or any part `walk` descends into. Computed once per node and set; a node met
 * again while its own answer is being computed counts as reaching, so a self-referencing
 * definition is walked (bounded by `MAX_DEPTH`) rather than wrongly skipped.
 */
function reachingFor(refs: ReadonlySet<string>): (node: SchemaNode) => boolean {
  const known = REACHING.get(refs);
  if (known) return known;
  const answers = new WeakMap<SchemaNode, boolean>();
  const reaching = (node: SchemaNode): boolean => {
    const answer = answers.get(node);
    if (answer !== undefined) return answer;
    answers.set(node, true);
    const computed = leadsTo(node);
    answers.set(node, computed);
    return computed;
  };
  const leadsTo = (node: SchemaNode): boolean => {
    const ref = node.$ref;
    if (typeof ref === 'string') {
      if (refs.has(ref)) return true;
      const target = definitionOf(ref);
      if (target && reaching(target)) return true;
    }
    const names = node.propertyNames;
    if (isNode(names) && typeof names.$ref === 'string' && refs.has(names.$ref)) return true;
    const parts = [
      ...(Array.isArray(node.allOf) ? (node.allOf as unknown[]) : []),
      ...(Array.isArray(node.oneOf) ? (node.oneOf as unknown[]) : []),
      node.items,
      ...(isNode(node.properties) ? Object.values(node.properties) : []),
      node.additionalProperties,
    ];
    return parts.some((part) => isNode(part) && reaching(part));
  };
  REACHING.set(refs, reaching);
  return reaching;
}

function definitionOf(ref: string): SchemaNode | undefined {
  return ref.startsWith('#/$defs/') ? DEFINITIONS[ref.slice('#/$defs/'.length)] : undefined;
}

/** Whether a `oneOf` branch is the one a discriminating `type` selects. */
function selects(branch: SchemaNode, value: Record<string, unknown>): boolean {
  const resolved = typeof branch.$ref === 'string' ? definitionOf(branch.$ref) : branch;
  const type = isNode(resolved?.properties) ? (resolved.properties as Record<string, SchemaNode>).type : undefined;
  if (!type) return false;
  if (type.const !== undefined) return type.const === value.type;
  return Array.isArray(type.enum) && type.enum.includes(value.type);
}

/** Whether `value` has the JSON type a branch declares (following its `$ref`): how a `oneOf` without a discriminator is told apart. */
function hasJsonType(branch: SchemaNode, value: unknown): boolean {
  const resolved = typeof branch.$ref === 'string' ? definitionOf(branch.$ref) : branch;
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
