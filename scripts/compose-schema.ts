/**
 * Composes the JSON Schema fragments in `schemas/` into the one committed document
 * `ingest.schema.json`, and generates the TypeScript types `engine/spec/spec-types.ts` from it.
 *
 *   tsx scripts/compose-schema.ts           write both files
 *   tsx scripts/compose-schema.ts --check   exit 1 if either committed file differs
 *
 * Fragments reference each other with relative `$ref`s (`../defs/batch.json#/$defs/source_batch`).
 * Composition inlines every fragment into one `$defs` section with local refs; see
 * docs/decisions/0002-schema-composition.md for the naming rule.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
// @ts-expect-error -- a plain ES module of the build, without types
import { compileSpecValidators } from './compile-spec-validators.mjs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { compile as compileTypes } from 'json-schema-to-typescript';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** The composed schema document: a draft 2020-12 schema whose refs are all local. */
export type ComposedSchema = JsonObject;

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMAS_DIR = path.join(REPO_ROOT, 'schemas');
export const SCHEMA_FILE = path.join(REPO_ROOT, 'ingest.schema.json');
export const TYPES_FILE = path.join(REPO_ROOT, 'engine', 'spec', 'spec-types.ts');

/** The fragment that becomes the document root; its own `$defs` keep their names. */
const ROOT_FRAGMENT = 'spec.json';
const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/**
 * The options every Ajv instance that compiles `ingest.schema.json` must use. `Ajv2020` (from
 * `ajv/dist/2020.js`) is required: the document is draft 2020-12. Add ajv-formats for `date-time`.
 */
export const AJV_OPTIONS = { discriminator: true, allErrors: true, strict: true, allowUnionTypes: true } as const;

/** Keywords whose value is one subschema. */
const SINGLE_SUBSCHEMA = [
  'additionalProperties', 'propertyNames', 'items', 'contains', 'not', 'if', 'then', 'else',
  'unevaluatedProperties', 'unevaluatedItems', 'contentSchema',
];
/** Keywords whose value is a list of subschemas. */
const LIST_OF_SUBSCHEMAS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
/** Keywords whose value maps names to subschemas. */
const MAP_OF_SUBSCHEMAS = ['properties', 'patternProperties', 'dependentSchemas', '$defs'];

/** Order of keywords in the composed document, so that it reads the same however fragments are written. */
const KEYWORD_ORDER = [
  '$schema', '$id', '$comment', 'title', 'description', '$ref', 'type', 'const', 'enum', 'format', 'pattern',
  'minLength', 'maxLength', 'minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum', 'multipleOf', 'default',
  'examples', 'items', 'prefixItems', 'contains', 'minItems', 'maxItems', 'uniqueItems', 'discriminator',
  'required', 'properties', 'patternProperties', 'propertyNames', 'additionalProperties', 'unevaluatedProperties',
  'minProperties', 'maxProperties', 'dependentRequired', 'dependentSchemas', 'allOf', 'anyOf', 'oneOf', 'not',
  'if', 'then', 'else', '$defs',
];

/** Keys that a fragment holding only shared `$defs` may have at its top. */
const NON_SCHEMA_TOP_KEYS = new Set(['$schema', '$comment', '$defs']);

/** Thrown when the fragments cannot be composed; the message lists every problem found. */
export class SchemaCompositionError extends Error {
  override name = 'SchemaCompositionError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`cannot compose schemas/:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.problems = problems;
  }
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Applies `change` to every direct subschema of `schema` (not to data such as `default` or `enum`). */
function mapSubschemas(schema: JsonObject, change: (subschema: Json, keyword: string) => Json): JsonObject {
  const result: JsonObject = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (SINGLE_SUBSCHEMA.includes(keyword)) {
      result[keyword] = change(value, keyword);
    } else if (LIST_OF_SUBSCHEMAS.includes(keyword) && Array.isArray(value)) {
      result[keyword] = value.map((item) => change(item, keyword));
    } else if (MAP_OF_SUBSCHEMAS.includes(keyword) && isObject(value)) {
      result[keyword] = Object.fromEntries(Object.entries(value).map(([name, item]) => [name, change(item, keyword)]));
    } else {
      result[keyword] = value;
    }
  }
  return result;
}

