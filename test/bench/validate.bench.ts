/**
 * Validation throughput: 500 generated specs validated in one process (schema + semantic checks),
 * after the first validation (first use of every module; the schema itself is compiled at build time, ADR 0048). The baseline is parsing the
 * same YAML with `yaml` alone, so the ratio is the cost of validation over bare parsing.
 */
import { parse } from 'yaml';
import { loadSpec } from '../../engine/spec/load.ts';
import { validateLoadedSpec } from '../../engine/spec/validate.ts';

const COUNT = 500;
const files = { exists: () => true, read: () => undefined };

function generatedSpec(index: number): string {
  const sources = [
    `  clicks:\n    type: s3\n    bucket: acme-raw-${index}\n    prefix: clicks/\n    suffix: .json.gz\n    format: jsonl`,
    `  orders:\n    type: kinesis\n    stream: orders-${index}\n    batch: { max_records: ${100 + index}, max_seconds: ${index % 300} }\n    parallelization: ${1 + (index % 10)}\n    retry: { max_attempts: 3, max_record_age_seconds: 3600, bisect_on_error: true }`,
    `  users:\n    type: dynamodb\n    table: users-${index}\n    stream_arn: "\${param.users_stream}"\n    events: [insert, modify, remove]`,
  ];
  return `version: 1
name: pipeline-${index}
description: generated spec ${index}
parameters:
  users_stream: { type: string, description: Stream ARN }
  salt: { type: string, secret: true }
dead_letter:
  bucket: acme-errors
  prefix: "p${index}/{{stage}}/{{date now 'yyyy/MM/dd'}}/"
sources:
${sources.join('\n')}
transforms:
  clean:
    inputs: [clicks, orders]
    steps:
      - filter: "record.event_type != 'heartbeat' && has(record.uid)"
      - rename: { uid: user_id }
      - drop: [debug, internal.trace]
      - set: { amount_cents: "int(record.amount * 100.0)", source: "meta.source" }
      - cast: { ts: timestamp }
      - hash: { fields: [email], salt: "\${param.salt}" }
  enrich:
    inputs: [clean]
    steps:
      - template: { label: "{{upper record.event_type}}-{{record.user_id}}" }
      - default: { country: unknown }
sinks:
  warehouse:
    type: redshift
    inputs: [enrich]
    where: "record.event_type == 'purchase'"
    connection: { workgroup: analytics, database: dev, secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:loader-AbCdEf" }
    table: public.purchases_${index}
    columns: [event_id, user_id, ts, amount_cents]
    mode: upsert
    keys: [event_id]
    iam_role: arn:aws:iam::123456789012:role/RedshiftCopy
    staging: { bucket: acme-staging, prefix: p${index}/ }
    batch: { max_records: 100000, max_bytes: 512MiB, max_files: 200, max_seconds: 300 }
  profiles:
    type: opensearch
    inputs: [users]
    endpoint: https://search-acme.us-east-1.es.amazonaws.com
    auth: { type: aws_iam }
    index: users
    id: "{{record.user_id}}"
  archive:
    type: s3
    inputs: [clicks]
    bucket: acme-archive
    key: "clicks/dt={{date record.ts 'yyyy-MM-dd'}}/"
`;
}

const specs = Array.from({ length: COUNT }, (_, index) => Buffer.from(generatedSpec(index)));

function validate(bytes: Buffer, index: number): number {
  const loaded = loadSpec(`spec-${index}.yaml`, bytes);
  if (!loaded.ok) throw new Error(`generated spec ${index} did not load: ${loaded.diagnostics[0]?.message}`);
  const errors = validateLoadedSpec(loaded.spec, files).filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`generated spec ${index} is invalid: ${errors[0]!.message}`);
  return errors.length;
}

const coldStart = performance.now();
validate(specs[0]!, 0);
const coldMs = performance.now() - coldStart;

const validateStart = performance.now();
specs.forEach(validate);
const validateMs = performance.now() - validateStart;

const parseStart = performance.now();
for (const bytes of specs) parse(bytes.toString('utf8'));
const parseMs = performance.now() - parseStart;

const perSecond = (ms: number) => Math.round((COUNT / ms) * 1000);
console.log(`first validation (cold): ${coldMs.toFixed(1)} ms`);
console.log(`validate: ${COUNT} specs in ${validateMs.toFixed(0)} ms = ${perSecond(validateMs)} specs/s`);
console.log(`baseline yaml.parse only: ${COUNT} specs in ${parseMs.toFixed(0)} ms = ${perSecond(parseMs)} specs/s`);
console.log(`ratio validate / parse: ${(validateMs / parseMs).toFixed(2)}x`);
