import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../engine/spec/load.ts';
import { applyDefaults } from '../../../engine/spec/resolve.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';
import { runSpecTests } from '../../../engine/testing/run-spec-tests.ts';

const noFiles = { exists: () => false, read: () => undefined };

/** Runs the tests of `yaml` as if it were the spec file `specPath` (event and object files are read beside it). */
async function run(yaml: string, specPath = '/nowhere/spec.yaml') {
  const loaded = loadSpec('spec.yaml', Buffer.from(yaml));
  if (!loaded.ok) throw new Error(loaded.diagnostics[0]!.message);
  return runSpecTests(loaded.spec, applyDefaults(loaded.spec.value), noFiles, specPath);
}

/** A folder holding `files` (name → content) and the captured events of test/fixtures/events under `events/`; returns the spec path in it. */
function specFolder(files: Record<string, string> = {}): string {
  const folder = mkdtempSync(join(tmpdir(), 'ingest-spec-test-'));
  mkdirSync(join(folder, 'events'));
  mkdirSync(join(folder, 'data'));
  for (const name of ['kinesis-json.json', 'dynamodb-insert-modify-remove.json', 'sqs-s3.json']) {
    copyFileSync(new URL(`../../fixtures/events/${name}`, import.meta.url), join(folder, 'events', name));
  }
  for (const [name, content] of Object.entries(files)) writeFileSync(join(folder, name), content);
  return join(folder, 'spec.yaml');
}

const PIPELINE = `version: 1
name: orders
dead_letter: { bucket: errors }
sources:
  orders: { type: kinesis, stream: orders }
transforms:
  clean:
    inputs: [orders]
    steps:
      - filter: "record.status != 'test'"
      - rename: { uid: user_id }
      - cast: { amount: double }
sinks:
  archive: { type: s3, inputs: [clean], bucket: archive, key: "orders/" }
  big: { type: redshift, inputs: [clean], where: "record.amount > 100.0", connection: { workgroup: analytics, database: dev }, table: public.big, columns: [user_id, amount], iam_role: "arn:aws:iam::123456789012:role/Copy", staging: { bucket: staging } }
tests:
`;

describe('runSpecTests', () => {
  it('passes a case whose sinks receive exactly the expected records', async () => {
    const [result] = await run(`${PIPELINE}  - name: renames and routes
    given:
      orders: [{ uid: 1, amount: "500", status: paid }, { uid: 2, amount: 5, status: test }]
    expect:
      archive: [{ user_id: 1, amount: 500, status: paid }]
      big: [{ user_id: 1, amount: 500, status: paid }]
    expect_filtered: 1
`);

    expect(result).toEqual({ name: 'renames and routes', line: 17, failures: [] });
  });

  it('fails a case with a diff naming the sink when records differ', async () => {
    const [result] = await run(`${PIPELINE}  - name: wrong expectation
    given:
      orders: [{ uid: 1, amount: 5, status: paid }]
    expect:
      archive: [{ user_id: 2, amount: 5, status: paid }]
`);

    expect(result?.failures).toHaveLength(1);
    expect(result?.failures[0]).toContain('sink `archive` received other records than expected');
    expect(result?.failures[0]).toMatch(/- +"user_id": 2/);
    expect(result?.failures[0]).toMatch(/\+ +"user_id": 1/);
  });

  it('matches subsets in order when expect_subset is set', async () => {
    const [result] = await run(`${PIPELINE}  - name: subset
    given:
      orders: [{ uid: 1, amount: 5, status: paid, extra: x }]
    expect_subset: true
    expect:
      archive: [{ user_id: 1 }]
`);

    expect(result?.failures).toEqual([]);
  });

  it('fails a case that produces dead letters it did not expect, and says why they happened', async () => {
    const [result] = await run(`${PIPELINE}  - name: surprise
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
`);

    expect(result?.failures[0]).toContain('dead letters differ');
    expect(result?.failures[0]).toContain('transform transform-error at clean');
  });

  it('passes a case whose expected dead letters occurred', async () => {
    const [result] = await run(`${PIPELINE}  - name: bad amount
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
    expect_dead_letter: [{ stage: transform, code: transform-error }]
`);

    expect(result?.failures).toEqual([]);
  });

  it('counts filtered records against expect_filtered', async () => {
    const [result] = await run(`${PIPELINE}  - name: filtered count
    given:
      orders: [{ uid: 1, amount: 1, status: test }]
    expect_filtered: 2
`);

    expect(result?.failures).toEqual(['expected 2 filtered records, got 1']);
  });
});

