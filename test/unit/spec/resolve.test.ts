import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../engine/spec/load.ts';
import { applyDefaults } from '../../../engine/spec/resolve.ts';
import { checkParameters, ParameterError, parameterReferences } from '../../../engine/spec/resolved-spec.ts';
import { SINK_TYPES, SOURCE_TYPES, STEP_KINDS } from '../../../engine/spec/spec-types.ts';
import { composeSchema, resolvedSchema } from '../../../scripts/compose-schema.ts';

// The engine reads specs through the generated `Resolved*` types, which promise every defaulted
// field and sizes as numbers. They are generated from `resolvedSchema`; this checks that what
// `applyDefaults` really produces matches that schema, for the examples and for a minimal spec of
// every source, step and sink type.

const examples = new URL('../../../examples/', import.meta.url);

function fromYaml(text: string): Record<string, unknown> {
  const loaded = loadSpec('spec.yaml', Buffer.from(text));
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return loaded.spec.value;
}

const MINIMAL_SOURCES: Record<(typeof SOURCE_TYPES)[number], object> = {
  s3: { type: 's3', bucket: 'raw', format: 'csv', csv: { header: false, columns: ['a'] } },
  kinesis: { type: 'kinesis', stream: 'orders', batch: {}, retry: {}, csv: { columns: ['a'] } },
  dynamodb: { type: 'dynamodb', stream_arn: 'arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/x', batch: {}, retry: {} },
};

const MINIMAL_STEPS: Record<(typeof STEP_KINDS)[number], unknown> = {
  filter: 'true',
  set: { a: '1' },
  template: { a: 'x' },
  rename: { a: 'b' },
  drop: ['a'],
  keep: ['a'],
  default: { a: 1 },
  cast: { a: 'int' },
  parse_json: 'a',
  flatten: {},
  explode: 'a',
  validate: { schema: 's.json' },
  dedupe: { key: 'record.a' },
  hash: { fields: ['a'] },
};

