import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { unzipSync } from 'fflate';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinesisEvent } from '../../engine/local/events.ts';
import { packageCommand } from '../../cli/commands/package.ts';
import { publishFunction } from '../../generator/deploy/publish.ts';
import { InvalidSpecError, packageFunction, zipPackage } from '../../generator/package-function.ts';
import { awsClientConfig, motoEndpoint } from '../support/env.ts';

const run = promisify(execFile);
const suffix = randomUUID().slice(0, 8);
const buckets = { out: `pkg-out-${suffix}`, errors: `pkg-errors-${suffix}` };
const work = mkdtempSync(join(tmpdir(), 'ingest-package-'));
const s3 = new S3Client(awsClientConfig());

const SPEC = `version: 1
name: packaged
dead_letter: { bucket: ${buckets.errors} }
sources:
  orders: { type: kinesis, stream: orders }
transforms:
  checked:
    inputs: [orders]
    steps:
      - validate: { schema: order.schema.json }
sinks:
  out: { type: s3, inputs: [checked], bucket: ${buckets.out}, key: "orders/", compression: none }
`;

const SCHEMA = { type: 'object', required: ['id', 'amount'], properties: { id: { type: 'string' }, amount: { type: 'number', minimum: 0 } } };

/** Starts a fresh node process on the package, as Lambda would, and invokes the handler once. */
async function invokePackage(directory: string, eventFile: string, environment: Record<string, string> = {}) {
  const probe = `const { handler } = await import(${JSON.stringify(join(directory, 'index.mjs'))});
const event = JSON.parse((await import('node:fs')).readFileSync(${JSON.stringify(eventFile)}, 'utf8'));
process.stdout.write('RESPONSE ' + JSON.stringify(await handler(event, { awsRequestId: 'r1' })));`;
  const { stdout } = await run(process.execPath, ['--no-warnings', '--input-type=module', '-e', probe], {
    env: { ...withoutIngestVariables(process.env), AWS_ENDPOINT_URL: motoEndpoint(), AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ...environment },
  });
  return JSON.parse(stdout.slice(stdout.indexOf('RESPONSE ') + 9)) as unknown;
}

/** The environment without the variables that complete a packaged spec, so each test sets its own. */
function withoutIngestVariables(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(environment).filter(([name]) => !name.startsWith('INGEST_PARAM_') && name !== 'INGEST_DEAD_LETTER_BUCKET'));
}

/** What a cold start of the package prints to stderr when it fails, or `undefined` when it starts. */
async function coldStartFailure(directory: string, eventFile: string, environment: Record<string, string> = {}): Promise<string | undefined> {
  try {
    await invokePackage(directory, eventFile, environment);
    return undefined;
  } catch (error) {
    return (error as { stderr: string }).stderr;
  }
}

async function linesIn(bucket: string): Promise<Record<string, unknown>[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  const lines: Record<string, unknown>[] = [];
  for (const { Key } of listed.Contents ?? []) {
    const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body!.transformToByteArray());
    const text = (body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body).toString('utf8');
    lines.push(...text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>));
  }
  return lines;
}

beforeAll(async () => {
  writeFileSync(join(work, 'spec.yaml'), SPEC);
  writeFileSync(join(work, 'order.schema.json'), JSON.stringify(SCHEMA));
  for (const bucket of Object.values(buckets)) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packageFunction', () => {
  it('ships the schema of a validate step as compiled code, not as a schema to compile', async () => {
    const packaged = await packageFunction(join(work, 'spec.yaml'), join(work, 'package'));

    expect(packaged.files.map((file) => file.name)).toEqual(['index.mjs', 'spec.json', 'validators.mjs']);
    const shipped = JSON.parse(readFileSync(join(work, 'package', 'spec.json'), 'utf8')) as { spec: { sinks: { out: { on_error: string } } } };
    expect(Object.keys(shipped)).toEqual(['spec', 'templates']);
    expect(shipped.spec.sinks.out.on_error).toBe('retry');
  });

  it('runs in a fresh process: valid records reach the sink, invalid ones the dead letters', async () => {
    const directory = join(work, 'package');
    await packageFunction(join(work, 'spec.yaml'), directory);
    const eventFile = join(work, 'event.json');
    const payloads = [{ id: 'a', amount: 3 }, { id: 'b', amount: -1 }, { id: 'c', amount: 9.5 }].map((value) => Buffer.from(JSON.stringify(value)));
    writeFileSync(eventFile, JSON.stringify(kinesisEvent('orders', payloads)));

    const response = await invokePackage(directory, eventFile);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await linesIn(buckets.out)).toEqual([{ id: 'a', amount: 3 }, { id: 'c', amount: 9.5 }]);
    expect(await linesIn(buckets.errors)).toEqual([expect.objectContaining({ stage: 'transform', code: 'invalid-record', record: { id: 'b', amount: -1 } })]);
  });

  it('takes its credentials from the variables the Lambda runtime sets, and without them fails its records naming them', async () => {
    const directory = join(work, 'package');
    await packageFunction(join(work, 'spec.yaml'), directory);
    const eventFile = join(work, 'event-without-credentials.json');
    writeFileSync(eventFile, JSON.stringify(kinesisEvent('orders', [Buffer.from(JSON.stringify({ id: 'z', amount: 1 }))])));

    const failure = await invokePackage(directory, eventFile, { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }).then(
      () => undefined,
      (error: { stdout: string; stderr: string }) => error,
    );

    expect(failure?.stderr).toContain('InvocationFailedError');
    expect(failure?.stdout).toContain('a Lambda function takes its AWS credentials from the environment variables the Lambda runtime sets (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)');
  });

  it('refuses a spec with errors, with its diagnostics', async () => {
    writeFileSync(join(work, 'broken.yaml'), SPEC.replace('type: kinesis', 'type: kinesiss'));

    const attempt = packageFunction(join(work, 'broken.yaml'), join(work, 'broken-package'));

    await expect(attempt).rejects.toBeInstanceOf(InvalidSpecError);
    await expect(attempt).rejects.toMatchObject({ diagnostics: [expect.objectContaining({ code: 'unknown-type' })] });
  });

  it('packages a spec with a redshift sink, which has a runtime', async () => {
    writeFileSync(join(work, 'redshift.yaml'), SPEC.replace(/sinks:\n.*\n/, 'sinks:\n  warehouse: { type: redshift, inputs: [checked], connection: { workgroup: analytics, database: dev }, table: public.orders, columns: [id], staging: { bucket: stage } }\n'));

    await packageFunction(join(work, 'redshift.yaml'), join(work, 'redshift-package'));

    expect(readdirSync(join(work, 'redshift-package'))).toContain('spec.json');
  });
});

