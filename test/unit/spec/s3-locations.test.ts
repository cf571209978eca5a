import { describe, expect, it } from 'vitest';
import type { SpecFiles } from '../../../engine/plugin/checks.ts';
import type { Diagnostic } from '../../../engine/spec/diagnostic.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';
import { keyPrefixProblem } from '../../../engine/sinks/s3/check.ts';

// Where a pipeline writes objects (S3 sinks, the dead-letter location, staging locations):
// prefixes the engine can append names to, and never where one of its own S3 sources reads.

const NO_FILES: SpecFiles = { exists: () => false, read: () => undefined };

function validate(text: string): Diagnostic[] {
  const loaded = loadSpec('spec.yaml', Buffer.from(text));
  if (!loaded.ok) throw new Error(`spec does not load: ${loaded.diagnostics[0]?.message}`);
  return validateLoadedSpec(loaded.spec, NO_FILES);
}

const codes = (text: string) => validate(text).map((d) => `${d.line}:${d.column} ${d.code}`);

describe('key prefixes', () => {
  it.each([
    ['orders/', undefined],
    ['orders/dt={{date record.ts \'yyyy-MM-dd\'}}/', undefined],
    ['{{meta.source}}/', undefined],
    ['a/b/c/', undefined],
    ['orders', 'does not end with `/`'],
    ['orders/{{record.day}}', 'does not end with `/`'],
    ['/x/', 'starts with `/`'],
    ['a//b/', 'empty segment'],
    ['{{stage}}//', 'empty segment'],
    ['a/./b/', '`.` segment'],
    ['../b/', '`..` segment'],
    ['/', 'starts with `/`'],
  ])('judges %j', (prefix, problem) => {
    const found = keyPrefixProblem(prefix);

    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it('admits an empty staging prefix (the bucket top level) but not an empty key', () => {
    expect(keyPrefixProblem('', true)).toBeUndefined();
    expect(keyPrefixProblem('')).toBe('is empty');
  });

  const sink = (key: string) => `version: 1\nname: demo\nsources:\n  orders: { type: kinesis, stream: orders }\nsinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: "${key}" }\n`;
  const deadLetter = (prefix: string) => `version: 1\nname: demo\ndead_letter: { bucket: acme-errors, prefix: "${prefix}" }\nsources:\n  orders: { type: kinesis, stream: orders }\nsinks:\n  archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/ }\n`;
  const staging = (prefix: string) =>
    `version: 1\nname: demo\nsources:\n  orders: { type: kinesis, stream: orders }\nsinks:\n  load: { type: postgres, inputs: [orders], connection: { secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:pg" }, table: orders, columns: [id], staging: { bucket: acme-staging, prefix: "${prefix}" } }\n`;

  it.each([
    ['an s3 sink key', sink, '6:69'],
    ['a dead-letter prefix', deadLetter, '3:45'],
    ['a staging prefix', staging, '6:203'],
  ])('refuses %s without a trailing slash at its position', (_what, build, at) => {
    expect(codes(build('orders'))).toEqual([`${at} invalid-key-prefix`]);
    expect(codes(build('/orders/'))).toEqual([`${at} invalid-key-prefix`]);
    expect(codes(build('orders/'))).toEqual([]);
  });
});

describe('self-trigger', () => {
  interface Case {
    name: string;
    source: string;
    outputs: string;
    deadLetter?: string;
    parameters?: string;
    /** Expected diagnostics, or [] when the pipeline cannot read its own output. */
    expect: string[];
  }

  const S3_SINK = (bucket: string, key: string, extra = '') => `  out: { type: s3, inputs: [raw], bucket: "${bucket}", key: "${key}"${extra} }`;
  const cases: Case[] = [
    { name: 'a sink into the bucket the source reads whole', source: '{ bucket: loop-bucket }', outputs: S3_SINK('loop-bucket', 'out/'), expect: ['self-trigger'] },
    { name: 'a sink into another bucket', source: '{ bucket: loop-bucket }', outputs: S3_SINK('other-bucket', 'out/'), expect: [] },
    { name: 'a sink under another prefix', source: '{ bucket: loop-bucket, prefix: in/ }', outputs: S3_SINK('loop-bucket', 'out/'), expect: [] },
    { name: 'a sink under the source prefix', source: '{ bucket: loop-bucket, prefix: in/ }', outputs: S3_SINK('loop-bucket', 'in/clean/'), expect: ['self-trigger'] },
    { name: 'a sink whose literal prefix is shorter than the source prefix', source: '{ bucket: loop-bucket, prefix: in/2026 }', outputs: S3_SINK('loop-bucket', 'in/{{record.year}}/'), expect: ['self-trigger'] },
    { name: 'a literal sink prefix the source prefix extends with a folder', source: '{ bucket: loop-bucket, prefix: in/deeper/ }', outputs: S3_SINK('loop-bucket', 'in/'), expect: [] },
    { name: 'a sink key that starts with a template', source: '{ bucket: loop-bucket, prefix: in/ }', outputs: S3_SINK('loop-bucket', '{{meta.source}}/'), expect: ['self-trigger'] },
    { name: 'gzip output under a .csv suffix', source: '{ bucket: loop-bucket, suffix: .csv }', outputs: S3_SINK('loop-bucket', 'out/'), expect: [] },
    { name: 'gzip output under a .gz suffix', source: '{ bucket: loop-bucket, suffix: .gz }', outputs: S3_SINK('loop-bucket', 'out/'), expect: ['self-trigger'] },
    { name: 'uncompressed output under a .jsonl suffix', source: '{ bucket: loop-bucket, suffix: .jsonl }', outputs: S3_SINK('loop-bucket', 'out/', ', compression: none'), expect: ['self-trigger'] },
    { name: 'json lines output under a .json suffix', source: '{ bucket: loop-bucket, suffix: .json }', outputs: S3_SINK('loop-bucket', 'out/', ', compression: none'), expect: [] },
    { name: 'output under a suffix that ends in a count and the extension', source: '{ bucket: loop-bucket, suffix: 1.jsonl.gz }', outputs: S3_SINK('loop-bucket', 'out/'), expect: ['self-trigger'] },
    { name: 'output under a suffix that ends in a word and the extension', source: '{ bucket: loop-bucket, suffix: data.jsonl.gz }', outputs: S3_SINK('loop-bucket', 'out/'), expect: [] },
    { name: 'one parameter naming both buckets', parameters: 'parameters: { bucket: { type: string } }', source: '{ bucket: "${param.bucket}" }', outputs: S3_SINK('${param.bucket}', 'out/'), expect: ['self-trigger'] },
    { name: 'two parameters', parameters: 'parameters: { a: { type: string }, b: { type: string } }', source: '{ bucket: "${param.a}" }', outputs: S3_SINK('${param.b}', 'out/'), expect: [] },
    { name: 'dead letters into the bucket the source reads whole', source: '{ bucket: loop-bucket }', deadLetter: '{ bucket: loop-bucket, prefix: errors/ }', outputs: S3_SINK('other-bucket', 'out/'), expect: ['self-trigger'] },
    { name: 'dead letters beside the source prefix', source: '{ bucket: loop-bucket, prefix: in/ }', deadLetter: '{ bucket: loop-bucket, prefix: "errors/{{stage}}/" }', outputs: S3_SINK('other-bucket', 'out/'), expect: [] },
    { name: 'dead letters with the default prefix, which starts with a template', source: '{ bucket: loop-bucket, prefix: in/ }', deadLetter: '{ bucket: loop-bucket }', outputs: S3_SINK('other-bucket', 'out/'), expect: ['self-trigger'] },
    {
      name: 'staged files with the default prefix in the bucket the source reads whole',
      source: '{ bucket: loop-bucket }',
      outputs: '  load: { type: postgres, inputs: [raw], connection: { secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:pg" }, table: orders, columns: [id], staging: { bucket: loop-bucket } }',
      expect: ['self-trigger'],
    },
    {
      name: 'staged files beside the source prefix',
      source: '{ bucket: loop-bucket, prefix: in/ }',
      outputs: '  load: { type: postgres, inputs: [raw], connection: { secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:pg" }, table: orders, columns: [id], staging: { bucket: loop-bucket, prefix: staged/ } }',
      expect: [],
    },
  ];

  function specText(testCase: Case): string {
    return [
      'version: 1',
      'name: demo',
      testCase.parameters ?? '',
      testCase.deadLetter ? `dead_letter: ${testCase.deadLetter}` : '',
      'sources:',
      `  raw: ${testCase.source.replace('{ ', '{ type: s3, ')}`,
      'sinks:',
      testCase.outputs,
      '',
    ].join('\n');
  }

  it.each(cases)('$name: $expect', (testCase) => {
    expect(validate(specText(testCase)).map((d) => d.code)).toEqual(testCase.expect);
  });

  it('reports at the output and names where the source is', () => {
    const text = specText(cases[0]!);

    const [diagnostic] = validate(text);

    expect(diagnostic).toMatchObject({ line: 8, column: 63, instancePath: '/sinks/out/key' });
    expect(diagnostic!.message).toContain('source `raw` (line 6:3)');
    expect(diagnostic!.message).toContain('s3://loop-bucket/out/');
  });
});
