import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { AJV_OPTIONS, SCHEMA_FILE, TYPES_FILE } from '../../../scripts/compose-schema.ts';

type Schema = { [keyword: string]: unknown };

/** The canonical way a pattern accepts a whole parameter reference: its first alternative. */
const PARAMETER_ALTERNATIVE = '^(?:\\$\\{param\\.[a-z][a-z0-9_]{0,63}\\}|';

let schema: Schema;
let ajv: Ajv2020;

beforeAll(async () => {
  schema = JSON.parse(await readFile(SCHEMA_FILE, 'utf8')) as Schema;
  ajv = new Ajv2020(AJV_OPTIONS);
  ajvFormats.default(ajv);
  ajv.addSchema(schema, 'ingest');
});

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapePointer(part: string): string {
  return part.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Every schema object in the document with its JSON Pointer, descending through all subschema keywords. */
function allSchemas(root: Schema): { pointer: string; node: Schema }[] {
  const found: { pointer: string; node: Schema }[] = [];
  const visit = (node: unknown, pointer: string): void => {
    if (!isSchema(node)) return;
    found.push({ pointer, node });
    for (const keyword of ['additionalProperties', 'propertyNames', 'items', 'contains', 'not', 'if', 'then', 'else']) {
      visit(node[keyword], `${pointer}/${keyword}`);
    }
    for (const keyword of ['allOf', 'anyOf', 'oneOf', 'prefixItems']) {
      const list = node[keyword];
      if (Array.isArray(list)) list.forEach((item, index) => visit(item, `${pointer}/${keyword}/${index}`));
    }
    for (const keyword of ['properties', 'patternProperties', 'dependentSchemas', '$defs']) {
      const map = node[keyword];
      if (isSchema(map)) for (const [name, item] of Object.entries(map)) visit(item, `${pointer}/${keyword}/${escapePointer(name)}`);
    }
  };
  visit(root, '');
  return found;
}

/** The description a schema shows on hover: its own, or that of the def its bare `$ref` points at. */
function descriptionOf(node: Schema): unknown {
  if (node.description !== undefined) return node.description;
  if (typeof node.$ref === 'string') {
    const target = (schema.$defs as Record<string, Schema>)[node.$ref.slice('#/$defs/'.length)];
    return target === undefined ? undefined : descriptionOf(target);
  }
  return undefined;
}

describe('ingest.schema.json documentation', () => {
  it('every property, pattern property, additional-properties schema and def has a description', () => {
    const undocumented: string[] = [];
    // Properties named inside an `if` (or `not`) are conditions on values, not fields anyone hovers on.
    const inCondition = (pointer: string): boolean => /\/(?:if|not)(?:\/|$)/.test(pointer);
    for (const { pointer, node } of allSchemas(schema).filter(({ pointer }) => !inCondition(pointer))) {
      const documented: [string, unknown][] = [
        ...Object.entries(isSchema(node.properties) ? node.properties : {}).map(
          ([name, item]): [string, unknown] => [`${pointer}/properties/${escapePointer(name)}`, item],
        ),
        ...Object.entries(isSchema(node.patternProperties) ? node.patternProperties : {}).map(
          ([name, item]): [string, unknown] => [`${pointer}/patternProperties/${escapePointer(name)}`, item],
        ),
        ...Object.entries(isSchema(node.$defs) ? node.$defs : {}).map(
          ([name, item]): [string, unknown] => [`${pointer}/$defs/${escapePointer(name)}`, item],
        ),
        [`${pointer}/additionalProperties`, node.additionalProperties],
      ];
      for (const [where, item] of documented) {
        // Booleans are no documentation target: `false` forbids a key, `true` only names it for Ajv's strictRequired.
        if (isSchema(item) && typeof descriptionOf(item) !== 'string') undocumented.push(where);
      }
    }

    expect(undocumented).toEqual([]);
  });

  it('every description is a sentence: starts with a capital or a backtick and ends with a period', () => {
    const badly = allSchemas(schema)
      .filter(({ node }) => typeof node.description === 'string')
      .filter(({ node }) => !/^[A-Z`]/.test(node.description as string) || !(node.description as string).endsWith('.'))
      .map(({ pointer, node }) => `${pointer}: ${node.description as string}`);

    expect(badly).toEqual([]);
  });

  it('every default is valid against the schema it is the default of', () => {
    const invalid: string[] = [];
    for (const { pointer, node } of allSchemas(schema)) {
      if (node.default === undefined || !pointer.startsWith('/$defs/')) continue;
      const validate = ajv.getSchema(`ingest#${pointer}`)!;
      if (!validate(node.default)) invalid.push(`${pointer}: ${JSON.stringify(node.default)} ${ajv.errorsText(validate.errors)}`);
    }

    expect(invalid).toEqual([]);
  });

  it('every example is valid against the schema it illustrates', () => {
    const invalid: string[] = [];
    for (const { pointer, node } of allSchemas(schema)) {
      if (!Array.isArray(node.examples)) continue;
      const validate = ajv.getSchema(`ingest#${pointer}`)!;
      for (const example of node.examples) {
        if (!validate(example)) invalid.push(`${pointer}: ${JSON.stringify(example)} ${ajv.errorsText(validate.errors)}`);
      }
    }

    expect(invalid).toEqual([]);
  });

  it('every titled def is exported under its title from engine/spec/spec-types.ts', async () => {
    const types = await readFile(TYPES_FILE, 'utf8');
    const titles = Object.values(schema.$defs as Record<string, Schema>)
      .map((def) => def.title)
      .filter((title): title is string => typeof title === 'string');
    const missing = [String(schema.title), ...titles].filter(
      (title) => !new RegExp(`^export (?:interface|type) ${title}\\b`, 'm').test(types),
    );

    expect(titles.length).toBeGreaterThan(30);
    expect(missing).toEqual([]);
  });
});

describe('parameter references in AWS resource names', () => {
  const resourceDefs = [
    'defs.aws.s3_bucket',
    'defs.aws.kinesis_stream',
    'defs.aws.dynamodb_table',
    'defs.aws.dynamodb_stream_arn',
    'defs.aws.secret_arn',
    'defs.aws.iam_role_arn',
    'defs.aws.sns_topic_arn',
    'defs.aws.redshift_workgroup',
    'defs.aws.redshift_cluster',
    'defs.aws.database_name',
    'defs.aws.search_endpoint',
  ];

  it('every pattern that accepts a parameter reference does so with the same first alternative', () => {
    const patterns = allSchemas(schema)
      .filter(({ node }) => typeof node.pattern === 'string' && node.pattern.includes('param\\.'))
      .filter(({ node }) => node.pattern !== '^\\$\\{param\\.[a-z][a-z0-9_]{0,63}\\}$');
    const odd = patterns.filter(({ node }) => !(node.pattern as string).startsWith(PARAMETER_ALTERNATIVE));

    expect(patterns.map(({ pointer }) => pointer.replace('/$defs/', ''))).toEqual([...resourceDefs].sort());
    expect(odd.map(({ pointer }) => pointer)).toEqual([]);
  });

  it.each(resourceDefs)('%s accepts a whole parameter reference', (def) => {
    const validate = ajv.getSchema(`ingest#/$defs/${def}`)!;

    expect(validate('${param.orders_stream_2}')).toBe(true);
  });

  it.each(resourceDefs)('%s rejects a malformed or embedded parameter reference', (def) => {
    const validate = ajv.getSchema(`ingest#/$defs/${def}`)!;

    expect(validate('${param.Orders}')).toBe(false);
    expect(validate('${ param.orders }')).toBe(false);
    expect(validate('x${param.orders}')).toBe(false);
  });

  it.each([
    ['defs.aws.s3_bucket', 'acme-raw', 'Acme_Raw'],
    ['defs.aws.s3_bucket', 'logs.acme.com', 'a..b'],
    ['defs.aws.kinesis_stream', 'arn:aws:kinesis:us-east-1:123456789012:stream/orders', 'arn:aws:kinesis:us-east-1:1234:stream/orders'],
    ['defs.aws.dynamodb_stream_arn', 'arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2026-01-01T00:00:00.000', 'users'],
    ['defs.aws.iam_role_arn', 'arn:aws-cn:iam::123456789012:role/service/RedshiftCopy', 'RedshiftCopy'],
    ['defs.aws.sns_topic_arn', 'arn:aws:sns:us-east-1:123456789012:alerts.fifo', 'alerts'],
    ['defs.aws.search_endpoint', 'http://127.0.0.1:9200', 'http://search.example.com'],
  ])('%s accepts %s and rejects %s', (def, valid, invalid) => {
    const validate = ajv.getSchema(`ingest#/$defs/${def}`)!;

    expect(validate(valid)).toBe(true);
    expect(validate(invalid)).toBe(false);
  });
});

describe('defaults behind references', () => {
  it('repeats the default of a referenced definition on the property, where ajv and editors apply it', async () => {
    const { readFileSync } = await import('node:fs');
    const schema = JSON.parse(readFileSync(new URL('../../../ingest.schema.json', import.meta.url), 'utf8')) as { $defs: Record<string, { default?: unknown }> };
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      const properties = (node as { properties?: Record<string, { $ref?: string; default?: unknown }> }).properties;
      for (const [name, property] of Object.entries(properties ?? {})) {
        const target = property.$ref?.startsWith('#/$defs/') ? schema.$defs[property.$ref.slice(8)] : undefined;
        if (target && 'default' in target && !('default' in property)) missing.push(`${path}/properties/${name}`);
      }
      for (const [key, child] of Object.entries(node)) walk(child, `${path}/${key}`);
    };
    walk(schema, '#');
    expect(missing).toEqual([]);
  });
});