/** Calls `visit` on `schema` and every schema nested in it, `$defs` included. */
export function walkSchema(schema: Json, visit: (schema: JsonObject) => void): void {
  if (!isObject(schema)) return;
  visit(schema);
  mapSubschemas(schema, (subschema) => {
    walkSchema(subschema, visit);
    return subschema;
  });
}

/** Name in the composed `$defs` of a fragment's root schema (`def` undefined) or of one of its `$defs`. */
export function composedDefName(fragment: string, def?: string): string {
  if (fragment === ROOT_FRAGMENT) return def ?? '';
  const base = fragment.replace(/\.json$/, '').split('/').join('.');
  return def === undefined ? base : `${base}.${def}`;
}

function localRef(fragment: string, def?: string): string {
  const name = composedDefName(fragment, def);
  return name === '' ? '#' : `#/$defs/${name}`;
}

interface Target {
  fragment: string;
  def?: string;
}

function targetKey(target: Target): string {
  return target.def === undefined ? target.fragment : `${target.fragment}#/$defs/${target.def}`;
}

async function listFragments(directory: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFragments(path.join(directory, entry.name), relative)));
    else if (entry.name.endsWith('.json')) files.push(relative);
  }
  return files.sort();
}

function hasRootSchema(fragment: JsonObject): boolean {
  return Object.keys(fragment).some((key) => !NON_SCHEMA_TOP_KEYS.has(key));
}

/** Reorders the keywords of every schema object; property maps keep their authored order, `$defs` are sorted. */
function canonicalize(schema: Json): Json {
  if (!isObject(schema)) return schema;
  const rank = (keyword: string): number => {
    const index = KEYWORD_ORDER.indexOf(keyword);
    return index === -1 ? KEYWORD_ORDER.length : index;
  };
  const keywords = Object.keys(schema).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const ordered: JsonObject = {};
  for (const keyword of keywords) {
    const value = schema[keyword] as Json;
    ordered[keyword] = keyword === '$defs' && isObject(value)
      ? Object.fromEntries(Object.keys(value).sort().map((name) => [name, value[name] as Json]))
      : value;
  }
  return mapSubschemas(ordered, canonicalize);
}

/**
 * Reads every fragment under `schemasDir` and composes them into one document.
 * Throws `SchemaCompositionError` listing every unreadable fragment, dangling or unsupported `$ref`,
 * fragment or def that nothing references, and name collision.
 */
