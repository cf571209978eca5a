/**
 * Specs for the generator's tests: every example, and a table that covers each source and sink
 * type and each runtime feature in its forms (literal names, ARNs, parameter references, `create`).
 * Every spec here passes `ingest validate` (the loader checks), so the tests hold the promise
 * that a spec validate accepts generates a template that lints and is least-privilege.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadSpec } from '../../engine/spec/load.ts';
import { readSpec } from '../../engine/spec/read-spec.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import { filesBeside, validateLoadedSpec } from '../../engine/spec/validate.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

export interface NamedSpec {
  name: string;
  spec: ResolvedSpec;
}

/** Every spec in examples/, resolved; throws when one does not validate. */
export function exampleSpecs(): NamedSpec[] {
  return readdirSync(EXAMPLES)
    .filter((file) => /\.ya?ml$/.test(file))
    .sort()
    .map((file) => {
      const read = readSpec(`${EXAMPLES}${file}`, `examples/${file}`);
      if (!read.ok) throw new Error(`examples/${file} does not validate: ${read.errors.map((d) => d.message).join('; ')}`);
      return { name: `examples/${file}`, spec: applyDefaults(read.spec.value) };
    });
}

/** A spec from its value, checked as `ingest validate` checks a file; throws with the diagnostics when it is invalid. */
export function validSpec(name: string, value: Record<string, unknown>): NamedSpec {
  const loaded = loadSpec(`${name}.yaml`, Buffer.from(stringify({ version: 1, ...value })));
  if (!loaded.ok) throw new Error(`${name}: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  const errors = validateLoadedSpec(loaded.spec, filesBeside(`${EXAMPLES}x.yaml`)).filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`${name} does not validate: ${errors.map((d) => `${d.instancePath} ${d.code}: ${d.message}`).join('; ')}`);
  return { name, spec: applyDefaults(loaded.spec.value) };
}

const archive = (bucket = 'acme-archive') => ({ type: 's3', inputs: ['in'], bucket, key: 'out/{{date meta.arrival_time "yyyy-MM-dd"}}/' });
const kinesis = (stream: string, extra: Record<string, unknown> = {}) => ({ in: { type: 'kinesis', stream, format: 'json', ...extra } });
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:loader-AbCdEf';
const warehouseBatch = { max_files: 10, max_seconds: 90 };

/** One spec per form of each source, sink and runtime feature. */
export function featureSpecs(): NamedSpec[] {
  return [
    validSpec('kinesis-by-name', { name: 'kin-name', sources: kinesis('orders'), sinks: { out: archive() } }),
    validSpec('kinesis-by-arn-every-option', {
      name: 'kin-arn',
      sources: kinesis('arn:aws:kinesis:eu-west-1:123456789012:stream/orders', {
        starting_position: 'at_timestamp',
        starting_timestamp: '2026-01-01T00:00:00Z',
        batch: { max_records: 1000, max_seconds: 20 },
        parallelization: 3,
        retry: { max_attempts: 4, max_record_age_seconds: 3600, bisect_on_error: true },
        filter: [{ data: { kind: ['order'] } }],
      }),
      sinks: { out: archive() },
    }),
    validSpec('kinesis-created-provisioned', { name: 'kin-shards', sources: kinesis('orders', { create: { shards: 2 } }), sinks: { out: archive() } }),
    validSpec('kinesis-created-on-demand', { name: 'kin-ondemand', sources: kinesis('orders', { create: { on_demand: true } }), sinks: { out: archive() } }),
    validSpec('kinesis-from-parameter', {
      name: 'kin-param',
      parameters: { stream: { type: 'string', description: 'Stream name' } },
      sources: kinesis('${param.stream}'),
      sinks: { out: archive() },
    }),
    validSpec('dynamodb-stream', {
      name: 'ddb',
      parameters: { users_stream: { type: 'string' } },
      sources: { in: { type: 'dynamodb', table: 'users', stream_arn: '${param.users_stream}', starting_position: 'trim_horizon', batch: { max_records: 100, max_seconds: 5 }, retry: { max_attempts: 2, bisect_on_error: true } } },
      sinks: { out: archive() },
    }),
    validSpec('dynamodb-literal-stream', {
      name: 'ddb-literal',
      sources: { in: { type: 'dynamodb', table: 'users', stream_arn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/users/stream/2026-01-01T00:00:00.000' } },
      sinks: { out: archive() },
    }),
    validSpec('s3-existing-bucket', {
      name: 's3-existing',
      sources: { in: { type: 's3', bucket: 'acme-raw', prefix: 'clicks/', suffix: '.json.gz', format: 'jsonl' } },
      sinks: { out: archive() },
    }),
    validSpec('s3-created-bucket-whole', { name: 's3-created', sources: { in: { type: 's3', bucket: 'acme-raw-created', create: true, format: 'text' } }, sinks: { out: archive() } }),
    validSpec('s3-bucket-from-parameter', {
      name: 's3-param',
      parameters: { raw_bucket: { type: 'string' } },
      sources: { in: { type: 's3', bucket: '${param.raw_bucket}', prefix: 'in/', format: 'csv' } },
      sinks: { out: archive('${param.raw_bucket}') },
    }),
    validSpec('s3-sink-created-no-literal-prefix', {
      name: 's3-sink',
      sources: kinesis('orders'),
      sinks: { out: { type: 's3', inputs: ['in'], bucket: 'acme-out', create: true, key: '{{record.kind}}/', format: 'csv', csv: { columns: ['a'] }, compression: 'none' } },
    }),
    validSpec('search-sinks', {
      name: 'search',
      parameters: { search_secret: { type: 'string' } },
      sources: kinesis('orders'),
      sinks: {
        domain: { type: 'opensearch', inputs: ['in'], endpoint: 'https://search-acme-users-4kd7qzx2m5rjw8c3tbn6yhpfaa.eu-west-1.es.amazonaws.com', auth: { type: 'aws_iam', service: 'es' }, index: 'users', id: '{{record.id}}' },
        collection: { type: 'opensearch', inputs: ['in'], endpoint: 'https://abc123def456.eu-west-1.aoss.amazonaws.com', auth: { type: 'aws_iam', service: 'aoss' }, index: 'users', id: '{{record.id}}' },
        elastic: { type: 'elasticsearch', inputs: ['in'], endpoint: 'https://logs.example.com', auth: { type: 'api_key', secret_arn: '${param.search_secret}' }, index: 'logs', id: '{{record.id}}' },
      },
    }),
    validSpec('redshift-workgroup', {
      name: 'rs-workgroup',
      sources: kinesis('orders'),
      sinks: {
        warehouse: {
          type: 'redshift', inputs: ['in'], connection: { workgroup: 'analytics', database: 'dev', secret_arn: SECRET_ARN }, table: 'public.orders', columns: ['id'],
          staging: { bucket: 'acme-staging' }, batch: warehouseBatch,
        },
      },
    }),
    validSpec('redshift-cluster-existing-ledger', {
      name: 'rs-cluster',
      state: { table: 'ingest-ledger' },
      sources: kinesis('orders'),
      sinks: {
        warehouse: {
          type: 'redshift', inputs: ['in'], connection: { cluster: 'analytics-prod', database: 'analytics', db_user: 'loader' }, table: 'sales.orders', columns: ['id', 'amount'],
          mode: 'upsert', keys: ['id'], iam_role: 'arn:aws:iam::123456789012:role/Copy', staging: { bucket: 'acme-staging', prefix: 'orders/' }, batch: { max_seconds: 600 },
        },
      },
    }),
    validSpec('postgres-ledger-from-parameter', {
      name: 'pg',
      parameters: { database_url: { type: 'string', secret: true }, ledger: { type: 'string', description: 'Ledger table name or ARN' } },
      state: { table: '${param.ledger}' },
      sources: kinesis('orders'),
      sinks: {
        by_url: { type: 'postgres', inputs: ['in'], connection: { url: '${param.database_url}' }, table: 'orders', columns: ['id'], staging: { bucket: 'acme-staging' }, batch: { max_seconds: 60 } },
        by_secret: { type: 'postgres', inputs: ['in'], connection: { secret_arn: SECRET_ARN }, table: 'public.orders', columns: ['id'], staging: { bucket: 'acme-staging' } },
      },
    }),
    validSpec('ledger-by-arn', {
      name: 'ledger-arn',
      state: { table: 'arn:aws:dynamodb:eu-west-1:123456789012:table/ingest-ledger' },
      sources: kinesis('orders'),
      sinks: { db: { type: 'postgres', inputs: ['in'], connection: { secret_arn: SECRET_ARN }, table: 'orders', columns: ['id'], staging: { bucket: 'acme-staging' } } },
    }),
    validSpec('no-dead-letter-bucket', { name: 'dl-none', dead_letter: { prefix: 'x/{{stage}}/' }, sources: kinesis('orders'), sinks: { out: archive() } }),
    validSpec('dead-letter-bucket-created', { name: 'dl-created', dead_letter: { bucket: 'acme-dl', create: true }, sources: kinesis('orders'), sinks: { out: archive() } }),
    validSpec('dead-letter-bucket-from-parameter', {
      name: 'dl-param',
      parameters: { dl_bucket: { type: 'string', default: 'acme-dl' } },
      dead_letter: { bucket: '${param.dl_bucket}', prefix: 'dl/*/{{stage}}/' },
      sources: kinesis('orders'),
      sinks: { out: archive() },
    }),
    validSpec('notifications-created', { name: 'notify-created', notifications: { create: true }, sources: kinesis('orders'), sinks: { out: archive() } }),
    validSpec('notifications-to-topic', {
      name: 'notify-topic',
      parameters: { topic: { type: 'string' } },
      notifications: { topic: '${param.topic}', on: ['dead_letter'] },
      sources: kinesis('orders'),
      sinks: { out: archive() },
    }),
    // Enough sinks that the role's statements outgrow one inline policy (10,240 characters).
    validSpec('many-sinks', {
      name: 'many',
      sources: kinesis('orders'),
      sinks: Object.fromEntries(Array.from({ length: 60 }, (_, index) => [`out_${index}`, archive(`acme-archive-${index}`)])),
    }),
    validSpec('runtime-options', {
      name: 'runtime',
      parameters: { level: { type: 'number', default: 3 }, token: { type: 'string', secret: true } },
      runtime: { memory_mb: 256, ephemeral_storage_mb: 4096, timeout_seconds: 30, architecture: 'x86_64', reserved_concurrency: 2, log_retention_days: 7, environment: { MODE: 'strict', LEVEL: 'n${param.level}', LITERAL: 'a ${AWS::Region} b' } },
      sources: kinesis('orders'),
      sinks: { out: archive() },
    }),
  ];
}
