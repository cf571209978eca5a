import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LEFT_OUT_PACKAGES } from '../../generator/function-bundle.ts';
import { packageFunction } from '../../generator/package-function.ts';
import type { PackagedFunction } from '../../generator/package-function.ts';
import { motoEndpoint } from '../support/env.ts';

// `ingest package` bundles the runtime for the spec (docs/decisions/0049-per-spec-bundles.md):
// what a spec does not use stays out of index.mjs, what it uses is in, and every package starts.

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'ingest-function-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

/** The npm packages whose code is in the package's index.mjs, from esbuild's metafile. */
function packagesIn(packaged: PackagedFunction): Set<string> {
  const inputs = Object.values(packaged.bundle.metafile.outputs).flatMap((output) => Object.keys(output.inputs));
  return new Set(inputs.map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]).filter((name) => name !== undefined));
}

async function packaged(name: string, text: string, files: Record<string, string> = {}): Promise<PackagedFunction> {
  const folder = mkdtempSync(join(work, `${name}-`));
  writeFileSync(join(folder, 'spec.yaml'), text);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(folder, file), content);
  return packageFunction(join(folder, 'spec.yaml'), join(folder, 'package'));
}

const packagedExample = (name: string) => packageFunction(join(EXAMPLES, name), join(work, `example-${basename(name, '.yaml')}`));

/** Packages that only some specs need; each assertion below names those a spec must have, the rest must be absent. */
const OPTIONAL_PACKAGES = [
  'ajv',
  'pbf',
  'handlebars',
  '@marcbachmann/cel-js',
  'csv-parse',
  'stream-json',
  '@aws-sdk/util-dynamodb',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-redshift-data',
  '@aws-sdk/client-secrets-manager',
  '@aws-sdk/client-sns',
  'pg',
];

function expectOnly(packaged: PackagedFunction, wanted: readonly string[]): void {
  const present = packagesIn(packaged);
  expect(present.has('@aws-sdk/client-s3')).toBe(true);
  expect(OPTIONAL_PACKAGES.filter((name) => present.has(name)).sort()).toEqual([...wanted].sort());
  expect(LEFT_OUT_PACKAGES.flatMap((left) => left.packages).filter((name) => present.has(name))).toEqual([]);
}

const KINESIS_TO_S3 = (options: { source?: string; steps?: string; key?: string; extra?: string }) => `version: 1
name: bundled
dead_letter: { bucket: errors }
${options.extra ?? ''}
sources:
  events: { type: kinesis, stream: events${options.source ?? ''} }
transforms:
  shaped:
    inputs: [events]
    steps:
${options.steps ?? '      - rename: { a: b }'}
sinks:
  out: { type: s3, inputs: [shaped], bucket: out, key: "${options.key ?? 'events/'}" }
`;

describe('the bundle of a spec', () => {
  it('of kinesis-archive holds CEL and KPL de-aggregation (on by default), and no Handlebars, ajv, CSV, DynamoDB, warehouse or SNS code', async () => {
    expectOnly(await packagedExample('kinesis-archive.yaml'), ['@marcbachmann/cel-js', 'pbf']);
  });

  it('without expressions, KPL aggregation or templates of other forms holds none of their packages', async () => {
    const bundle = await packaged('plain', KINESIS_TO_S3({ source: ', deaggregate: false', key: "events/{{date record.ts 'yyyy/MM/dd'}}/" }));

    expectOnly(bundle, []);
  });

  it('holds the CSV reader for csv kinesis records', async () => {
    expectOnly(await packaged('csv', KINESIS_TO_S3({ source: ', deaggregate: false, format: csv' })), ['csv-parse']);
  });

  it('holds Handlebars for a template of a form that has no plan', async () => {
    const bundle = await packaged('each', KINESIS_TO_S3({ source: ', deaggregate: false', steps: '      - template: { list: "{{#each record.items}}{{this}},{{/each}}" }' }));

    expectOnly(bundle, ['handlebars']);
  });

  it('holds Handlebars for a template that names a parameter, which is compiled with its value in it', async () => {
    const bundle = await packaged('parameter', KINESIS_TO_S3({ source: ', deaggregate: false', key: '${param.prefix}/', extra: 'parameters:\n  prefix: { type: string, default: events }' }));

    expectOnly(bundle, ['handlebars']);
  });

  it('holds the SNS client for notifications, and CEL for a sink condition alone', async () => {
    const bundle = await packaged('notified', KINESIS_TO_S3({ source: ', deaggregate: false', extra: 'notifications: { topic: "arn:aws:sns:us-east-1:123456789012:t", on: [dead_letter] }' }).replace('key: "events/" }', 'key: "events/", where: "record.a > 1" }'));

    expectOnly(bundle, ['@aws-sdk/client-sns', '@marcbachmann/cel-js']);
  });

  it('of s3-csv-validated reads objects and loads postgres, has no expressions, and compiles no JSON Schema: its validators are in validators.mjs', async () => {
    const bundle = await packagedExample('s3-csv-validated.yaml');

    expectOnly(bundle, ['csv-parse', 'stream-json', '@aws-sdk/client-dynamodb', '@aws-sdk/client-redshift-data', '@aws-sdk/client-secrets-manager', 'pg']);
    expect(bundle.files.map((file) => file.name)).toContain('validators.mjs');
  });

  it('of dynamodb-to-opensearch decodes DynamoDB images', async () => {
    expect(packagesIn(await packagedExample('dynamodb-to-opensearch.yaml')).has('@aws-sdk/util-dynamodb')).toBe(true);
  });

  it('is the same bytes for the same spec', async () => {
    const text = KINESIS_TO_S3({ source: ', deaggregate: false' });
    const [first, second] = [await packaged('same-a', text), await packaged('same-b', text)];

    expect(first.bundle.metafile.outputs).toEqual(second.bundle.metafile.outputs);
    expect(first.files).toEqual(second.files);
  });
});