export async function composeSchema(schemasDir: string = SCHEMAS_DIR): Promise<ComposedSchema> {
  const problems: string[] = [];
  const fragments = new Map<string, JsonObject>();
  for (const file of await listFragments(schemasDir)) {
    try {
      const parsed = JSON.parse(await readFile(path.join(schemasDir, file), 'utf8')) as Json;
      if (!isObject(parsed)) problems.push(`${file}: a fragment must be a JSON object`);
      else fragments.set(file, parsed);
    } catch (error) {
      problems.push(`${file}: ${(error as Error).message}`);
    }
  }
  const root = fragments.get(ROOT_FRAGMENT);
  if (root === undefined) throw new SchemaCompositionError([...problems, `${ROOT_FRAGMENT} is missing`]);

  for (const [file, fragment] of fragments) {
    if (fragment.$schema !== DRAFT) problems.push(`${file}: "$schema" must be "${DRAFT}"`);
    if ('$id' in fragment) problems.push(`${file}: fragments must not set "$id"; refs are relative file paths`);
    for (const [name, def] of Object.entries(isObject(fragment.$defs) ? fragment.$defs : {})) {
      if (isObject(def) && '$defs' in def) problems.push(`${file}#/$defs/${name}: nested "$defs" are not supported`);
      if (file === ROOT_FRAGMENT && name.includes('.')) {
        problems.push(`${file}#/$defs/${name}: def names in ${ROOT_FRAGMENT} must not contain "." (reserved for other fragments)`);
      }
    }
  }

  const schemaOf = (target: Target): JsonObject | undefined => {
    const fragment = fragments.get(target.fragment);
    if (fragment === undefined) return undefined;
    if (target.def === undefined) return hasRootSchema(fragment) ? fragment : undefined;
    const defs = fragment.$defs;
    const def = isObject(defs) ? defs[target.def] : undefined;
    return isObject(def) || typeof def === 'boolean' ? (def as JsonObject) : undefined;
  };

  const resolve = (from: string, ref: string): Target | string => {
    const hash = ref.indexOf('#');
    const filePart = hash === -1 ? ref : ref.slice(0, hash);
    const pointer = hash === -1 ? '' : ref.slice(hash + 1);
    const fragment = filePart === '' ? from : path.posix.normalize(path.posix.join(path.posix.dirname(from), filePart));
    let target: Target;
    if (pointer === '') target = { fragment };
    else {
      const match = /^\/\$defs\/([^/]+)$/.exec(pointer);
      if (match === null) return `unsupported $ref "${ref}": only "<file>" and "<file>#/$defs/<name>" are allowed`;
      target = { fragment, def: match[1]!.replaceAll('~1', '/').replaceAll('~0', '~') };
    }
    if (schemaOf(target) === undefined) return `$ref "${ref}" points at nothing (${targetKey(target)})`;
    return target;
  };

  // Rewrites one schema's refs to local ones and records what it references.
  const reached = new Set<string>();
  const queue: Target[] = [];
  const rewrite = (from: string, schema: Json, where: string): Json => {
    if (!isObject(schema)) return schema;
    let result = schema;
    if (typeof schema.$ref === 'string') {
      const target = resolve(from, schema.$ref);
      if (typeof target === 'string') problems.push(`${where}: ${target}`);
      else {
        result = { ...schema, $ref: localRef(target.fragment, target.def) };
        if (!reached.has(targetKey(target))) {
          reached.add(targetKey(target));
          queue.push(target);
        }
      }
    }
    return mapSubschemas(result, (subschema, keyword) => (keyword === '$defs' ? subschema : rewrite(from, subschema, where)));
  };

  const composedDefs: JsonObject = {};
  const { $defs: _rootDefs, $schema: _rootDraft, ...rootSchema } = root;
  const document = rewrite(ROOT_FRAGMENT, rootSchema, ROOT_FRAGMENT) as JsonObject;
  reached.add(ROOT_FRAGMENT);
  // The root fragment's own defs are always part of the document, referenced or not.
  for (const name of Object.keys(isObject(root.$defs) ? root.$defs : {})) {
    const target = { fragment: ROOT_FRAGMENT, def: name };
    if (!reached.has(targetKey(target))) {
      reached.add(targetKey(target));
      queue.push(target);
    }
  }
  for (let target = queue.shift(); target !== undefined; target = queue.shift()) {
    const schema = schemaOf(target)!;
    const name = composedDefName(target.fragment, target.def);
    if (name in composedDefs) {
      problems.push(`${targetKey(target)}: its composed name "${name}" is taken by another fragment`);
      continue;
    }
    const { $defs: _defs, $schema: _draft, ...body } = schema;
    composedDefs[name] = rewrite(target.fragment, body, targetKey(target));
  }

  for (const [file, fragment] of fragments) {
    if (hasRootSchema(fragment) && !reached.has(file)) problems.push(`${file} is not referenced from ${ROOT_FRAGMENT}`);
    for (const name of Object.keys(isObject(fragment.$defs) ? fragment.$defs : {})) {
      const key = targetKey({ fragment: file, def: name });
      if (!reached.has(key)) problems.push(`${key} is not referenced from ${ROOT_FRAGMENT}`);
    }
  }
  if (problems.length > 0) throw new SchemaCompositionError(problems);

  return canonicalize({
    $schema: DRAFT,
    $comment: 'Generated by scripts/compose-schema.ts from the fragments in schemas/. Do not edit: change a fragment and run `npm run schema:compose`.',
    ...document,
    $defs: composedDefs,
  }) as ComposedSchema;
}

