import { readFile } from 'node:fs/promises';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { AJV_OPTIONS, SCHEMA_FILE } from '../../../scripts/compose-schema.ts';
import type { Spec } from '../../../engine/spec/spec-types.ts';

let validate: ValidateFunction;

beforeAll(async () => {
  const schema = JSON.parse(await readFile(SCHEMA_FILE, 'utf8')) as object;
  const ajv = new Ajv2020(AJV_OPTIONS);
  ajvFormats.default(ajv);
  validate = ajv.compile(schema);
});

/** The smallest spec the schema accepts, typed with the generated `Spec` so types and schema are checked together. */
function minimalSpec(): Spec {
  return {
    version: 1,
    name: 'minimal',
    sources: { raw: { type: 's3', bucket: 'acme-raw' } },
    sinks: { archive: { type: 's3', inputs: ['raw'], bucket: 'acme-archive', key: 'raw/' } },
  };
}

/** A copy of the minimal spec with `change` applied; loosely typed so that tests can break it. */
function specWith(change: (spec: Record<string, any>) => void): unknown {
  const spec = structuredClone(minimalSpec()) as Record<string, any>;
  change(spec);
  return spec;
}

/** The errors as `keyword instancePath` lines, the shape diagnostics are built from. */
function errorsOf(spec: unknown): string[] {
  if (validate(spec)) return [];
  return (validate.errors ?? []).map((error: ErrorObject) => `${error.keyword} ${error.instancePath}`);
}

/** The errors without Ajv's `if` summaries, which always accompany the `then`/`else` error that says what is wrong. */
function errorsWithoutIf(spec: unknown): string[] {
  return errorsOf(spec).filter((line) => !line.startsWith('if '));
}