describe('the packaged function at cold start', () => {
  const eventFile = join(work, 'one-order.json');
  const parameterSpec = `version: 1
name: parameterised
parameters:
  out_bucket: { type: string }
  prefix: { type: string, default: "orders" }
dead_letter: { bucket: ${buckets.errors} }
sources:
  orders: { type: kinesis, stream: orders }
sinks:
  out: { type: s3, inputs: [orders], bucket: "\${param.out_bucket}", key: "\${param.prefix}/", compression: none }
`;

  beforeAll(() => {
    writeFileSync(eventFile, JSON.stringify(kinesisEvent('orders', [Buffer.from('{"id":"p1"}'), Buffer.from('not json')])));
  });

  it('refuses to start when a parameter without a default has no INGEST_PARAM_ variable, naming both', async () => {
    writeFileSync(join(work, 'parameterised.yaml'), parameterSpec);
    await packageFunction(join(work, 'parameterised.yaml'), join(work, 'parameterised'));

    const failure = await coldStartFailure(join(work, 'parameterised'), eventFile);

    expect(failure).toContain('ingest: the function cannot start: parameter out_bucket has no value and no default; supply it with the environment variable INGEST_PARAM_OUT_BUCKET');
  });

  it('writes where INGEST_PARAM_ variables say once they are set, defaults filling the rest', async () => {
    const bucket = `pkg-param-${suffix}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    writeFileSync(join(work, 'parameterised.yaml'), parameterSpec);
    await packageFunction(join(work, 'parameterised.yaml'), join(work, 'parameterised'));

    await invokePackage(join(work, 'parameterised'), eventFile, { INGEST_PARAM_OUT_BUCKET: bucket });

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect((listed.Contents ?? []).map(({ Key }) => Key)).toEqual([expect.stringMatching(/^orders\//)]);
    expect(await linesIn(bucket)).toEqual([{ id: 'p1' }]);
  });

  it('refuses to start without a dead-letter bucket in the spec or in INGEST_DEAD_LETTER_BUCKET', async () => {
    writeFileSync(join(work, 'no-dead-letter.yaml'), SPEC.replace(/dead_letter: .*\n/, ''));
    await packageFunction(join(work, 'no-dead-letter.yaml'), join(work, 'no-dead-letter'));

    const failure = await coldStartFailure(join(work, 'no-dead-letter'), eventFile);

    expect(failure).toContain('ingest: the function cannot start: the spec names no dead_letter bucket and the environment variable INGEST_DEAD_LETTER_BUCKET');
  });

  it('writes dead letters to the bucket INGEST_DEAD_LETTER_BUCKET names when the spec names none', async () => {
    const generated = `pkg-generated-errors-${suffix}`;
    await s3.send(new CreateBucketCommand({ Bucket: generated }));
    writeFileSync(join(work, 'no-dead-letter.yaml'), SPEC.replace(/dead_letter: .*\n/, ''));
    await packageFunction(join(work, 'no-dead-letter.yaml'), join(work, 'no-dead-letter'));

    const response = await invokePackage(join(work, 'no-dead-letter'), eventFile, { INGEST_DEAD_LETTER_BUCKET: generated });

    expect(response).toEqual({ batchItemFailures: [] });
    expect((await linesIn(generated)).map(({ stage, code }) => `${String(stage)} ${String(code)}`).sort()).toEqual(['decode invalid-json', 'transform invalid-record']);
  });
});

describe('package --zip and --bucket', () => {
  it('zips the same spec, packaged twice into different folders, to the same bytes under the same name', async () => {
    const first = await zipPackage(await packageFunction(join(work, 'spec.yaml'), join(work, 'zip-a')));
    const second = await zipPackage(await packageFunction(join(work, 'spec.yaml'), join(work, 'nested', 'zip-b')));

    expect(second.name).toBe(first.name);
    expect(first.name).toMatch(/^[0-9a-f]{64}\.zip$/);
    expect(readFileSync(second.path).equals(readFileSync(first.path))).toBe(true);
  });

  it('zips a package that runs once unzipped, as Lambda unzips it', async () => {
    const zip = await zipPackage(await packageFunction(join(work, 'spec.yaml'), join(work, 'zip-run')));
    const unzipped = join(work, 'unzipped');
    mkdirSync(unzipped, { recursive: true });
    for (const [name, bytes] of Object.entries(unzipSync(readFileSync(zip.path)))) writeFileSync(join(unzipped, name), bytes);
    const eventFile = join(work, 'zip-event.json');
    writeFileSync(eventFile, JSON.stringify(kinesisEvent('orders', [Buffer.from(JSON.stringify({ id: 'z', amount: -5 }))])));

    const response = await invokePackage(unzipped, eventFile);

    expect(readdirSync(unzipped).sort()).toEqual(['index.mjs', 'spec.json', 'validators.mjs']);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await linesIn(buckets.errors)).toContainEqual(expect.objectContaining({ code: 'invalid-record', record: { id: 'z', amount: -5 } }));
  });

  it('prints each file, the bundle and the zip with their sizes', async () => {
    const lines: string[] = [];

    const code = await packageCommand([join(work, 'spec.yaml')], { outDir: join(work, 'zip-printed'), zip: true }, (line) => lines.push(line));

    expect(code).toBe(0);
    expect(lines.slice(1).map((line) => line.trim().split(/\s+/)[0])).toEqual(['index.mjs', 'spec.json', 'validators.mjs', 'bundle', 'zip']);
    const sizes = lines.slice(1).map((line) => Number(/([\d.]+) KiB/.exec(line)![1]));
    expect(sizes[3]).toBeCloseTo(sizes[0]! + sizes[1]! + sizes[2]!, 0);
    expect(sizes[4]).toBeLessThan(sizes[3]!);
    expect(lines.at(-1)).toMatch(/ [0-9a-f]{64}\.zip$/);
  });

  it('uploads the zip under the prefix once, and writes beside it the template that points at it', async () => {
    const bucket = `pkg-code-${suffix}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const first = await publishFunction(join(work, 'spec.yaml'), join(work, 'published'), 'spec.yaml', { s3, bucket, prefix: 'functions/orders/' });
    const second = await publishFunction(join(work, 'spec.yaml'), join(work, 'published-again'), 'spec.yaml', { s3, bucket, prefix: 'functions/orders' });

    expect(first.code).toEqual({ bucket, key: `functions/orders/${first.zip.name}`, uploaded: true });
    expect(second.code).toEqual({ ...first.code, uploaded: false });
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: first.code.key }));
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(readFileSync(first.zip.path))).toBe(true);
    expect(readdirSync(join(work, 'published'))).toEqual(expect.arrayContaining([first.zip.name, 'template.yaml']));
    const template = parse(readFileSync(first.templatePath, 'utf8')) as { Resources: Record<string, { Type: string; Properties: { Code?: unknown } }>; Parameters?: Record<string, unknown> };
    const functions = Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::Function');
    expect(functions.map((resource) => resource.Properties.Code)).toEqual([{ S3Bucket: bucket, S3Key: first.code.key }]);
    expect(Object.keys(template.Parameters ?? {})).not.toContain('CodeBucket');
  });

  it('uploads again when the object under the zip name is not the zip it names', async () => {
    const bucket = `pkg-code-tampered-${suffix}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const first = await publishFunction(join(work, 'spec.yaml'), join(work, 'tampered'), 'spec.yaml', { s3, bucket });
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: first.code.key, Body: 'not a zip' }));

    const again = await publishFunction(join(work, 'spec.yaml'), join(work, 'tampered'), 'spec.yaml', { s3, bucket });

    expect(again.code).toEqual({ bucket, key: first.zip.name, uploaded: true });
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: first.code.key }))).ContentLength).toBe(first.zip.bytes);
  });

  it('uploads nothing for a spec with errors, and prints its diagnostics', async () => {
    const bucket = `pkg-code-refused-${suffix}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    writeFileSync(join(work, 'broken-upload.yaml'), SPEC.replace('type: kinesis', 'type: kinesiss'));
    const lines: string[] = [];

    const code = await packageCommand([join(work, 'broken-upload.yaml')], { outDir: join(work, 'refused'), zip: false, bucket, endpoint: motoEndpoint() }, (line) => lines.push(line));

    expect(code).toBe(1);
    expect(lines.join('\n')).toContain('error unknown-type');
    expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount ?? 0).toBe(0);
  });
});