/** The committed text of a composed schema: 2-space JSON with a trailing newline. */
export function renderSchema(schema: ComposedSchema): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/**
 * Compiles the composed schema with the options the engine uses, so that composition fails on
 * anything Ajv's strict mode rejects. Throws Ajv's error.
 */
export function checkCompiles(schema: ComposedSchema): void {
  const ajv = new Ajv2020(AJV_OPTIONS);
  ajvFormats.default(ajv);
  ajv.compile(schema);
}

function defsOf(schema: ComposedSchema): JsonObject {
  return schema.$defs as JsonObject;
}

/** The discriminator values of a union def (`source`, `sink`), in schema order. */
function unionTypeNames(schema: ComposedSchema, union: string): string[] {
  const defs = defsOf(schema);
  const names: string[] = [];
  for (const branch of (defs[union] as JsonObject).oneOf as JsonObject[]) {
    const target = defs[(branch.$ref as string).replace('#/$defs/', '')] as JsonObject;
    const type = (target.properties as JsonObject).type as JsonObject;
    if (typeof type.const === 'string') names.push(type.const);
    else names.push(...(type.enum as string[]));
  }
  return names;
}

function pascalCase(snake: string): string {
  return snake.split('_').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
}

/** Keywords that only constrain values (conditionals, cross-field rules); TypeScript types cannot express them. */
const VALIDATION_ONLY = ['if', 'then', 'else', 'not', 'dependentRequired', 'dependentSchemas', 'discriminator'];
/** Keywords that give a schema a shape; a schema with none of them accepts any value. */
const SHAPE_KEYWORDS = [
  '$ref', 'type', 'const', 'enum', 'oneOf', 'anyOf', 'allOf', 'properties', 'items', 'additionalProperties', 'tsType',
];

/**
 * A copy of the composed schema shaped for json-schema-to-typescript, which names a type after
 * each `title` and copies (and renumbers: `Size1`, `Size2`...) any `$ref` that has sibling keywords:
 * - a `$ref` to an untitled def (names, templates, sizes...) is inlined, keeping the sibling
 *   description so the property's own JSDoc survives;
 * - a `$ref` to a titled def becomes a bare `$ref`, so every use shares one named type;
 * - conditionals are dropped, and the `source`/`sink` unions become plain `oneOf`s;
 * - `step` becomes a union of single-key objects, one per step kind (`FilterStep`...), since
 *   TypeScript cannot say "exactly one of these keys" on one interface;
 * - a schema that accepts any value becomes `unknown`.
 */
function schemaForTypes(schema: ComposedSchema, titlePrefix = ''): JsonObject {
  const input = structuredClone(schema) as JsonObject;
  const defs = defsOf(input);
  const defOf = (ref: string): JsonObject => defs[ref.slice('#/$defs/'.length)] as JsonObject;

  const step = defs.step as JsonObject;
  const stepKinds = Object.keys(step.properties as JsonObject);
  for (const kind of stepKinds) {
    defs[`step_${kind}`] = {
      title: `${titlePrefix}${pascalCase(kind)}Step`,
      type: 'object',
      additionalProperties: false,
      required: [kind],
      properties: { [kind]: (step.properties as JsonObject)[kind] as Json },
    };
  }
  defs.step = {
    title: step.title as Json,
    description: step.description as Json,
    oneOf: stepKinds.map((kind) => ({ $ref: `#/$defs/step_${kind}` })),
  };

  const prepare = (node: Json): Json => {
    if (!isObject(node)) return node;
    let prepared: JsonObject = node;
    if (typeof node.$ref === 'string' && node.$ref.startsWith('#/$defs/')) {
      const { $ref, ...siblings } = node;
      const target = defOf($ref);
      prepared = target.title === undefined ? { ...(prepare(target) as JsonObject), ...siblings } : { $ref };
    }
    prepared = Object.fromEntries(Object.entries(prepared).filter(([keyword]) => !VALIDATION_ONLY.includes(keyword)));
    if (Array.isArray(prepared.allOf)) {
      const onlyConditional = (part: Json): boolean =>
        isObject(part) && Object.keys(part).every((keyword) => VALIDATION_ONLY.includes(keyword));
      const parts = prepared.allOf.filter((part) => !onlyConditional(part)).map(prepare);
      if (parts.length === 0) delete prepared.allOf;
      else prepared.allOf = parts;
    }
    if (Array.isArray(prepared.oneOf) && node.discriminator !== undefined) {
      const { properties: _properties, required: _required, type: _type, ...union } = prepared;
      prepared = union;
    }
    if (!SHAPE_KEYWORDS.some((keyword) => keyword in prepared)) prepared = { ...prepared, tsType: 'unknown' };
    return mapSubschemas(prepared, (subschema, keyword) => (keyword === '$defs' ? subschema : prepare(subschema)));
  };
  for (const name of Object.keys(defs)) defs[name] = prepare(defs[name] as Json);
  return prepare(input) as JsonObject;
}

