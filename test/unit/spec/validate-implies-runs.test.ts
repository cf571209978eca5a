import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import schema from '../../../ingest.schema.json' with { type: 'json' };
import { InvalidSpecError, packageFunction } from '../../../generator/package-function.ts';
import { createHandler } from '../../../engine/handler.ts';
import type { PackagedSpec } from '../../../engine/lambda.ts';
import type { RecordValidator } from '../../../engine/plugin/types.ts';
import { SINK_PLUGINS } from '../../../engine/plugin/registry.ts';
import { MemoryLedger } from '../../../engine/ports/memory-ledger.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { MemoryWarehouse } from '../../../engine/ports/memory-warehouse.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import type { ResolvedSpec } from '../../../engine/spec/resolved-spec.ts';
import { substituteParameters } from '../../../engine/spec/resolved-spec.ts';
import { formatSize } from '../../../engine/spec/size.ts';
import { filesBeside, validateLoadedSpec } from '../../../engine/spec/validate.ts';
import { CaptureSink } from '../../../engine/testing/capture-sink.ts';

// The class of "validate accepts it, then it fails at start-up": every spec that `ingest validate`
// accepts must build its handler (createHandler, as `ingest test`, `ingest run` and the Lambda do)
// and package (`ingest package`), whose packaged spec must build the Lambda's handler in turn.
// The specs: every example, every invalid-corpus file repaired, and specs generated from the
// schema's boundaries (each number at its least and greatest value, each size at its limits in
// both forms, each field path with odd but legal names). A throw names the spec.

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const CORPUS = fileURLToPath(new URL('../../fixtures/invalid/', import.meta.url));
const WORK = mkdtempSync(join(tmpdir(), 'ingest-validate-implies-runs-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

interface Case {
  name: string;
  /** The spec file's text. */
  text: string;
  /** The folder the spec's relative paths (validate schemas, test events) resolve from. */
  folder: string;
}

// ---------------------------------------------------------------------------------------------
// Repairs of the invalid corpus: the smallest edit that removes each file's one mistake, as exact
// text replacements. `null` marks a file that holds no spec to repair, with the reason.

const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-db-AbCdEf';
const REPAIRS: Record<string, [string, string][] | { unrepairable: string }> = {
  'alias-limit.yaml': { unrepairable: 'an alias bomb, not a spec' },
  'batch-out-of-range-dynamodb.yaml': [['max_record_age_seconds: 59', 'max_record_age_seconds: 60']],
  'batch-out-of-range.yaml': [['max_record_age_seconds: 30', 'max_record_age_seconds: 60']],
  'conflicting-fields-notifications.yaml': [['  topic: arn:aws:sns:us-east-1:123456789012:alerts\n', '']],
  'conflicting-fields-postgres-connection.yaml': [['      url: "${param.database_url}"\n', '']],
  'conflicting-fields.yaml': [['      cluster: analytics\n', '']],
  'duplicate-id.yaml': [['  orders:\n    type: s3', '  archive:\n    type: s3']],
  'duplicate-key.yaml': [['  orders: { type: kinesis, stream: orders-v2 }', '  refunds: { type: kinesis, stream: orders-v2 }']],
  'duplicate-test-name.yaml': [['  - name: an order is archived\n    given:\n      orders: [{ order_id: o-2 }]', '  - name: another order is archived\n    given:\n      orders: [{ order_id: o-2 }]']],
  'empty-file.yaml': { unrepairable: 'holds no document' },
  'invalid-encoding.yaml': [],
  'invalid-expression-not-bool.yaml': [[`where: "'purchase'"`, `where: "record.type == 'purchase'"`]],
  'invalid-expression.yaml': [['"record.status == "', `"record.status == 'paid'"`]],
  'invalid-filter-pattern.yaml': [['{ event_type: purchase }', '{ event_type: [purchase] }']],
  'invalid-identifier-table.yaml': [['table: sales.order-lines', 'table: sales.order_lines']],
  'invalid-identifier.yaml': [['order-total', 'order_total']],
  'logical-id-collision.yaml': [['  orders1: { type: kinesis', '  refunds: { type: kinesis'], ['orders_1, orders1]', 'orders_1, refunds]']],
  'invalid-index-name-template.yaml': [['"_orders-{{record.day}}"', '"orders-{{record.day}}"']],
  'invalid-index-name.yaml': [['index: Orders', 'index: orders']],
  'invalid-key-prefix-dead-letter.yaml': [['"errors/{{stage}}"', '"errors/{{stage}}/"']],
  'invalid-key-prefix-leading-slash.yaml': [['key: /orders/', 'key: orders/']],
  'invalid-key-prefix.yaml': [['key: orders\n', 'key: orders/\n']],
  'invalid-schema-file-json.yaml': [['validate: { schema: schemas/not-json.json }', 'drop: [debug]']],
  'invalid-schema-file.yaml': [['validate: { schema: schemas/not-a-schema.json, on_invalid: drop }', 'drop: [debug]']],
  'invalid-step-two-kinds.yaml': [['\n        drop: [debug]', '']],
  'invalid-step-unknown-kind.yaml': [['uppercase: [status]', 'drop: [status]']],
  'invalid-template.yaml': [['{{record.region}}/"', '{{record.region}}{{/if}}/"']],
  'invalid-value-bucket-name.yaml': [['Acme_Archive', 'acme-archive']],
  'invalid-value-component-id.yaml': [['  Orders: {', '  orders: {'], ['[Orders]', '[orders]']],
  'invalid-value-enum.yaml': [['lastest', 'latest']],
  'invalid-value-format.yaml': [['parquet', 'jsonl']],
  'invalid-value-name.yaml': [['Orders_Archive', 'orders-archive']],
  'invalid-value-version-string.yaml': [['version: "1"', 'version: 1']],
  'invalid-value-version.yaml': [['version: 2', 'version: 1']],
  'keys-not-in-columns.yaml': [['keys: [order_id, id]', 'keys: [order_id]']],
  'missing-document-id.yaml': [['    action: delete\n', '    action: delete\n    id: "{{record.user_id}}"\n']],
  'missing-field-connection.yaml': [['connection: {}', `connection: { secret_arn: "${SECRET}" }`]],
  'missing-field-flow-mapping.yaml': [['{ type: kinesis }', '{ type: kinesis, stream: orders }']],
  'missing-field-top-level.yaml': [['name: demo\n', 'version: 1\nname: demo\n']],
  'missing-field.yaml': [['    bucket: acme-archive\n', '    bucket: acme-archive\n    key: orders/\n']],
  'missing-file-test-event.yaml': [['{ event: events/orders-kinesis.json }', '[{ order_id: o-1 }]']],
  'missing-file.yaml': [['validate: { schema: schemas/order.schema.json }', 'drop: [debug]']],
  'multiple-documents.yaml': [['---\nversion: 1\nname: other\n', '']],
  'name-too-long.yaml': [['archive_of_all_orders_ever', 'archive']],
  'not-a-mapping.yaml': { unrepairable: 'a list, not a spec' },
  'out-of-range-empty-sinks.yaml': [['sinks: {}', 'sinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: orders/ }']],
  'out-of-range-inexact-integer.yaml': [['9007199254740993', '10000']],
  'out-of-range-kinesis-batch.yaml': [['10001', '10000']],
  'out-of-range-memory.yaml': [['memory_mb: 64', 'memory_mb: 128']],
  'out-of-range-object-batch-records.yaml': [['1e308', '1000000']],
  'out-of-range-parallelization.yaml': [['parallelization: 11', 'parallelization: 10']],
  'out-of-range-record-bytes.yaml': [['0.5B', '1KiB']],
  'out-of-range-redshift-batch.yaml': [['max_seconds: 30', 'max_seconds: 60']],
  'out-of-range-size-rounds-to-zero.yaml': [['0.9B', '1KiB']],
  'out-of-range-size-too-large.yaml': [['99999999999999999999GiB', '1GiB']],
  'out-of-range-timeout.yaml': [['901', '900']],
  'overlapping-s3-sources.yaml': [['bucket: acme-raw, prefix: clicks/', 'bucket: acme-clicks, prefix: clicks/']],
  'reserved-field-name-template.yaml': [['record.__proto__.x', 'record.proto.x']],
  'reserved-field-name.yaml': [['role: __proto__', 'role: proto']],
  'self-trigger.yaml': [['bucket: loop-bucket\n    key', 'bucket: loop-bucket-out\n    key']],
  'transform-cycle.yaml': [['inputs: [orders, second]', 'inputs: [orders]']],
  'undeclared-parameter.yaml': [['${param.order_stream}', '${param.orders_stream}']],
  'unknown-field-top-level.yaml': [['descripton:', 'description:']],
  'unknown-field.yaml': [['    bucket_name: acme-raw\n', '']],
  'unknown-function.yaml': [['lowercase(record.name)', 'string(record.name)']],
  'unknown-helper.yaml': [['format record.ts', 'date record.ts']],
  'unknown-input-sink.yaml': [['inputs: [archive]', 'inputs: [orders]']],
  'unknown-input.yaml': [['[orders, order]', '[orders]']],
  'unknown-test-target-dead-letter.yaml': [['archiv }', 'archive }']],
  'unknown-test-target-expect.yaml': [['warehouse:', 'archive:']],
  'unknown-test-target-given.yaml': [['order: [', 'orders: [']],
  'unknown-type-sink.yaml': [['bigquery', 's3']],
  'unknown-type-source.yaml': [['kinesys', 'kinesis']],
  'unknown-variable-dead-letter-prefix.yaml': [['{{record.x}}/', '{{meta.source}}/']],
  'unknown-variable-template.yaml': [['recrod', 'record']],
  'unknown-variable.yaml': [['rec.status', 'record.status']],
  'unreachable-sink.yaml': [['    inputs: [right]\n    steps:\n      - drop: [debug]', '    inputs: [orders]\n    steps:\n      - drop: [debug]']],
  'unused-source.yaml': [],
  'upsert-keys-required.yaml': [['    mode: upsert\n', '    mode: upsert\n    keys: [order_id]\n']],
  'wrong-type-inputs.yaml': [['inputs: orders', 'inputs: [orders]']],
  'wrong-type-parallelization.yaml': [['parallelization: two', 'parallelization: 2']],
  'yaml-merge-key.yaml': [['max_records: 20000', 'max_records: 2000']],
  'yaml-syntax-indentation.yaml': [['\n   stream: orders', '\n    stream: orders']],
  'yaml-syntax-tab.yaml': [['\tinputs', '    inputs']],
  'yaml-syntax.yaml': [['stream: orders\nsinks', 'stream: orders }\nsinks']],
};

const corpusNames = readdirSync(CORPUS).filter((name) => name.endsWith('.yaml')).sort();

function repaired(name: string): Case | undefined {
  const repair = REPAIRS[name];
  if (repair === undefined || !Array.isArray(repair)) return undefined;
  const bytes = readFileSync(join(CORPUS, name));
  // The one file saved as Latin-1 is repaired by saving it as UTF-8.
  let text = bytes.toString(Buffer.from(bytes.toString('utf8')).equals(bytes) ? 'utf8' : 'latin1');
  for (const [wrong, right] of repair) {
    if (text.split(wrong).length !== 2) throw new Error(`${name}: the repair text ${JSON.stringify(wrong)} must occur exactly once`);
    text = text.replace(wrong, right);
  }
  return { name: `repaired ${name}`, text, folder: CORPUS };
}

// ---------------------------------------------------------------------------------------------
// Specs at the schema's boundaries.

type Node = { [keyword: string]: unknown };
const DEFINITIONS = schema.$defs as unknown as Record<string, Node>;
const SIZE_REF = '#/$defs/defs.size.size';

const BASE = {
  version: 1,
  name: 'bounds',
  sources: { orders: { type: 'kinesis', stream: 'orders' } } as Record<string, unknown>,
  sinks: { archive: { type: 's3', inputs: ['orders'], bucket: 'acme-archive', key: 'k/' } } as Record<string, unknown>,
};
const INPUTS = ['orders'];

/** Where each definition with numbers sits in a spec, and the smallest valid component around it. */
const CONTAINERS: { def: string; at: string[]; base: Record<string, unknown> }[] = [
  { def: 'runtime', at: ['runtime'], base: {} },
  { def: 'sources.kinesis', at: ['sources', 'orders'], base: { type: 'kinesis', stream: 'orders' } },
  { def: 'sources.dynamodb', at: ['sources', 'orders'], base: { type: 'dynamodb', stream_arn: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000' } },
  { def: 'sources.s3', at: ['sources', 'orders'], base: { type: 's3', bucket: 'acme-raw' } },
  { def: 'sinks.s3', at: ['sinks', 'archive'], base: { type: 's3', inputs: INPUTS, bucket: 'acme-archive', key: 'k/' } },
  { def: 'sinks.search', at: ['sinks', 'archive'], base: { type: 'opensearch', inputs: INPUTS, endpoint: 'https://search-acme.us-east-1.es.amazonaws.com', index: 'orders', id: '{{record.id}}' } },
  { def: 'sinks.redshift', at: ['sinks', 'archive'], base: { type: 'redshift', inputs: INPUTS, connection: { workgroup: 'analytics', database: 'dev' }, table: 'public.orders', columns: ['id'], staging: { bucket: 'acme-staging' } } },
  { def: 'sinks.postgres', at: ['sinks', 'archive'], base: { type: 'postgres', inputs: INPUTS, connection: { secret_arn: SECRET }, table: 'orders', columns: ['id'], staging: { bucket: 'acme-staging' } } },
  { def: 'test_case', at: ['tests', '0'], base: { name: 'a case', given: { orders: [{ id: 1 }] } } },
];

function resolveNode(node: Node): Node {
  let current = node;
  for (let depth = 0; typeof current.$ref === 'string' && current.$ref !== SIZE_REF && depth < 10; depth++) {
    current = { ...DEFINITIONS[current.$ref.slice('#/$defs/'.length)]!, ...current, $ref: DEFINITIONS[current.$ref.slice('#/$defs/'.length)]!.$ref };
  }
  return current;
}

/** Every integer or size field under a definition, with its path, least and greatest value. */
function numericFields(def: string): { path: string[]; min: number; max: number; size: boolean }[] {
  const found: { path: string[]; min: number; max: number; size: boolean }[] = [];
  const visit = (node: Node, path: string[], depth: number): void => {
    if (depth > 4) return;
    const properties = (resolveNode(node).properties ?? {}) as Record<string, Node>;
    for (const [name, property] of Object.entries(properties)) {
      const field = resolveNode(property);
      const types = (Array.isArray(field.type) ? field.type : [field.type]) as unknown[];
      const size = property.$ref === SIZE_REF;
      if ((size || types.includes('integer')) && field.enum === undefined && typeof field.minimum === 'number' && typeof field.maximum === 'number') {
        found.push({ path: [...path, name], min: field.minimum, max: field.maximum, size });
      } else if (field.properties) {
        visit(field, [...path, name], depth + 1);
      }
    }
  };
  visit(DEFINITIONS[def]!, [], 0);
  return found;
}

function withValue(base: Record<string, unknown>, at: string[], value: unknown): Record<string, unknown> {
  const spec = structuredClone(base);
  let current: Record<string, unknown> = spec;
  for (const [index, key] of at.slice(0, -1).entries()) {
    const next = at[index + 1]!;
    current[key] ??= /^\d+$/.test(next) ? [] : {};
    current = current[key] as Record<string, unknown>;
  }
  current[at.at(-1)!] = value;
  return spec;
}

function boundaryCases(): Case[] {
  const cases: Case[] = [];
  for (const container of CONTAINERS) {
    const base = withValue(BASE, container.at, container.base);
    for (const field of numericFields(container.def)) {
      const values: unknown[] = [field.min, field.max];
      if (field.size) values.push(formatSize(field.min), formatSize(field.max));
      for (const value of values) {
        const spec = withValue(base, [...container.at, ...field.path], value);
        cases.push({ name: `${container.def}.${field.path.join('.')} = ${String(value)}`, text: stringify(spec), folder: WORK });
      }
    }
  }
  return cases;
}

/** Each step that names fields, with names that are odd but legal in every position. */
function oddPathCases(): Case[] {
  const names = ['__proto', 'proto__', 'Constructor', 'prototypes', 'toString', 'hasOwnProperty', 'a b', 'ü.ñ', '0', '$ref'];
  return names.map((name) => {
    const nested = `${name}.inner`;
    const steps = [
      { rename: { [name]: `${name}_renamed`, other: { to: nested, overwrite: true } } },
      { set: { [name]: 'record.id' } },
      { template: { [nested]: '{{record.id}}' } },
      { default: { [name]: 1 } },
      { cast: { [name]: 'string' } },
      { hash: { fields: [name] } },
      { parse_json: nested },
      { flatten: { field: nested } },
      { explode: name },
      { keep: [name, nested] },
      { drop: [nested] },
    ];
    const spec = {
      ...BASE,
      transforms: { clean: { inputs: ['orders'], steps } },
      sinks: { archive: { type: 's3', inputs: ['clean'], bucket: 'acme-archive', key: 'k/', format: 'csv', csv: { columns: [name, nested] } } },
    };
    return { name: `field paths named ${JSON.stringify(name)}`, text: stringify(spec), folder: WORK };
  });
}

// ---------------------------------------------------------------------------------------------

const exampleCases: Case[] = readdirSync(EXAMPLES)
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => ({ name: `example ${name}`, text: readFileSync(join(EXAMPLES, name), 'utf8'), folder: EXAMPLES }));
const corpusCases = corpusNames.flatMap((name) => repaired(name) ?? []);
const cases: Case[] = [...exampleCases, ...corpusCases, ...boundaryCases(), ...oddPathCases()];

/** Values for every declared parameter, as a deployment would supply them. */
function parameterValues(value: Record<string, unknown>): Record<string, string> {
  const declared = (value.parameters ?? {}) as Record<string, { type?: string }>;
  return Object.fromEntries(Object.entries(declared).map(([name, declaration]) => [name, declaration.type === 'number' ? '1' : `value-of-${name.replaceAll('_', '-')}`]));
}

/** Every port a runtime may need (batching sinks need the ledger and their warehouse), in memory. */
const memoryPorts = () => ({ objects: new MemoryObjectStore(), ledger: new MemoryLedger(), warehouse: () => new MemoryWarehouse() });

/** Sinks with no runtime yet are replaced as `ingest test` replaces them; the others are built for real. */
const overrideUnrunnable = (_id: string, config: { type: string }) => (SINK_PLUGINS.has(config.type) ? undefined : new CaptureSink());

function unrunnableSinks(value: Record<string, unknown>): string[] {
  return Object.values((value.sinks ?? {}) as Record<string, { type: string }>).filter((sink) => !SINK_PLUGINS.has(sink.type)).map((sink) => sink.type);
}

describe('every spec that validates runs', () => {
  it('repairs every file of the invalid corpus, or says why it cannot', () => {
    expect(corpusNames.filter((name) => REPAIRS[name] === undefined)).toEqual([]);
    expect(Object.keys(REPAIRS).filter((name) => !corpusNames.includes(name))).toEqual([]);
  });

  it('covers a boundary of every numeric field of the components it builds', () => {
    const names = boundaryCases().map((testCase) => testCase.name);

    expect(names.length).toBeGreaterThan(60);
    expect(names).toEqual(expect.arrayContaining(['sinks.s3.batch.max_bytes = 1GiB', 'sources.kinesis.max_record_bytes = 1KiB', 'runtime.reserved_concurrency = 100000']));
  });

  it.each(cases)('$name', async ({ name, text, folder }) => {
    const path = join(folder === WORK ? WORK : folder, folder === WORK ? `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml` : `.validate-implies-runs-${process.pid}.yaml`);
    const loaded = loadSpec(path, Buffer.from(text));
    if (!loaded.ok) throw new Error(`${name} does not load: ${loaded.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`).join('; ')}`);
    const errors = validateLoadedSpec(loaded.spec, filesBeside(path)).filter((d) => d.severity === 'error');
    expect(errors.map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`), `${name} must validate`).toEqual([]);
    const parameters = parameterValues(loaded.spec.value);

    // What `ingest test` and `ingest run --local` build.
    expect(() =>
      createHandler(resolveSpec(loaded.spec.value, parameters), { ports: memoryPorts(), files: filesBeside(path), parameters, sinkOverride: overrideUnrunnable, deadLetterBucket: 'dead-letters', write: () => {} }),
    ).not.toThrow();

    // What `ingest package` writes, and what the Lambda builds from it.
    const out = mkdtempSync(join(WORK, 'package-'));
    writeFileSync(path, text);
    try {
      const unrunnable = unrunnableSinks(loaded.spec.value);
      if (unrunnable.length > 0) {
        const refusal = await packageFunction(path, out).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refusal, `${name}: packaging a spec with ${unrunnable.join(', ')} sinks must be refused`).toBeInstanceOf(InvalidSpecError);
        expect((refusal as InvalidSpecError).diagnostics.map((d) => d.code as string)).toEqual(unrunnable.map(() => 'sink-not-runnable'));
        return;
      }
      await packageFunction(path, out);
      const packaged = JSON.parse(await readFile(join(out, 'spec.json'), 'utf8')) as PackagedSpec;
      const validatorsFile = join(out, 'validators.mjs');
      const recordValidators = readdirSync(out).includes('validators.mjs')
        ? new Map(Object.entries(((await import(pathToFileURL(validatorsFile).href)) as { validators: Record<string, RecordValidator> }).validators))
        : undefined;
      expect(() =>
        createHandler(substituteParameters(packaged.spec as ResolvedSpec, parameters), {
          ports: memoryPorts(),
          files: { exists: () => false, read: () => undefined },
          parameters,
          deadLetterBucket: 'dead-letters',
          write: () => {},
          ...(recordValidators ? { recordValidators } : {}),
        }),
      ).not.toThrow();
    } finally {
      if (folder !== WORK) rmSync(path, { force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});
