/**
 * Validation throughput (`npm run bench:validate`, and part of `npm run bench`): 500 distinct
 * generated specs of about 100 lines validated in one process (schema + semantic checks), after
 * the first validation (first use of every module; the schema itself is compiled at build time,
 * ADR 0048). The baseline is parsing the same YAML with `yaml` alone, so the ratio is the cost of
 * validation over bare parsing. Prints the first validation too.
 *
 * Options: `--rounds N` (passes over the 500 specs on each side, default 5).
 */
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { loadSpec } from '../../engine/spec/load.ts';
import { validateLoadedSpec } from '../../engine/spec/validate.ts';
import { median, pairedRatio, positiveInteger, spread, summaryRow } from './measure.ts';

const COUNT = 500;
const GOAL = 800;

const { values: options } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = positiveInteger('--rounds', options.rounds);
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
# Clicks and orders share one cleaning; users go straight to search.
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
  sessions:
    inputs: [orders]
    steps:
      # Orders without a session come from the API, not the site.
      - filter: "has(record.session_id)"
      - rename: { session_id: sid }
      - default: { channel: web, currency: EUR }
      - set: { total_cents: "int(math.round(record.total * 100.0))" }
      - flatten: { field: client, separator: _ }
      - drop: [client_agent, total]
      - hash: { fields: [client_ip], salt: "\${param.salt}" }
      - template: { doc_id: "{{record.event_id}}-{{record.sid}}" }
      - keep: [doc_id, sid, ts, channel, currency, total_cents, client_ip]

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
  sessions_archive:
    type: s3
    inputs: [sessions]
    bucket: acme-sessions-${index}
    # One folder per day and hour, as the analysts' crawler expects.
    key: "sessions/dt={{date record.ts 'yyyy-MM-dd'}}/hour={{date record.ts 'HH'}}/"
    format: jsonl
    compression: gzip
    batch: { max_records: 50000, max_bytes: 64MiB }

tests:
  - name: a session is kept with its cents
    given:
      orders:
        - { event_id: e-1, sid: s-1, session_id: s-1, ts: "2026-03-14T09:00:00Z", total: 1.5, client: { ip: 10.0.0.1, agent: Firefox } }
    expect:
      sessions_archive:
        - { doc_id: e-1-s-1, sid: s-1, ts: "2026-03-14T09:00:00Z", channel: web, currency: EUR, total_cents: 150, client_ip: x }
`;
}

const specs = Array.from({ length: COUNT }, (_, index) => Buffer.from(generatedSpec(index)));
const LINES = Math.round(specs.reduce((total, bytes) => total + bytes.toString('utf8').trimEnd().split('\n').length, 0) / COUNT);

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

// Passes alternate which side goes first, so neither always runs on the other's garbage.
const passes = { validate: [] as number[], parse: [] as number[] };
const timed = (pass: () => void) => {
  const started = performance.now();
  pass();
  return performance.now() - started;
};
for (let round = 0; round < ROUNDS; round++) {
  const sides = [() => passes.validate.push(timed(() => specs.forEach(validate))), () => passes.parse.push(timed(() => specs.forEach((bytes) => parse(bytes.toString('utf8')))))];
  for (const side of round % 2 === 0 ? sides : sides.reverse()) side();
}

const perSecond = (ms: number) => Math.round((COUNT / ms) * 1000);
const [validateMs, parseMs] = [median(passes.validate), median(passes.parse)];
const ratio = pairedRatio(passes.validate, passes.parse);
console.log(`validate: ${COUNT} distinct ${LINES}-line specs in one process, median (min–max) of ${ROUNDS} passes alternating with the baseline`);
console.log(`  first validation (cold): ${coldMs.toFixed(1)} ms`);
console.log(`  validate               ${spread(passes.validate, 0)} = ${perSecond(validateMs)} specs/s`);
console.log(`  baseline yaml.parse    ${spread(passes.parse, 0)} = ${perSecond(parseMs)} specs/s`);
console.log(`  ratio validate / parse ${ratio.toFixed(2)}x`);
summaryRow({
  case: `validate: ${COUNT} distinct ${LINES}-line specs in one process vs plain yaml.parse`,
  ingest: `${perSecond(validateMs)} specs/s`,
  baseline: `${perSecond(parseMs)} specs/s`,
  ratio,
  goal: `≥ ${GOAL} specs/s (not pursued past one YAML parser: ADR 0065)`,
  met: perSecond(validateMs) >= GOAL,
});