/** Drops the "referenced by ... definition" notes json-schema-to-typescript adds to every def's JSDoc. */
function withoutDefinitionNotes(typescript: string, root = 'Spec'): string {
  const note = `This interface was referenced by \`${root}\`'s JSON-Schema\\n \\* via the \`definition\` "[^"]*"\\.`;
  return typescript
    .replace(new RegExp(`\\n \\*\\n \\* ${note}`, 'g'), '')
    .replace(new RegExp(`/\\*\\*\\n \\* ${note}\\n \\*/\\n`, 'g'), '');
}

const TYPES_BANNER = `/**
 * Types of spec language v1: as written by users (\`Spec\`, \`S3Source\`..., defaults not applied),
 * and as the engine reads them once \`resolveSpec\` has run (\`ResolvedSpec\`, \`ResolvedS3Source\`...:
 * every field with a default present, sizes in bytes).
 *
 * GENERATED by scripts/compose-schema.ts from schemas/ (via ingest.schema.json). Do not edit:
 * change a fragment and run \`npm run schema:compose\`.
 */`;

/** The def of sizes (`64MiB` or a number of bytes), which resolution turns into a number of bytes. */
export const SIZE_REF = '#/$defs/defs.size.size';
/** Prefix of the names of the resolved types: `S3Source` is written, `ResolvedS3Source` is read. */
const RESOLVED = 'Resolved';

/**
 * The schema of a spec after `resolveSpec` (engine/spec/resolve.ts), derived from the composed
 * schema so that the two cannot drift:
 * - a property that has a `default` is required, because resolution puts the default there (as
 *   Ajv's `useDefaults` does: only a `default` written on the property itself counts, and a
 *   property whose parent object is absent stays absent);
 * - a size is an integer number of bytes;
 * - every title gets the `Resolved` prefix, so both sets of types live in one module.
 * The resolution tests validate resolved specs against it.
 */
export function resolvedSchema(schema: ComposedSchema): ComposedSchema {
  const resolve = (node: Json): Json => {
    if (!isObject(node)) return node;
    let result: JsonObject = { ...node };
    if (result.$ref === SIZE_REF) {
      const { $ref: _ref, default: _default, examples: _examples, ...siblings } = result;
      result = { ...siblings, type: 'integer' };
    }
    if (typeof result.title === 'string') result.title = `${RESOLVED}${result.title}`;
    if (isObject(result.properties)) {
      const defaulted = Object.entries(result.properties).filter(([, property]) => isObject(property) && 'default' in property).map(([name]) => name);
      const required = Array.isArray(result.required) ? (result.required as string[]) : [];
      const all = [...required, ...defaulted.filter((name) => !required.includes(name))];
      if (all.length > 0) result.required = all;
    }
    delete result.default;
    return mapSubschemas(result, resolve);
  };
  return resolve(structuredClone(schema)) as ComposedSchema;
}

const TYPE_OPTIONS = {
  unreachableDefinitions: false,
  ignoreMinAndMaxItems: true,
  format: true,
  style: { singleQuote: true, printWidth: 120 },
} as const;

