import schema from '../../ingest.schema.json' with { type: 'json' };
import applySpecDefaults from './generated/apply-spec-defaults.js';
import type { ResolvedSpec } from './resolved-spec.ts';
import { substituteParameters } from './resolved-spec.ts';
import { copyMap, copyRecord, setEntry } from './copy-map.ts';
import { sizeInBytes } from './size.ts';

/** The def every size field refers to (see scripts/compose-schema.ts, `SIZE_REF`). */
const SIZE_REF = '#/$defs/defs.size.size';

type SchemaNode = { [keyword: string]: unknown };

/**
 * Resolves a spec that already passed validation: applies the schema's defaults, turns sizes
 * like `64MiB` into bytes, then substitutes `parameters` (see `substituteParameters`; callers
 * that run the spec check the values first with `checkParameters`). Runs in the CLI; the Lambda
 * receives `applyDefaults`' result and never compiles the schema. Never mutates `value`.
 */
export function resolveSpec(value: unknown, parameters: Readonly<Record<string, string>> = {}): ResolvedSpec {
  return substituteParameters(applyDefaults(value), parameters);
}

/**
 * Defaults applied and sizes in bytes, parameters left as references: what `ingest package` ships
 * and `ingest test` runs. The result has the shape of the generated `ResolvedSpec` (a test holds
 * the two together). Every object in it is a fresh copy without a prototype, so that a key the
 * user wrote, `__proto__` included, stays an ordinary key whatever code reads it; test cases, which
 * hold records, are ordinary objects with every key an own property, like decoded records.
 */
export function applyDefaults(value: unknown): ResolvedSpec {
  const copy = copyMap(value);
  applySpecDefaults(copy);
  // Copied again: the defaults Ajv inserts (`batch: {}`) are ordinary objects.
  const resolved = sizesInBytes(schema as SchemaNode, copyMap(copy)) as ResolvedSpec;
  // Test cases hold records, which are compared with what sinks receive: they take the form of records.
  if (resolved.tests) resolved.tests = copyRecord(resolved.tests) as ResolvedSpec['tests'];
  return resolved;
}

/**
 * Walks `value` along `node` and turns every string in a size field into its number of bytes.
 * Only fields the schema declares as sizes change: a test record or a `default` literal with a
 * field named `max_bytes` is data and keeps its value.
 */
function sizesInBytes(node: SchemaNode, value: unknown): unknown {
  if (node.$ref === SIZE_REF) return typeof value === 'string' ? bytesOf(value) : value;
  if (typeof node.$ref === 'string') return sizesInBytes(definition(node.$ref), value);
  if (Array.isArray(node.allOf)) return (node.allOf as SchemaNode[]).reduce((current, part) => sizesInBytes(part, current), value);
  if (Array.isArray(node.oneOf) && isObject(node.discriminator) && isMap(value)) {
    const branch = discriminated(node, value);
    return branch === undefined ? value : sizesInBytes(branch, value);
  }
  if (Array.isArray(value)) return isObject(node.items) ? value.map((item) => sizesInBytes(node.items as SchemaNode, item)) : value;
  if (isMap(value)) {
    const properties = isObject(node.properties) ? node.properties : undefined;
    const others = isObject(node.additionalProperties) ? node.additionalProperties : undefined;
    for (const key of Object.keys(value)) {
      const field = properties && Object.hasOwn(properties, key) ? properties[key] : others;
      if (isObject(field)) setEntry(value, key, sizesInBytes(field, value[key]));
    }
  }
  return value;
}

function bytesOf(size: string): number | string {
  // The parser validation bounded the size with: the runtime gets exactly those bytes.
  return sizeInBytes(size) ?? size;
}

function definition(ref: string): SchemaNode {
  const name = ref.slice('#/$defs/'.length);
  return (schema.$defs as Record<string, SchemaNode>)[name]!;
}

/** The branch of a discriminated `oneOf` whose discriminating property matches the value's. */
function discriminated(node: SchemaNode, value: Record<string, unknown>): SchemaNode | undefined {
  const property = (node.discriminator as { propertyName: string }).propertyName;
  const tag = value[property];
  return (node.oneOf as SchemaNode[]).map((branch) => (typeof branch.$ref === 'string' ? definition(branch.$ref) : branch)).find((branch) => {
    const declared = (branch.properties as Record<string, SchemaNode> | undefined)?.[property];
    return declared?.const === tag || (Array.isArray(declared?.enum) && declared.enum.includes(tag));
  });
}

function isObject(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMap(value: unknown): value is Record<string, unknown> {
  return isObject(value);
}
