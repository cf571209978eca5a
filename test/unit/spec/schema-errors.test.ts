import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../../engine/spec/diagnostic.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { suggest } from '../../../engine/spec/schema-errors.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';

// How JSON Schema errors become diagnostics (engine/spec/schema-errors.ts), beyond the positions
// the invalid-spec corpus pins: messages, suggestions, one diagnostic per problem, order.

function validate(text: string): Diagnostic[] {
  const loaded = loadSpec('spec.yaml', Buffer.from(text));
  if (!loaded.ok) throw new Error(`spec does not load: ${loaded.diagnostics[0]?.message}`);
  return validateLoadedSpec(loaded.spec, { exists: () => false, read: () => undefined });
}

const HEAD = 'version: 1\nname: demo\n';
const SOURCES = 'sources:\n  orders: { type: kinesis, stream: orders }\n';
const SINKS = 'sinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/ }\n';

describe('suggest', () => {
  it('proposes the allowed value within a small edit distance', () => {
    expect(suggest('lastest', ['latest', 'trim_horizon', 'at_timestamp'])).toBe(' (did you mean `latest`?)');
  });

  it('ignores letter case when comparing', () => {
    expect(suggest('Kinesis', ['s3', 'kinesis', 'dynamodb'])).toBe(' (did you mean `kinesis`?)');
  });

  it('proposes a field that the value extends by a whole word', () => {
    expect(suggest('bucket_name', ['type', 'bucket', 'prefix'])).toBe(' (did you mean `bucket`?)');
    expect(suggest('stream', ['table', 'stream_arn'])).toBe(' (did you mean `stream_arn`?)');
  });

  it('prefers a close spelling over a word match', () => {
    expect(suggest('max_record', ['max_records', 'max'])).toBe(' (did you mean `max_records`?)');
  });

  it('proposes nothing when no value is close', () => {
    expect(suggest('colour', ['type', 'bucket', 'prefix'])).toBe('');
    expect(suggest('on_failure_mode', ['on'])).toBe('');
  });
});