/** Values for the parameters of the examples that have no default. */
const PARAMETERS: Record<string, string> = {
  INGEST_PARAM_PII_SALT: 'salt',
  INGEST_PARAM_SEARCH_SECRET: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:search',
  INGEST_PARAM_USERS_STREAM: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000',
  INGEST_PARAM_DATABASE_URL: 'postgresql://loader:secret@localhost:5432/shipments',
  INGEST_PARAM_REDSHIFT_SECRET: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:redshift',
  INGEST_PARAM_COPY_ROLE: 'arn:aws:iam::123456789012:role/copy',
};

/**
 * Starts the package in a fresh process, as Lambda does (every step, expression, template and
 * sink is compiled then), and invokes it with a scheduled event, which every spec answers.
 */
async function startAndAnswer(directory: string): Promise<string> {
  const probe = `const { handler } = await import(${JSON.stringify(join(directory, 'index.mjs'))});
const response = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, { awsRequestId: 'r1', getRemainingTimeInMillis: () => 60000 });
process.stdout.write('ANSWERED ' + JSON.stringify(response ?? null));`;
  const { stdout } = await run(process.execPath, ['--no-warnings', '--input-type=module', '-e', probe], {
    env: {
      PATH: process.env.PATH,
      AWS_ENDPOINT_URL: motoEndpoint(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      INGEST_DEAD_LETTER_BUCKET: 'errors',
      INGEST_LEDGER_TABLE: 'ledger',
      INGEST_NOTIFICATION_TOPIC: 'arn:aws:sns:us-east-1:123456789012:notifications',
      ...PARAMETERS,
    },
  });
  return stdout.slice(stdout.indexOf('ANSWERED '));
}

describe('every example, packaged for itself', () => {
  const examples = readdirSync(EXAMPLES).filter((name) => name.endsWith('.yaml'));

  it.each(examples)('%s starts and answers an event', async (name) => {
    const bundle = await packagedExample(name);

    expect(await startAndAnswer(bundle.directory)).toMatch(/^ANSWERED /);
  }, 60_000);
});

describe('a spec that uses every step kind and sink type', () => {
  const SPEC = `version: 1
name: everything
parameters:
  database_url: { type: string, secret: true }
dead_letter: { bucket: errors }
notifications: { topic: "arn:aws:sns:us-east-1:123456789012:t", on: [dead_letter, load_failed] }
sources:
  stream: { type: kinesis, stream: events, format: csv, csv: { columns: [id, body] } }
  table: { type: dynamodb, stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-01-01T00:00:00.000" }
  objects: { type: s3, bucket: raw, format: jsonl }
transforms:
  all:
    inputs: [stream, table, objects]
    steps:
      - filter: "has(record.id)"
      - set: { seen: "true" }
      - template: { label: "{{#each record.tags}}{{this}},{{/each}}" }
      - rename: { body: payload }
      - drop: [unused]
      - keep: [id, payload, seen, label, items, nested, when, secret]
      - default: { items: [] }
      - cast: { when: timestamp }
      - parse_json: payload
      - flatten: { field: nested }
      - explode: items
      - validate: { schema: record.schema.json }
      - dedupe: { key: "record.id" }
      - hash: { fields: [secret], algorithm: sha256 }
sinks:
  archive: { type: s3, inputs: [all], bucket: out, key: "all/" }
  elastic: { type: elasticsearch, inputs: [all], endpoint: "https://search.example.com", index: records, id: "{{record.id}}" }
  open: { type: opensearch, inputs: [all], endpoint: "https://search.example.com", index: records, id: "{{record.id}}" }
  red: { type: redshift, inputs: [all], connection: { workgroup: analytics, database: dev }, table: public.records, columns: [id], staging: { bucket: staging } }
  pg: { type: postgres, inputs: [all], connection: { url: "\${param.database_url}" }, table: records, columns: [id], staging: { bucket: staging } }
`;

  it('packages with every optional package, and starts', async () => {
    const bundle = await packaged('everything', SPEC, { 'record.schema.json': JSON.stringify({ type: 'object' }) });

    expectOnly(bundle, OPTIONAL_PACKAGES.filter((name) => name !== 'ajv'));
    expect(bundle.bundle.leftOut).toEqual(['engine/transforms/validate/record-schema.ts']);
    expect(await startAndAnswer(bundle.directory)).toMatch(/^ANSWERED /);
  }, 60_000);
});