function minimalSink(type: (typeof SINK_TYPES)[number]): object {
  const common = { type, inputs: ['source'] };
  switch (type) {
    case 's3':
      return { ...common, bucket: 'out', key: 'x/', batch: {}, format: 'csv', csv: { columns: ['a'] } };
    case 'elasticsearch':
    case 'opensearch':
      return { ...common, endpoint: 'https://search.example.com', index: 'i', batch: {}, auth: {}, retry: {} };
    case 'redshift':
      return { ...common, connection: { workgroup: 'analytics', database: 'd' }, table: 's.t', columns: ['a'], staging: { bucket: 'stage' }, copy: {} };
    case 'postgres':
      return { ...common, connection: { secret_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x' }, table: 't', columns: ['a'], staging: { bucket: 'stage' } };
  }
}

function minimalSpecs(): [string, unknown][] {
  const specs: [string, unknown][] = [];
  for (const [type, source] of Object.entries(MINIMAL_SOURCES)) specs.push([`a ${type} source`, { version: 1, name: 'x', sources: { source }, sinks: { sink: minimalSink('s3') } }]);
  for (const type of SINK_TYPES) specs.push([`a ${type} sink`, { version: 1, name: 'x', sources: { source: MINIMAL_SOURCES.kinesis }, sinks: { sink: minimalSink(type) } }]);
  for (const [kind, config] of Object.entries(MINIMAL_STEPS)) {
    specs.push([`a ${kind} step`, { version: 1, name: 'x', sources: { source: MINIMAL_SOURCES.kinesis }, transforms: { t: { inputs: ['source'], steps: [{ [kind]: config }] } }, sinks: { sink: { ...minimalSink('s3'), inputs: ['t'] } } }]);
  }
  specs.push(['a spec with parameters, notifications and tests', { version: 1, name: 'x', parameters: { p: {} }, notifications: { create: true }, sources: { source: MINIMAL_SOURCES.kinesis }, sinks: { sink: minimalSink('s3') }, tests: [{ name: 't', given: { source: [{ a: 1 }] } }] }]);
  return specs;
}

const exampleSpecs = readdirSync(examples).filter((name) => name.endsWith('.yaml')).map((name): [string, unknown] => [name, fromYaml(readFileSync(new URL(name, examples), 'utf8'))]);

describe('applyDefaults', async () => {
  const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false, discriminator: true }).compile(resolvedSchema(await composeSchema()));

  it.each([...exampleSpecs, ...minimalSpecs()])('resolves %s to the shape of the generated ResolvedSpec', (_, value) => {
    const resolved = applyDefaults(value);

    expect(validate(resolved) ? [] : validate.errors!.map((error) => `${error.instancePath} ${error.message}`)).toEqual([]);
  });

  it('turns sizes into numbers of bytes', () => {
    const resolved = applyDefaults({ version: 1, name: 'x', sources: { s: { type: 's3', bucket: 'b', max_record_bytes: '1.5KiB' } }, sinks: { k: { type: 's3', inputs: ['s'], bucket: 'o', key: 'x/' } } });

    expect((resolved.sources.s as { max_record_bytes: number }).max_record_bytes).toBe(1536);
    expect((resolved.sinks.k as { batch: { max_bytes: number } }).batch.max_bytes).toBe(64 * 1024 * 1024);
  });

  it('leaves a field named like a size alone where the schema does not declare a size (a default literal, a test record)', () => {
    const resolved = applyDefaults(fromYaml(`
version: 1
name: x
sources: { s: { type: kinesis, stream: orders } }
transforms: { t: { inputs: [s], steps: [{ default: { max_bytes: 1KiB } }] } }
sinks: { k: { type: s3, inputs: [t], bucket: o, key: x/ } }
tests: [{ name: n, given: { s: [{ payload_bytes: 2KiB }] } }]
`));

    expect(resolved.transforms!.t!.steps[0]).toEqual({ default: { max_bytes: '1KiB' } });
    expect(resolved.tests![0]!.given.s).toEqual([{ payload_bytes: '2KiB' }]);
  });

  it('never changes the value it is given', () => {
    const value = fromYaml('version: 1\nname: x\nsources: { s: { type: s3, bucket: b } }\nsinks: { k: { type: s3, inputs: [s], bucket: o, key: x/ } }\n');
    const before = JSON.stringify(value);

    applyDefaults(value);

    expect(JSON.stringify(value)).toBe(before);
  });
});

describe('checkParameters', () => {
  const spec = { parameters: { salt: { type: 'string' as const, secret: true }, region: { type: 'string' as const, secret: false, default: 'eu-west-1' } } };
  const flag = (name: string) => `--param ${name}=<value>`;

  it('accepts values for every parameter without a default', () => {
    expect(() => checkParameters(spec, { salt: 's' }, flag)).not.toThrow();
  });

  it('refuses a parameter without a value or a default, naming it, how to give it and the declared parameters', () => {
    expect(() => checkParameters(spec, {}, flag)).toThrow('parameter salt has no value and no default; supply it with --param salt=<value> (declared parameters: salt (no default), region (default "eu-west-1"))');
  });

  it('refuses a value for a parameter the spec does not declare', () => {
    const attempt = () => checkParameters(spec, { salt: 's', slat: 'x' }, flag);

    expect(attempt).toThrow(ParameterError);
    expect(attempt).toThrow(/slat is not a declared parameter/);
  });

  it('asks only for the required parameters when told which', () => {
    expect(() => checkParameters(spec, {}, flag, { required: ['region'] })).not.toThrow();
  });

  it('finds the parameters that strings anywhere in a value refer to', () => {
    expect([...parameterReferences({ a: ['${param.x}/${param.y}'], b: { c: 'no ${param.' } })]).toEqual(['x', 'y']);
  });
});