describe('schemaDiagnostics', () => {
  it('points an unknown field at its key and suggests the field meant', () => {
    const [problem] = validate(HEAD + SOURCES + 'sinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/, compresion: gzip }\n');

    expect(problem).toMatchObject({ code: 'unknown-field', line: 6, column: 73, instancePath: '/sinks/archive/compresion' });
    expect(problem?.message).toMatch(/^unknown field `compresion` in sink `archive` \(did you mean `compression`\?\); expected one of: type, inputs, /);
  });

  it('names an unknown field inside a step configuration, and the required field it replaces', () => {
    const text = HEAD + SOURCES + 'transforms:\n  clean:\n    inputs: [orders]\n    steps:\n      - dedupe: { keys: record.id }\n' + SINKS.replace('[orders]', '[clean]');

    expect(validate(text)).toEqual([
      expect.objectContaining({ code: 'missing-field', line: 9, column: 17, message: '`steps[0].dedupe` of transform `clean` is missing required field `key`' }),
      expect.objectContaining({ code: 'unknown-field', line: 9, column: 19, message: 'unknown field `keys` in `steps[0].dedupe` of transform `clean` (did you mean `key`?); expected one of: key' }),
    ]);
  });

  it('reports a missing type once, not also as an unknown type', () => {
    expect(validate(HEAD + 'sources:\n  orders: { stream: orders }\n' + SINKS).map((d) => `${d.code}: ${d.message}`)).toEqual([
      'missing-field: source `orders` is missing required field `type`',
    ]);
  });

  it('lists the known types with a suggestion for an unknown one', () => {
    const [problem] = validate(HEAD + SOURCES + 'sinks:\n  archive: { type: opensarch, inputs: [orders], endpoint: "https://search.example.com", index: x }\n');

    expect(problem?.message).toBe('unknown sink type `opensarch` (did you mean `opensearch`?); expected one of: s3, elasticsearch, opensearch, redshift, postgres');
  });

  it('says which field a conditionally required field is needed with', () => {
    const text = HEAD + SOURCES + 'sinks:\n  warehouse:\n    type: redshift\n    inputs: [orders]\n    connection: { workgroup: analytics, database: dev, db_user: loader }\n    table: public.orders\n    columns: [id]\n    staging: { bucket: acme-staging }\n';

    expect(validate(text)).toEqual([
      expect.objectContaining({ code: 'missing-field', line: 9, column: 17, message: '`connection` of sink `warehouse` is missing required field `cluster` (needed with `db_user`)' }),
    ]);
  });

  it('requires starting_timestamp with starting_position at_timestamp, at the source mapping', () => {
    const text = HEAD + 'sources:\n  orders:\n    type: kinesis\n    stream: orders\n    starting_position: at_timestamp\n' + SINKS;

    expect(validate(text).map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`)).toEqual([
      '5:5 missing-field: source `orders` is missing required field `starting_timestamp`',
    ]);
  });

  it('describes the wrong type given and the type expected', () => {
    const [problem] = validate(HEAD + SOURCES + 'sinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/, batch: { max_bytes: [64] } }\n');

    expect(problem?.message).toBe('`batch.max_bytes` of sink `archive` must be an integer or a string, not a list');
  });

  it('states the limit a number is outside of', () => {
    const [problem] = validate(HEAD + 'runtime: { reserved_concurrency: -1 }\n' + SOURCES + SINKS);

    expect(problem).toMatchObject({ code: 'out-of-range', message: '`runtime.reserved_concurrency` is -1; it must be >= 0', instancePath: '/runtime/reserved_concurrency' });
  });

  it('reports a component id that is too long at the key, with the rule for ids', () => {
    const id = 'o'.repeat(65);
    const [problem] = validate(HEAD + `sources:\n  ${id}: { type: kinesis, stream: orders }\n` + SINKS.replace('[orders]', `[${id}]`));

    expect(problem).toMatchObject({ code: 'invalid-value', line: 4, column: 3 });
    expect(problem?.message).toMatch(/^source id `o+\.\.\.` is invalid: .*at most 64 characters$/);
  });

  it('gives the description of a pattern instead of the regular expression', () => {
    const [problem] = validate(HEAD + SOURCES + SINKS.replace('acme-archive', 'acme..archive'));

    expect(problem?.message).toContain('Name of an S3 bucket');
    expect(problem?.message).not.toContain('(?!');
  });

  it('reports a list that repeats a value, naming both items', () => {
    const [problem] = validate(HEAD + SOURCES + SINKS.replace('[orders]', '[orders, orders]'));

    expect(problem).toMatchObject({ code: 'invalid-value', message: '`inputs` of sink `archive` lists the same value twice (items 0 and 1)' });
  });

  it('reports every problem of a spec, sorted by position, without duplicates', () => {
    const text = HEAD + 'runtime: { memory_mb: 64, timeout_seconds: 0 }\n' + 'sources:\n  orders: { type: kinesis, stream: orders, parallelization: 0 }\n' + SINKS.replace('acme-archive', 'Acme');

    const positions = validate(text).map((d) => `${d.line}:${d.column} ${d.code}`);

    expect(positions).toEqual(['3:23 out-of-range', '3:44 out-of-range', '5:61 out-of-range', '7:50 invalid-value']);
  });

  it('reports two fields of an exclusive choice as conflicting, at the second one', () => {
    const text = HEAD + 'sources:\n  orders: { type: kinesis, stream: orders, create: { shards: 2, on_demand: true } }\n' + SINKS;

    expect(validate(text)).toEqual([
      expect.objectContaining({ code: 'conflicting-fields', line: 4, column: 65, message: '`create` of source `orders` has `shards` and `on_demand`; give only one of them' }),
    ]);
  });

  it('reports an empty exclusive choice as missing one of its fields', () => {
    const text = HEAD + 'sources:\n  orders: { type: kinesis, stream: orders, create: {} }\n' + SINKS;

    expect(validate(text)).toEqual([
      expect.objectContaining({ code: 'missing-field', line: 4, column: 52, message: '`create` of source `orders` needs one of `shards`, `on_demand`' }),
    ]);
  });

  it('reports a step with no kind at all as an invalid step', () => {
    const text = HEAD + SOURCES + 'transforms:\n  clean:\n    inputs: [orders]\n    steps:\n      - {}\n' + SINKS.replace('[orders]', '[clean]');

    expect(validate(text).map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual(['9:9 invalid-step']);
  });
});

describe('messages of the hardening cases', () => {
  it('names both types when a constant is given as another type', () => {
    const [problem, ...rest] = validate('version: "1"\nname: demo\n' + SOURCES + SINKS);

    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'invalid-value', message: '`version` must be the number 1, not the string `1`' });
  });

  it('shows a size as written and in bytes, with the bound in both', () => {
    const [problem] = validate(HEAD + SOURCES + 'sinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/, batch: { max_bytes: 0.9B } }\n');

    expect(problem?.message).toBe('`batch.max_bytes` of sink `archive` is `0.9B` (0 bytes); it must be at least 1KiB (1024 bytes)');
  });

  it('shows a size given as an integer in bytes', () => {
    const [problem] = validate(HEAD + SOURCES + 'sinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/, batch: { max_bytes: 2147483648 } }\n');

    expect(problem?.message).toBe('`batch.max_bytes` of sink `archive` is 2147483648 bytes; it must be at most 1GiB (1073741824 bytes)');
  });

  it('reports a rename target once, for the branch whose type it has', () => {
    const problems = validate(HEAD + SOURCES + 'transforms:\n  t: { inputs: [orders], steps: [{ rename: { a: "x..y" } }] }\n' + 'sinks:\n  archive: { type: s3, inputs: [t], bucket: acme-archive, key: k/ }\n');

    expect(problems.map((d) => d.code)).toEqual(['invalid-value']);
    expect(problems[0]!.message).toContain('empty segment');
  });

  it('still reports a value that has the type of no branch', () => {
    const problems = validate(HEAD + SOURCES + 'transforms:\n  t: { inputs: [orders], steps: [{ rename: { a: 5 } }] }\n' + 'sinks:\n  archive: { type: s3, inputs: [t], bucket: acme-archive, key: k/ }\n');

    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((d) => d.instancePath === '/transforms/t/steps/0/rename/a')).toBe(true);
  });
});