describe('runSpecTests dead-letter expectations', () => {
  it('matches an expected dead letter that leaves out the code', async () => {
    const [result] = await run(`${PIPELINE}  - name: any code
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
    expect_dead_letter: [{ stage: transform }]
`);

    expect(result?.failures).toEqual([]);
  });

  it('fails when the dead letter comes from another component than expected', async () => {
    const [result] = await run(`${PIPELINE}  - name: wrong component
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
    expect_dead_letter: [{ stage: transform, code: transform-error, component: archive }]
`);

    expect(result?.failures[0]).toContain('dead letters differ');
  });
});

describe('runSpecTests promises only what production does', () => {
  const WITHOUT_DEAD_LETTER = PIPELINE.replace('dead_letter: { bucket: errors }\n', '');

  it('passes a dead-letter expectation in a spec without dead_letter: production sets the record aside in the bucket the stack creates', async () => {
    const [result] = await run(`${WITHOUT_DEAD_LETTER}  - name: bad amount
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
    expect_dead_letter: [{ stage: transform, code: transform-error }]
`);

    expect(result?.failures).toEqual([]);
  });
});

describe('runSpecTests with event files', () => {
  const STREAMS = `version: 1
name: streams
dead_letter: { bucket: errors }
sources:
  orders: { type: kinesis, stream: lambda-stream }
  other: { type: kinesis, stream: other-stream }
  users: { type: dynamodb, table: ExampleTableWithStream, stream_arn: "\${param.users_stream}" }
parameters:
  users_stream: { type: string }
sinks:
  archive: { type: s3, inputs: [orders, other, users], bucket: archive, key: "all/" }
tests:
`;

  it('runs an event from the stream of the source the case names', async () => {
    const [result] = await run(`${STREAMS}  - name: from the declared stream
    given:
      orders: { event: events/kinesis-json.json }
    expect:
      archive: [{ message: test message, username: test }]
`, specFolder());

    expect(result?.failures).toEqual([]);
  });

  it('fails a case whose Kinesis event comes from the stream of another source', async () => {
    const [result] = await run(`${STREAMS}  - name: from another stream
    given:
      other: { event: events/kinesis-json.json }
    expect:
      archive: []
`, specFolder());

    expect(result?.failures).toHaveLength(1);
    expect(result?.failures[0]).toContain('the event does not belong to source `other`');
    expect(result?.failures[0]).toContain('stream/lambda-stream');
  });

  it('fails a case that gives a DynamoDB event to a Kinesis source', async () => {
    const [result] = await run(`${STREAMS}  - name: wrong kind of event
    given:
      orders: { event: events/dynamodb-insert-modify-remove.json }
    expect:
      archive: []
`, specFolder());

    expect(result?.failures).toHaveLength(1);
    expect(result?.failures[0]).toContain('source `orders` is a kinesis source, not a dynamodb source');
  });

  it('accepts a DynamoDB event for a source whose stream is a parameter the test cannot know, by its table', async () => {
    const [result] = await run(`${STREAMS}  - name: users table
    given:
      users: { event: events/dynamodb-insert-modify-remove.json }
    expect_subset: true
    expect:
      archive: [{ Id: 101 }, { Id: 101 }, { Id: 101 }]
`, specFolder());

    expect(result?.failures).toEqual([]);
  });

  it('says an event file is not JSON with a line and column, without echoing its bytes', async () => {
    const [result] = await run(`${STREAMS}  - name: broken file
    given:
      orders: { event: broken.json }
`, specFolder({ 'broken.json': '{"Records": [\n  secret-token-123 ]}' }));

    expect(result?.failures).toHaveLength(1);
    expect(result?.failures[0]).toMatch(/^`given.orders`: the event file broken.json is not JSON: .* at line 2, column 3$/);
    expect(result?.failures[0]).not.toContain('secret-token-123');
  });

  it('fails a case whose event file is missing, naming it', async () => {
    const [result] = await run(`${STREAMS}  - name: no file
    given:
      orders: { event: events/none.json }
`, specFolder());

    expect(result?.failures).toEqual(['`given.orders`: cannot read the event file events/none.json: ENOENT']);
  });
});