describe('valid specs', () => {
  it('accepts the minimal spec', () => {
    expect(errorsOf(minimalSpec())).toEqual([]);
  });

  it('accepts the sketch spec of DESIGN.md', async () => {
    const sketch = parse(await readFile(new URL('design-sketch.yaml', import.meta.url), 'utf8')) as unknown;

    expect(errorsOf(sketch)).toEqual([]);
  });

  it('accepts every source, step and sink kind together', () => {
    const spec: Spec = {
      version: 1,
      name: 'everything',
      parameters: {
        salt: { type: 'string', secret: true },
        pg_url: { secret: true },
        batch_size: { type: 'number', default: 500 },
      },
      runtime: { memory_mb: 2048, ephemeral_storage_mb: 10240, log_retention_days: 14, environment: { NODE_OPTIONS: '--enable-source-maps' } },
      dead_letter: { bucket: '${param.dead_letters}', create: false },
      notifications: { create: true, on: ['load_failed'] },
      state: { table: 'ingest-ledger' },
      sources: {
        files: { type: 's3', bucket: 'acme-raw', format: 'csv', csv: { header: false, columns: ['a', 'b'] } },
        stream: {
          type: 'kinesis',
          stream: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders',
          create: { on_demand: true },
          starting_position: 'at_timestamp',
          starting_timestamp: '2026-11-27T00:00:00Z',
          retry: { max_attempts: -1, max_record_age_seconds: -1 },
          filter: [{ data: { kind: ['order'] } }],
        },
        table: { type: 'dynamodb', stream_arn: '${param.users_stream}', events: ['remove'], image: 'both' },
      },
      transforms: {
        all: {
          inputs: ['files', 'stream', 'table'],
          steps: [
            { filter: 'has(record.a)' },
            { set: { 'totals.sum': 'record.a + record.b' } },
            { template: { label: '{{upper record.a}}' } },
            { rename: { a: 'alpha' } },
            { drop: ['b'] },
            { keep: ['alpha', 'totals', 'items', 'payload', 'id', 'email'] },
            { default: { country: 'unknown', tags: [] } },
            { cast: { alpha: 'int' } },
            { parse_json: 'payload' },
            { flatten: {} },
            { explode: 'items' },
            { validate: { schema: 'schemas/item.json', on_invalid: 'drop' } },
            { dedupe: { key: 'record.id' } },
            { hash: { fields: ['email'], salt: '${param.salt}' } },
          ],
        },
      },
      sinks: {
        objects: { type: 's3', inputs: ['all'], bucket: 'acme-out', key: 'x/', format: 'csv', csv: { columns: ['alpha'] } },
        es: {
          type: 'elasticsearch',
          inputs: ['all'],
          endpoint: 'https://es.example.com:9243',
          auth: { type: 'api_key', secret_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:es-key-AbCdEf' },
          index: 'items',
          action: 'index',
          batch: { max_records: 500, max_bytes: '10MB' },
        },
        dwh: {
          type: 'redshift',
          inputs: ['all'],
          connection: { cluster: 'analytics', db_user: 'loader', database: 'dev' },
          table: 'public.items',
          columns: ['alpha', 'id'],
          staging: { bucket: 'acme-staging', format: 'csv' },
          copy: { accept_inv_chars: '_', max_error: 10 },
          post_sql: ['ANALYZE {{table}}'],
          on_error: 'dead_letter',
        },
        pg: {
          type: 'postgres',
          inputs: ['all'],
          connection: { url: '${param.pg_url}' },
          table: 'items',
          columns: ['id'],
          mode: 'upsert',
          keys: ['id'],
          staging: { bucket: 'acme-staging' },
          batch: { max_seconds: 60, max_files: 10 },
        },
      },
      tests: [
        {
          name: 'raw event',
          given: { stream: { event: 'fixtures/kinesis.json' } },
          expect: { pg: [] },
          expect_dead_letter: [{ stage: 'decode', code: 'invalid-json' }],
          expect_filtered: 0,
        },
      ],
    };

    expect(errorsOf(spec)).toEqual([]);
  });
});

describe('discriminated sources and sinks', () => {
  it('reports an error in an s3 sink only against s3 sink fields', () => {
    const spec = specWith((s) => {
      s.sinks.archive.compression = 'brotli';
      s.sinks.archive.index = 'not-an-s3-field';
    });

    validate(spec);
    const errors = validate.errors ?? [];

    expect(errors.map((error) => `${error.keyword} ${error.instancePath}`).sort()).toEqual([
      'additionalProperties /sinks/archive',
      'enum /sinks/archive/compression',
    ]);
    // Only the s3 branch was tried: its own compression values, no complaint from other sink kinds.
    expect(errors.find((error) => error.keyword === 'enum')?.params).toEqual({ allowedValues: ['gzip', 'none'] });
    expect(errors.find((error) => error.keyword === 'additionalProperties')?.params).toEqual({
      additionalProperty: 'index',
    });
  });

  it('reports an unknown sink type as one discriminator error', () => {
    const spec = specWith((s) => {
      s.sinks.archive = { type: 'kafka', inputs: ['raw'], topic: 'clicks' };
    });

    validate(spec);

    expect(validate.errors).toHaveLength(1);
    expect(validate.errors?.[0]).toMatchObject({
      keyword: 'discriminator',
      instancePath: '/sinks/archive',
      params: { error: 'mapping', tag: 'type', tagValue: 'kafka' },
    });
  });

  it('reports an unknown source type as one discriminator error', () => {
    const spec = specWith((s) => {
      s.sources.raw = { type: 'sqs', queue: 'q' };
    });

    expect(errorsOf(spec)).toEqual(['discriminator /sources/raw']);
  });

  it('reports a missing type as a missing field', () => {
    const spec = specWith((s) => {
      delete s.sinks.archive.type;
    });

    expect(errorsOf(spec)).toContain('required /sinks/archive');
  });

  it('routes elasticsearch and opensearch to the one search sink schema', () => {
    const spec = specWith((s) => {
      s.sinks.archive = { type: 'opensearch', inputs: ['raw'], endpoint: 'https://x.example.com', index: 'i', bucket: 'b' };
    });

    validate(spec);

    expect(validate.errors).toHaveLength(1);
    expect(validate.errors?.[0]).toMatchObject({
      keyword: 'additionalProperties',
      instancePath: '/sinks/archive',
      params: { additionalProperty: 'bucket' },
    });
  });
});

describe('transform steps', () => {
  it('reports an unknown step kind as the unknown key', () => {
    const spec = specWith((s) => {
      s.transforms = { clean: { inputs: ['raw'], steps: [{ uppercase: ['name'] }] } };
    });

    validate(spec);

    expect(validate.errors).toHaveLength(1);
    expect(validate.errors?.[0]).toMatchObject({
      keyword: 'additionalProperties',
      instancePath: '/transforms/clean/steps/0',
      params: { additionalProperty: 'uppercase' },
    });
  });

  it('rejects a step with two kinds', () => {
    const spec = specWith((s) => {
      s.transforms = { clean: { inputs: ['raw'], steps: [{ drop: ['a'], keep: ['b'] }] } };
    });

    expect(errorsOf(spec)).toEqual(['maxProperties /transforms/clean/steps/0']);
  });

  it('rejects an empty step', () => {
    const spec = specWith((s) => {
      s.transforms = { clean: { inputs: ['raw'], steps: [{}] } };
    });

    expect(errorsOf(spec)).toEqual(['minProperties /transforms/clean/steps/0']);
  });

  it('rejects a cast to an unknown type', () => {
    const spec = specWith((s) => {
      s.transforms = { clean: { inputs: ['raw'], steps: [{ cast: { ts: 'date' } }] } };
    });

    expect(errorsOf(spec)).toEqual(['enum /transforms/clean/steps/0/cast/ts']);
  });

  it('rejects a hash salt that is not a parameter reference', () => {
    const spec = specWith((s) => {
      s.transforms = { clean: { inputs: ['raw'], steps: [{ hash: { fields: ['email'], salt: 'pepper' } }] } };
    });

    expect(errorsOf(spec)).toEqual(['pattern /transforms/clean/steps/0/hash/salt']);
  });

  it('rejects a field path with an empty segment', () => {
    const spec = specWith((s) => {
      s.transforms = { clean: { inputs: ['raw'], steps: [{ drop: ['user..id'] }] } };
    });

    expect(errorsOf(spec)).toEqual(['pattern /transforms/clean/steps/0/drop/0']);
  });
});

describe('ranges taken from AWS limits', () => {
  const kinesis = (change: (source: Record<string, any>) => void): unknown =>
    specWith((s) => {
      s.sources.raw = { type: 'kinesis', stream: 'orders' };
      change(s.sources.raw);
    });

  it('rejects a kinesis batch.max_records of 10001 with maximum', () => {
    expect(errorsOf(kinesis((source) => (source.batch = { max_records: 10001 })))).toEqual([
      'maximum /sources/raw/batch/max_records',
    ]);
  });

  it('accepts a kinesis batch.max_records of 10000', () => {
    expect(errorsOf(kinesis((source) => (source.batch = { max_records: 10000 })))).toEqual([]);
  });

  it('rejects a batching window over 300 seconds', () => {
    expect(errorsOf(kinesis((source) => (source.batch = { max_seconds: 301 })))).toEqual([
      'maximum /sources/raw/batch/max_seconds',
    ]);
  });

  it('rejects parallelization 11', () => {
    expect(errorsOf(kinesis((source) => (source.parallelization = 11)))).toEqual(['maximum /sources/raw/parallelization']);
  });

  it('rejects a record age beyond 7 days and below -1', () => {
    expect(errorsOf(kinesis((source) => (source.retry = { max_record_age_seconds: 604801 })))).toEqual([
      'maximum /sources/raw/retry/max_record_age_seconds',
    ]);
    expect(errorsOf(kinesis((source) => (source.retry = { max_record_age_seconds: -2 })))).toEqual([
      'minimum /sources/raw/retry/max_record_age_seconds',
    ]);
  });

  it('rejects more than 5 event filter patterns', () => {
    expect(errorsOf(kinesis((source) => (source.filter = Array.from({ length: 6 }, () => ({ data: { a: [1] } })))))).toEqual([
      'maxItems /sources/raw/filter',
    ]);
  });

  it('rejects memory over 10240 MB and a log retention CloudWatch does not offer', () => {
    const spec = specWith((s) => {
      s.runtime = { memory_mb: 10241, log_retention_days: 31 };
    });

    expect(errorsOf(spec)).toEqual(['maximum /runtime/memory_mb', 'enum /runtime/log_retention_days']);
  });

  it("rejects /tmp sizes outside Lambda's range, 512 to 10240 MB", () => {
    const size = (ephemeral_storage_mb: number) => specWith((s) => (s.runtime = { ephemeral_storage_mb }));

    expect(errorsOf(size(511))).toEqual(['minimum /runtime/ephemeral_storage_mb']);
    expect(errorsOf(size(10241))).toEqual(['maximum /runtime/ephemeral_storage_mb']);
    expect(errorsOf(size(512))).toEqual([]);
  });

  it('rejects a warehouse load window under 60 seconds', () => {
    const spec = specWith((s) => {
      s.sinks.archive = {
        type: 'postgres',
        inputs: ['raw'],
        connection: { secret_arn: '${param.pg}' },
        table: 't',
        columns: ['a'],
        staging: { bucket: 'acme-staging' },
        batch: { max_seconds: 30 },
      };
    });

    expect(errorsOf(spec)).toEqual(['minimum /sinks/archive/batch/max_seconds']);
  });
});

describe('names, sizes and parameter references', () => {
  it('rejects a component id with capitals via propertyNames', () => {
    const spec = specWith((s) => {
      s.sources.Raw = s.sources.raw;
    });

    expect(errorsOf(spec)).toContain('pattern /sources');
    expect(errorsOf(spec)).toContain('propertyNames /sources');
  });

  it('rejects a pipeline name longer than 40 characters', () => {
    const spec = specWith((s) => {
      s.name = `a${'b'.repeat(40)}`;
    });

    expect(errorsOf(spec)).toEqual(['pattern /name']);
  });

  it.each(['64MiB', '1.5GB', '512B', 1024])('accepts the size %s', (size) => {
    const spec = specWith((s) => {
      s.sinks.archive.batch = { max_bytes: size };
    });

    expect(errorsOf(spec)).toEqual([]);
  });

  it.each(['64 MiB', '64mb', '1TB', 'MiB', 0])('rejects the size %s', (size) => {
    const spec = specWith((s) => {
      s.sinks.archive.batch = { max_bytes: size };
    });

    expect(errorsOf(spec)).toHaveLength(1);
  });

  it('accepts a parameter reference as a bucket and rejects a malformed one', () => {
    const withReference = specWith((s) => {
      s.sources.raw.bucket = '${param.raw_bucket}';
    });
    const withTypo = specWith((s) => {
      s.sources.raw.bucket = '${params.raw_bucket}';
    });

    expect(errorsOf(withReference)).toEqual([]);
    expect(errorsOf(withTypo)).toEqual(['pattern /sources/raw/bucket']);
  });

  it('rejects a parameter whose default does not match its type', () => {
    const spec = specWith((s) => {
      s.parameters = { size: { type: 'number', default: '10' }, label: { default: 10 } };
    });

    expect(errorsWithoutIf(spec)).toEqual(['type /parameters/size/default', 'type /parameters/label/default']);
  });
});

describe('conditional requirements', () => {
  it('requires starting_timestamp when starting_position is at_timestamp', () => {
    const spec = specWith((s) => {
      s.sources.raw = { type: 'kinesis', stream: 'orders', starting_position: 'at_timestamp' };
    });

    expect(errorsWithoutIf(spec)).toEqual(['required /sources/raw']);
    expect(validate.errors?.[0]?.params).toEqual({ missingProperty: 'starting_timestamp' });
  });

  it('requires csv columns when the input has no header', () => {
    const spec = specWith((s) => {
      s.sources.raw.format = 'csv';
      s.sources.raw.csv = { header: false };
    });

    expect(errorsWithoutIf(spec)).toEqual(['required /sources/raw/csv']);
  });

  it('requires csv options for an s3 sink writing csv', () => {
    const spec = specWith((s) => {
      s.sinks.archive.format = 'csv';
    });

    expect(errorsWithoutIf(spec)).toEqual(['required /sinks/archive']);
  });

  it('requires a secret for basic auth to a search sink', () => {
    const spec = specWith((s) => {
      s.sinks.archive = { type: 'elasticsearch', inputs: ['raw'], endpoint: 'https://x.example.com', index: 'i', auth: { type: 'basic' } };
    });

    expect(errorsWithoutIf(spec)).toEqual(['required /sinks/archive/auth']);
  });

  describe('redshift connection', () => {
    const redshift = (connection: Record<string, string>): unknown =>
      specWith((s) => {
        s.sinks.archive = {
          type: 'redshift',
          inputs: ['raw'],
          connection,
          table: 'public.t',
          columns: ['a'],
          staging: { bucket: 'acme-staging' },
        };
      });

    it('accepts a workgroup, or a cluster with db_user or secret_arn', () => {
      expect(errorsOf(redshift({ workgroup: 'analytics', database: 'dev' }))).toEqual([]);
      expect(errorsOf(redshift({ cluster: 'analytics', db_user: 'loader', database: 'dev' }))).toEqual([]);
      expect(errorsOf(redshift({ cluster: 'analytics', secret_arn: '${param.secret}', database: 'dev' }))).toEqual([]);
    });

    it('rejects both a workgroup and a cluster at the workgroup key', () => {
      expect(errorsWithoutIf(redshift({ workgroup: 'w-1', cluster: 'c', db_user: 'u', database: 'dev' }))).toEqual([
        'false schema /sinks/archive/connection/workgroup',
      ]);
    });

    it('requires a workgroup when there is no cluster', () => {
      expect(errorsWithoutIf(redshift({ database: 'dev' }))).toEqual(['required /sinks/archive/connection']);
      expect(validate.errors?.find((error) => error.keyword === 'required')?.params).toEqual({
        missingProperty: 'workgroup',
      });
    });

    it('requires db_user for a cluster without a secret', () => {
      expect(errorsWithoutIf(redshift({ cluster: 'c', database: 'dev' }))).toEqual(['required /sinks/archive/connection']);
      expect(validate.errors?.find((error) => error.keyword === 'required')?.params).toEqual({ missingProperty: 'db_user' });
    });

    it('rejects db_user with a workgroup', () => {
      expect(errorsWithoutIf(redshift({ workgroup: 'w-1', db_user: 'u', database: 'dev' }))).toEqual([
        'dependentRequired /sinks/archive/connection',
      ]);
    });
  });

  it('rejects a postgres connection with both secret_arn and url', () => {
    const spec = specWith((s) => {
      s.sinks.archive = {
        type: 'postgres',
        inputs: ['raw'],
        connection: { secret_arn: '${param.a}', url: '${param.b}' },
        table: 't',
        columns: ['a'],
        staging: { bucket: 'acme-staging' },
      };
    });

    expect(errorsOf(spec)).toEqual(['maxProperties /sinks/archive/connection']);
  });

  it('rejects a literal postgres url, so that passwords stay out of specs', () => {
    const spec = specWith((s) => {
      s.sinks.archive = {
        type: 'postgres',
        inputs: ['raw'],
        connection: { url: 'postgres://u:p@db/x' },
        table: 't',
        columns: ['a'],
        staging: { bucket: 'acme-staging' },
      };
    });

    expect(errorsOf(spec)).toEqual(['pattern /sinks/archive/connection/url']);
  });

  it('rejects a notification topic next to create: true, and requires one without it', () => {
    const both = specWith((s) => {
      s.notifications = { create: true, topic: 'arn:aws:sns:us-east-1:123456789012:alerts' };
    });
    const neither = specWith((s) => {
      s.notifications = { on: ['dead_letter'] };
    });

    expect(errorsWithoutIf(both)).toEqual(['false schema /notifications/topic']);
    expect(errorsWithoutIf(neither)).toEqual(['required /notifications']);
  });
});

describe('top level and tests', () => {
  it('requires version, name, sources and sinks', () => {
    expect(errorsOf({})).toEqual(['required ', 'required ', 'required ', 'required ']);
  });

  it('rejects version 2', () => {
    const spec = specWith((s) => {
      s.version = 2;
    });

    expect(errorsOf(spec)).toEqual(['const /version']);
  });

  it('rejects an unknown top-level field', () => {
    const spec = specWith((s) => {
      s.pipeline = {};
    });

    expect(errorsOf(spec)).toEqual(['additionalProperties ']);
  });

  it('rejects test input that is neither a list of records nor an event file', () => {
    const spec = specWith((s) => {
      s.tests = [{ name: 't', given: { raw: { event: 'e.json', records: [] } } }];
    });

    expect(errorsOf(spec)).toEqual(['additionalProperties /tests/0/given/raw']);
  });

  it('rejects an expected dead letter at an unknown stage', () => {
    const spec = specWith((s) => {
      s.tests = [{ name: 't', given: { raw: [{}] }, expect_dead_letter: [{ stage: 'load' }] }];
    });

    expect(errorsOf(spec)).toEqual(['enum /tests/0/expect_dead_letter/0/stage']);
  });
});