/**
 * Generates the TypeScript types of the spec: one named type per titled schema (\`Spec\`,
 * \`S3Source\`, \`RedshiftSink\`...), \`Step\` as a union of single-key step types, the same again
 * as resolved (\`ResolvedSpec\`...: see \`resolvedSchema\`), const lists of the source types, sink
 * types and step kinds, and the resolved config of each of them.
 */
export async function generateTypes(schema: ComposedSchema): Promise<string> {
  const generated = await compileTypes(schemaForTypes(schema) as never, 'Spec', { ...TYPE_OPTIONS, bannerComment: TYPES_BANNER });
  const resolved = await compileTypes(schemaForTypes(resolvedSchema(schema), RESOLVED) as never, `${RESOLVED}Spec`, { ...TYPE_OPTIONS, bannerComment: '' });
  const stepKinds = Object.keys((defsOf(schema).step as JsonObject).properties as JsonObject);
  const list = (values: string[]): string => {
    const oneLine = values.map((value) => `'${value}'`).join(', ');
    return oneLine.length <= 80 ? oneLine : `\n${values.map((value) => `  '${value}',\n`).join('')}`;
  };
  return `${withoutDefinitionNotes(generated).trimEnd()}

// Resolved: what the engine reads.

${withoutDefinitionNotes(resolved, `${RESOLVED}Spec`).trim()}

/** Every source \`type\`, in schema order. */
export const SOURCE_TYPES = [${list(unionTypeNames(schema, 'source'))}] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/** Every sink \`type\`, in schema order. */
export const SINK_TYPES = [${list(unionTypeNames(schema, 'sink'))}] as const;
export type SinkType = (typeof SINK_TYPES)[number];

/** Every transform step kind, in schema order. */
export const STEP_KINDS = [${list(stepKinds)}] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** The resolved config of a source type, e.g. \`SourceConfig<'s3'>\` is \`ResolvedS3Source\`. */
export type SourceConfig<T extends SourceType = SourceType> = Extract<${RESOLVED}Source, { type: T }>;

/** The resolved config of a sink type; the search sink's for both \`elasticsearch\` and \`opensearch\`. */
export type SinkConfig<T extends SinkType = SinkType> = Extract<${RESOLVED}Sink, { type: T }>;

/** The resolved config of each step kind: the value under its key. */
export type StepConfigs = { [K in StepKind]: Extract<${RESOLVED}Step, Record<K, unknown>>[K] };

/** The resolved config of a step kind, e.g. \`StepConfig<'flatten'>\` is \`ResolvedFlattenStepConfig\`. */
export type StepConfig<K extends StepKind = StepKind> = StepConfigs[K];
`;
}

/** The two generated files and their contents. */
export async function buildOutputs(schemasDir: string = SCHEMAS_DIR): Promise<Map<string, string>> {
  const schema = await composeSchema(schemasDir);
  checkCompiles(schema);
  return new Map([
    [SCHEMA_FILE, renderSchema(schema)],
    [TYPES_FILE, await generateTypes(schema)],
  ]);
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes('--check');
  const unknown = argv.filter((argument) => argument !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`compose-schema: unknown argument ${unknown.join(' ')}\nusage: tsx scripts/compose-schema.ts [--check]\n`);
    return 2;
  }
  const outputs = await buildOutputs();
  let stale = 0;
  for (const [file, text] of outputs) {
    const relative = path.relative(REPO_ROOT, file);
    if (check) {
      const committed = await readFile(file, 'utf8').catch(() => undefined);
      if (committed !== text) {
        stale += 1;
        process.stderr.write(`${relative} is out of date with schemas/; run \`npm run schema:compose\`\n`);
      }
    } else {
      await writeFile(file, text);
      process.stdout.write(`wrote ${relative}\n`);
    }
  }
  if (!check) {
    await compileSpecValidators();
    process.stdout.write('compiled engine/spec/generated/ from ingest.schema.json\n');
  }
  return stale > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
