import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinesisEvent, s3ObjectCreatedEvent } from '../../engine/local/events.ts';
import { awsClientConfig, motoEndpoint } from '../support/env.ts';
import { runIngest } from '../support/ingest-binary.ts';
import type { IngestRun as Run } from '../support/ingest-binary.ts';
import { createBuckets, jsonLines, listKeys, readObject, recordsIn, uniqueName } from './support/s3-contents.ts';

// `ingest run` as a user runs it: a separate process, the spec and event as files, AWS reached
// through AWS_ENDPOINT_URL (moto) or not at all (--local).

/** Runs `ingest <args>` in `cwd` and resolves once it exits; never rejects for a non-zero exit. */
function ingest(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return runIngest(args, { cwd, env: { ...cleanEnvironment(), ...env } });
}

/**
 * The environment without AWS settings of the machine, since each run says where AWS is, and
 * without the SDK's warning about Node 20 on stderr, which is not the command's output.
 */
function cleanEnvironment(): Record<string, string> {
  const kept = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !entry[0].startsWith('AWS_'));
  return { ...Object.fromEntries(kept), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
}

const MOTO_ENV = () => ({
  AWS_ENDPOINT_URL: motoEndpoint(),
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
});

/** A spec whose only sink is Redshift; written into `directory`. */
async function redshiftSpec(directory: string): Promise<string> {
  const spec = join(directory, 'redshift.yaml');
  await writeFile(spec, [
    'version: 1',
    'name: orders-warehouse',
    'dead_letter: { bucket: local-errors }',
    'sources:',
    '  orders: { type: kinesis, stream: orders, format: json }',
    'sinks:',
    '  warehouse:',
    '    type: redshift',
    '    inputs: [orders]',
    '    connection: { workgroup: analytics, database: dev, secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:loader-AbCdEf" }',
    '    table: public.orders',
    '    columns: [order_id, amount]',
    '    staging: { bucket: local-staging }',
  ].join('\n'));
  return spec;
}

describe('ingest run --event against moto', () => {
  const s3 = new S3Client(awsClientConfig());
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'ingest-run-'));
  });

  afterAll(async () => {
    s3.destroy();
    await rm(directory, { recursive: true, force: true });
  });

  it('runs a Kinesis event, prints the outcome counts and leaves the objects in moto', async () => {
    const archive = uniqueName('run-archive');
    const errors = uniqueName('run-errors');
    await createBuckets(s3, archive, errors);
    const spec = join(directory, `${uniqueName('kinesis')}.yaml`);
    await writeFile(spec, [
      'version: 1',
      'name: clicks',
      `dead_letter: { bucket: ${errors} }`,
      'sources:',
      '  clicks: { type: kinesis, stream: clicks, format: json }',
      'sinks:',
      `  archive: { type: s3, inputs: [clicks], bucket: ${archive}, key: "clicks/" }`,
    ].join('\n'));
    const event = join(directory, 'kinesis-event.json');
    await writeFile(event, JSON.stringify(kinesisEvent('clicks', [Buffer.from('{"n":1}'), Buffer.from('{"n":'), Buffer.from('{"n":3}')])));

    const run = await ingest(['run', spec, '--event', event], directory, MOTO_ENV());

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('records: 3 in, 2 written, 0 filtered, 1 dead-lettered, 0 failed\n');
    expect(run.stdout).toMatch(/^archive +2 +2 +0 +0 +0$/m);
    expect(run.stdout).toContain('response: {"batchItemFailures":[]}');
    const [key] = await listKeys(s3, archive);
    expect(run.stdout).toContain(`  s3://${archive}/${key}\n`);
    expect(jsonLines((await readObject(s3, archive, key!)).text)).toEqual([{ n: 1 }, { n: 3 }]);
    expect((await recordsIn(s3, errors)).map((letter) => letter.code)).toEqual(['invalid-json']);
  }, 30_000);

  it('exits 1 and prints the response when an SQS message could not be read and must be retried', async () => {
    const raw = uniqueName('run-raw');
    const missing = uniqueName('never-created');
    const out = uniqueName('run-out');
    await createBuckets(s3, raw, out);
    await s3.send(new PutObjectCommand({ Bucket: raw, Key: 'in/a.jsonl', Body: '{"n":1}\n' }));
    const spec = join(directory, `${uniqueName('s3')}.yaml`);
    await writeFile(spec, [
      'version: 1',
      'name: objects',
      `dead_letter: { bucket: ${out} }`,
      'sources:',
      `  present: { type: s3, bucket: ${raw}, prefix: in/ }`,
      `  absent: { type: s3, bucket: ${missing} }`,
      'sinks:',
      `  copy: { type: s3, inputs: [present, absent], bucket: ${out}, key: "copy/", compression: none }`,
    ].join('\n'));
    const sqsEvent = s3ObjectCreatedEvent([{ bucket: raw, key: 'in/a.jsonl', size: 8 }, { bucket: missing, key: 'b.jsonl', size: 8 }]);
    const event = join(directory, 'sqs-event.json');
    await writeFile(event, JSON.stringify(sqsEvent));

    const run = await ingest(['run', spec, '--event', event], directory, MOTO_ENV());

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('records: 2 in, 1 written, 0 filtered, 0 dead-lettered, 1 failed\n');
    expect(run.stdout).toMatch(new RegExp(`^item failures:\n  ${sqsEvent.Records[1]!.messageId}: retried: NoSuchBucket \\(HTTP 404\\)`, 'm'));
    expect(run.stdout).toContain(`response: {"batchItemFailures":[{"itemIdentifier":"${sqsEvent.Records[1]!.messageId}"}]}`);
    expect(await recordsIn(s3, out, 'copy/')).toEqual([{ n: 1 }]);
  }, 30_000);

  it('prints the component table and the reason of each item, without --verbose, when every item fails', async () => {
    const missing = uniqueName('never-created');
    const out = uniqueName('run-out');
    await createBuckets(s3, out);
    const spec = join(directory, `${uniqueName('s3')}.yaml`);
    await writeFile(spec, [
      'version: 1',
      'name: objects',
      `dead_letter: { bucket: ${out} }`,
      'sources:',
      `  absent: { type: s3, bucket: ${missing} }`,
      'sinks:',
      `  copy: { type: s3, inputs: [absent], bucket: ${out}, key: "copy/" }`,
    ].join('\n'));
    const sqsEvent = s3ObjectCreatedEvent([{ bucket: missing, key: 'a.jsonl', size: 8 }, { bucket: missing, key: 'b.jsonl', size: 8 }]);
    const event = join(directory, 'all-failing-event.json');
    await writeFile(event, JSON.stringify(sqsEvent));

    const run = await ingest(['run', spec, '--event', event], directory, MOTO_ENV());

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('records: 2 in, 0 written, 0 filtered, 0 dead-lettered, 2 failed\n');
    expect(run.stdout).toMatch(/^component +in +out +filtered +dead-lettered +failed$/m);
    for (const record of sqsEvent.Records) expect(run.stdout).toContain(`  ${record.messageId}: retried: NoSuchBucket (HTTP 404)`);
    expect(run.stdout).toContain('invocation failed: 2 of 2 batch items failed (2 records); the invocation is retried as a whole\n');
  }, 30_000);

  it('exits 2 with one line, not a crash, when a redshift sink has no ledger because the run is not local', async () => {
    const event = join(directory, 'orders-event.json');
    await writeFile(event, JSON.stringify(kinesisEvent('orders', [Buffer.from('{"order_id":1}')])));

    const run = await ingest(['run', await redshiftSpec(directory), '--event', event], directory, MOTO_ENV());

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(/^ingest run: sink warehouse: the redshift sink needs the ledger of its staged files.*; run with --local to use local stand-ins\n$/);
  }, 30_000);
});