describe('runSpecTests with S3 objects', () => {
  const BUCKET = `version: 1
name: objects
dead_letter: { bucket: errors }
sources:
  clicks: { type: s3, bucket: sqs-s3-unwrap-bucket, format: jsonl }
  orders: { type: kinesis, stream: orders }
sinks:
  archive: { type: s3, inputs: [clicks, orders], bucket: archive, key: "all/" }
tests:
`;
  const LINES = '{"id":1}\n{"id":2}\n';

  it('reads the content the case gives for the object its event file names', async () => {
    const [result] = await run(`${BUCKET}  - name: captured event
    given:
      clicks: { event: events/sqs-s3.json, objects: { sqs-s3-unwrap-bucket/samconfig.toml: data/clicks.jsonl } }
    expect:
      archive: [{ id: 1 }, { id: 2 }]
`, specFolder({ 'data/clicks.jsonl': LINES }));

    expect(result?.failures).toEqual([]);
  });

  it('announces the objects itself when the case gives no event', async () => {
    const [result] = await run(`${BUCKET}  - name: objects only
    given:
      clicks: { objects: { sqs-s3-unwrap-bucket/in/a.jsonl: data/clicks.jsonl, sqs-s3-unwrap-bucket/in/b.jsonl: data/more.jsonl } }
    expect:
      archive: [{ id: 1 }, { id: 2 }, { id: 3 }]
`, specFolder({ 'data/clicks.jsonl': LINES, 'data/more.jsonl': '{"id":3}\n' }));

    expect(result?.failures).toEqual([]);
  });

  it('fails a case that gives objects to a source that is not s3', async () => {
    const [result] = await run(`${BUCKET}  - name: objects for a stream
    given:
      orders: { objects: { sqs-s3-unwrap-bucket/in/a.jsonl: data/clicks.jsonl } }
`, specFolder({ 'data/clicks.jsonl': LINES }));

    expect(result?.failures).toEqual(['`given.orders`: `objects` supply S3 objects, but source `orders` is a kinesis source']);
  });

  it('fails a case whose objects are in a bucket its source does not read', async () => {
    const [result] = await run(`${BUCKET}  - name: foreign bucket
    given:
      clicks: { objects: { elsewhere/in/a.jsonl: data/clicks.jsonl } }
`, specFolder({ 'data/clicks.jsonl': LINES }));

    expect(result?.failures).toHaveLength(1);
    expect(result?.failures[0]).toContain('the event does not belong to source `clicks`');
  });
});

describe('runSpecTests with Kinesis filter patterns', () => {
  const FILTERED = `version: 1
name: purchases
dead_letter: { bucket: errors }
sources:
  orders: { type: kinesis, stream: lambda-stream, filter: [{ data: { event_type: [purchase] } }] }
sinks:
  archive: { type: s3, inputs: [orders], bucket: archive, key: "all/" }
tests:
`;

  it('drops the given records that match no pattern, as Lambda would, and counts them as filtered', async () => {
    const [result] = await run(`${FILTERED}  - name: only purchases
    given:
      orders: [{ event_type: purchase, n: 1 }, { event_type: view, n: 2 }]
    expect:
      archive: [{ event_type: purchase, n: 1 }]
    expect_filtered: 1
`);

    expect(result?.failures).toEqual([]);
  });

  it('drops the records of an event file that match no pattern', async () => {
    const [result] = await run(`${FILTERED}  - name: the sample is no purchase
    given:
      orders: { event: events/kinesis-json.json }
    expect:
      archive: []
    expect_filtered: 1
`, specFolder());

    expect(result?.failures).toEqual([]);
  });
});

describe('ingest validate on test inputs', () => {
  function diagnostics(yaml: string, files: string[] = []) {
    const loaded = loadSpec('spec.yaml', Buffer.from(yaml));
    if (!loaded.ok) throw new Error(loaded.diagnostics[0]!.message);
    return validateLoadedSpec(loaded.spec, { exists: (path) => files.includes(path), read: () => undefined }).map(({ line, column, code, message }) => ({ line, column, code, message }));
  }

  const SPEC = `version: 1
name: objects
sources:
  clicks: { type: s3, bucket: raw, format: jsonl }
  orders: { type: kinesis, stream: orders }
sinks:
  archive: { type: s3, inputs: [clicks, orders], bucket: archive, key: "all/" }
tests:
  - name: objects
    given:
`;

  it('accepts objects whose files exist, for an s3 source', () => {
    expect(diagnostics(`${SPEC}      clicks: { objects: { raw/in/a.jsonl: data/a.jsonl } }\n`, ['data/a.jsonl'])).toEqual([]);
  });

  it('reports an object file that cannot be read, at the object', () => {
    expect(diagnostics(`${SPEC}      clicks: { objects: { raw/in/a.jsonl: data/a.jsonl } }\n`)).toEqual([
      { line: 11, column: 44, code: 'missing-file', message: 'file `data/a.jsonl` of test object `raw/in/a.jsonl` cannot be read (paths are relative to the spec)' },
    ]);
  });

  it('reports objects given to a source that is not s3', () => {
    expect(diagnostics(`${SPEC}      orders: { objects: { raw/in/a.jsonl: data/a.jsonl } }\n`, ['data/a.jsonl'])).toMatchObject([
      { line: 11, code: 'invalid-value', message: '`objects` supply S3 objects, but source `orders` is a kinesis source' },
    ]);
  });
});