describe('ingest run --local', () => {
  let workdir: string;
  let inputs: string;

  beforeAll(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'ingest-local-'));
    inputs = await mkdtemp(join(tmpdir(), 'ingest-inputs-'));
  });

  afterAll(async () => {
    await rm(workdir, { recursive: true, force: true });
    await rm(inputs, { recursive: true, force: true });
  });

  /** Files under `root`, relative to it, sorted. */
  async function filesUnder(root: string): Promise<string[]> {
    if (!existsSync(root)) return [];
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).map((entry) => relative(root, join(entry.parentPath, entry.name))).sort();
  }

  it('stages an S3 input file and writes the sink objects under .ingest/s3/<bucket>/', async () => {
    const cwd = await mkdtemp(join(workdir, 's3-'));
    const spec = join(inputs, 'local-s3.yaml');
    await writeFile(spec, [
      'version: 1',
      'name: clicks',
      'dead_letter: { bucket: local-errors }',
      'sources:',
      '  clicks: { type: s3, bucket: local-raw, prefix: incoming/, format: jsonl }',
      'sinks:',
      '  archive: { type: s3, inputs: [clicks], bucket: local-archive, key: "clicks/" }',
    ].join('\n'));
    const input = join(inputs, 'clicks.jsonl');
    await writeFile(input, '{"n":1}\n{"n":2}\n');

    const run = await ingest(['run', spec, '--local', '--input', `clicks=${input}`], cwd);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('records: 2 in, 2 written, 0 filtered, 0 dead-lettered, 0 failed\n');
    const archived = await filesUnder(join(cwd, '.ingest', 's3', 'local-archive'));
    expect(archived).toEqual([expect.stringMatching(/^clicks\/clicks-local-raw_incoming_clicks_jsonl_[0-9a-z-]+_1-[0-9a-f]{16}-2\.jsonl\.gz$/)]);
    expect(run.stdout).toContain(`  .ingest/s3/local-archive/${archived[0]}\n`);
    const body = await readFile(join(cwd, '.ingest', 's3', 'local-archive', archived[0]!));
    expect(jsonLines(gunzipSync(body).toString())).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await filesUnder(join(cwd, '.ingest', 's3', 'local-raw'))).toEqual(['incoming/clicks.jsonl']);
  }, 30_000);

  // More: test/integration/run-local-warehouse.test.ts. The first start of the local database (PGlite's initdb) is slow.
  it('loads the Kinesis records of a redshift sink into the local database and prints them', async () => {
    const cwd = await mkdtemp(join(workdir, 'redshift-'));
    const spec = await redshiftSpec(inputs);
    const input = join(inputs, 'orders.jsonl');
    await writeFile(input, '{"order_id":1,"amount":2.5}\n{"order_id":2,"amount":4}\nnot json\n');

    const run = await ingest(['run', spec, '--local', '--input', `orders=${input}`], cwd);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('records: 3 in, 2 written, 0 filtered, 1 dead-lettered, 0 failed\n');
    expect(run.stdout).toContain('sink warehouse: loaded batch 1 (2 rows)\n');
    expect(run.stdout).toMatch(/public\.orders \(\.ingest\/pglite\/\): 2 rows\n {2}order_id +amount\n {2}1 +2\.5\n {2}2 +4\n/);
    const letters = await filesUnder(join(cwd, '.ingest', 's3', 'local-errors'));
    expect(letters).toHaveLength(1);
    expect(jsonLines(await readFile(join(cwd, '.ingest', 's3', 'local-errors', letters[0]!), 'utf8'))[0]).toMatchObject({ code: 'invalid-json', raw: 'not json' });
  }, 240_000);

  /** A spec with two DynamoDB sources; each record says which table and sequence number it came from. */
  async function twoTablesSpec(): Promise<string> {
    const spec = join(inputs, 'local-tables.yaml');
    await writeFile(spec, [
      'version: 1',
      'name: tables',
      'sources:',
      '  users: { type: dynamodb, stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-03-01T10:00:00.000" }',
      '  orders: { type: dynamodb, stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-03-01T10:00:00.000" }',
      'transforms:',
      '  traced: { inputs: [users, orders], steps: [{ set: { from_table: meta.table, from_sequence: meta.sequence } }] }',
      'sinks:',
      '  changes: { type: s3, inputs: [traced], bucket: local-out, key: "{{meta.source}}/", compression: none }',
    ].join('\n'));
    return spec;
  }

  it('turns each line of a DynamoDB input into its own insert, on the stream its source declares', async () => {
    const cwd = await mkdtemp(join(workdir, 'dynamodb-'));
    const input = join(inputs, 'orders.jsonl');
    await writeFile(input, '{"id":"o1","total":5}\n{"id":"o2","total":7}\n{"id":"o3","total":9}\n');

    const run = await ingest(['run', await twoTablesSpec(), '--local', '--input', `orders=${input}`], cwd);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const written = await filesUnder(join(cwd, '.ingest', 's3', 'local-out'));
    expect(written).toEqual([expect.stringMatching(/^orders\//)]);
    const records = jsonLines(await readFile(join(cwd, '.ingest', 's3', 'local-out', written[0]!), 'utf8'));
    expect(records.map((record) => [record.id, record.from_table])).toEqual([['o1', 'orders'], ['o2', 'orders'], ['o3', 'orders']]);
    expect(new Set(records.map((record) => record.from_sequence)).size).toBe(3);
  }, 30_000);

  it('exits 2 naming the file when a DynamoDB input holds an integer DynamoDB cannot take exactly', async () => {
    const cwd = await mkdtemp(join(workdir, 'dynamodb-big-'));
    const input = join(inputs, 'big.jsonl');
    await writeFile(input, '{"id":"o1","total":12345678901234567890}\n');

    const run = await ingest(['run', await twoTablesSpec(), '--local', '--input', `orders=${input}`], cwd);

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(new RegExp(`^ingest run: ${input}: an item cannot be written as DynamoDB attributes: .*MAX_SAFE_INTEGER.*\\n$`));
  }, 30_000);

  it('exits 2 with one line on stderr when --input names a source the spec does not declare', async () => {
    const cwd = await mkdtemp(join(workdir, 'unknown-'));
    const spec = join(inputs, 'local-unknown.yaml');
    await writeFile(spec, [
      'version: 1',
      'name: clicks',
      'sources:',
      '  clicks: { type: kinesis, stream: clicks }',
      'sinks:',
      '  archive: { type: s3, inputs: [clicks], bucket: local-archive, key: "clicks/" }',
    ].join('\n'));
    const input = join(inputs, 'unknown.jsonl');
    await writeFile(input, '{"n":1}\n');

    const run = await ingest(['run', spec, '--local', '--input', `orders=${input}`], cwd);

    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('ingest run: --input names source orders, which the spec does not declare (sources: clicks)\n');
    expect(await filesUnder(join(cwd, '.ingest'))).toEqual([]);
  }, 30_000);
});
