import { describe, expect, it } from 'vitest';
import type { SpecFiles } from '../../../engine/plugin/checks.ts';
import type { Diagnostic } from '../../../engine/spec/diagnostic.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';

// Semantic checks (engine/spec/check.ts and the plugin checks) where the invalid-spec corpus
// does not already pin the behaviour: messages, boundaries, and what must NOT be reported.

const NO_FILES: SpecFiles = { exists: () => false, read: () => undefined };

function validate(text: string, files: SpecFiles = NO_FILES): Diagnostic[] {
  const loaded = loadSpec('spec.yaml', Buffer.from(text));
  if (!loaded.ok) throw new Error(`spec does not load: ${loaded.diagnostics[0]?.message}`);
  return validateLoadedSpec(loaded.spec, files);
}

function codes(text: string, files?: SpecFiles): string[] {
  return validate(text, files).map((d) => `${d.line}:${d.column} ${d.code}`);
}

const KINESIS = 'orders: { type: kinesis, stream: orders }';

/** A spec whose sources, transforms and sinks are given as YAML lines of each section. */
function spec(parts: { name?: string; parameters?: string[]; sources?: string[]; transforms?: string[]; sinks?: string[]; tests?: string[] }): string {
  const section = (title: string, lines: string[] | undefined) => (lines ? `${title}:\n${lines.map((line) => `  ${line}\n`).join('')}` : '');
  return [
    `version: 1\nname: ${parts.name ?? 'demo'}\n`,
    section('parameters', parts.parameters),
    section('sources', parts.sources ?? [KINESIS]),
    section('transforms', parts.transforms),
    section('sinks', parts.sinks ?? ['archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/ }']),
    parts.tests ? `tests:\n${parts.tests.map((line) => `  ${line}\n`).join('')}` : '',
  ].join('');
}

const step = (id: string, inputs: string) => `${id}: { inputs: [${inputs}], steps: [{ drop: [debug] }] }`;

describe('checkSpec', () => {
  it('accepts a spec that only uses what it declares', () => {
    expect(codes(spec({}))).toEqual([]);
  });

  describe('graph', () => {
    it('names a cycle of three transforms in the direction records flow', () => {
      const text = spec({
        transforms: [step('a', 'orders, c'), step('b', 'a'), step('c', 'b')],
        sinks: ['archive: { type: s3, inputs: [c], bucket: acme-archive, key: k/ }'],
      });

      const [cycle, ...rest] = validate(text);

      expect(rest).toEqual([]);
      expect(cycle).toMatchObject({ code: 'transform-cycle', line: 7, message: 'transforms feed each other in a cycle: a -> b -> c -> a' });
    });

    it('names only the transform that reads itself, even when reached through another', () => {
      const text = spec({
        transforms: [step('a', 'orders, b'), step('b', 'b')],
        sinks: ['archive: { type: s3, inputs: [a], bucket: acme-archive, key: k/ }'],
      });

      expect(validate(text).map((d) => d.message)).toEqual(['transforms feed each other in a cycle: b -> b']);
    });

    it('reports a sink given as an input once, as unknown-input, not also as unreachable', () => {
      const text = spec({
        sinks: ['archive: { type: s3, inputs: [orders], bucket: acme-archive, key: k/ }', 'copy: { type: s3, inputs: [archive], bucket: acme-copy, key: k/ }'],
      });

      expect(validate(text).map((d) => d.code)).toEqual(['unknown-input']);
    });

    it('lists the known inputs when an input names nothing', () => {
      const text = spec({ sinks: ['archive: { type: s3, inputs: [ordrs], bucket: acme-archive, key: k/ }'] });

      expect(validate(text).find((d) => d.code === 'unknown-input')?.message).toBe('input `ordrs` names no source or transform; known: orders');
    });

    it('treats a sink fed by one fed input and one unfed input as reachable', () => {
      const text = spec({
        transforms: [step('left', 'right'), step('right', 'left')],
        sinks: ['archive: { type: s3, inputs: [orders, right], bucket: acme-archive, key: k/ }'],
      });

      expect(validate(text).map((d) => d.code)).toEqual(['transform-cycle']);
    });

    it('reports the same id in transforms and sinks at the later key', () => {
      const text = spec({
        transforms: [step('clean', 'orders')],
        sinks: ['clean: { type: s3, inputs: [orders], bucket: acme-archive, key: k/ }'],
      });

      expect(codes(text)).toContain('8:3 duplicate-id');
    });

    it('warns about an unused source at its key, with a warning severity', () => {
      const text = spec({ sources: [KINESIS, 'refunds: { type: kinesis, stream: refunds }'] });

      expect(validate(text)).toEqual([expect.objectContaining({ code: 'unused-source', severity: 'warning', line: 5, column: 3, instancePath: '/sources/refunds' })]);
    });
  });

  describe('names', () => {
    // 40 characters: the longest name the schema allows.
    const longName = 'a'.repeat(40);

    it('accepts the longest id that fits beside the longest pipeline name', () => {
      expect(codes(spec({ name: longName, sources: [`${'s'.repeat(15)}: { type: kinesis, stream: orders }`], sinks: [`archive: { type: s3, inputs: [${'s'.repeat(15)}], bucket: acme-archive, key: k/ }`] }))).toEqual([]);
    });

    it('rejects an id one character longer, saying how long it may be', () => {
      const [problem] = validate(spec({ name: longName, sources: [`${'s'.repeat(16)}: { type: kinesis, stream: orders }`], sinks: [`archive: { type: s3, inputs: [${'s'.repeat(16)}], bucket: acme-archive, key: k/ }`] }));

      expect(problem).toMatchObject({ code: 'name-too-long', line: 4, column: 3 });
      expect(problem?.message).toContain('use at most 15 characters');
    });
  });

  describe('parameters', () => {
    it('accepts references to declared parameters anywhere in the spec', () => {
      const text = spec({ parameters: ['stream_name: { type: string }'], sources: ['orders: { type: kinesis, stream: "${param.stream_name}" }'] });

      expect(codes(text)).toEqual([]);
    });

    it('does not look for references inside test data', () => {
      const text = spec({ tests: ['- { name: literal, given: { orders: [{ note: "${param.nothing}" }] } }'] });

      expect(codes(text)).toEqual([]);
    });

    it('lists the declared parameters when a reference names none of them', () => {
      const text = spec({ parameters: ['bucket_name: { type: string }'], sinks: ['archive: { type: s3, inputs: [orders], bucket: "${param.bucket}", key: k/ }'] });

      expect(validate(text)[0]?.message).toBe('`${param.bucket}` refers to an undeclared parameter (parameters: bucket_name)');
    });
  });

  describe('expressions and templates', () => {
    it('says at which character of the expression the problem is', () => {
      const text = spec({ transforms: ['clean: { inputs: [orders], steps: [{ filter: "record.a == 1 &&" }] }'], sinks: ['archive: { type: s3, inputs: [clean], bucket: acme-archive, key: k/ }'] });

      expect(validate(text)[0]).toMatchObject({ code: 'invalid-expression', message: expect.stringMatching(/\(at character \d+\) in expression `record\.a == 1 &&`$/) });
    });

    it('checks a dedupe key and a sink condition', () => {
      const text = spec({
        transforms: ['clean: { inputs: [orders], steps: [{ dedupe: { key: "recod.id" } }] }'],
        sinks: ['archive: { type: s3, inputs: [clean], bucket: acme-archive, key: k/, where: "nope(record)" }'],
      });

      expect(validate(text).map((d) => d.code)).toEqual(['unknown-variable', 'unknown-function']);
    });

    it('checks templates of the dead-letter prefix and of SQL hooks', () => {
      const text = [
        'version: 1\nname: demo\n',
        'dead_letter: { bucket: acme-errors, prefix: "{{stamp now}}/" }\n',
        `sources:\n  ${KINESIS}\n`,
        'sinks:\n  warehouse:\n    type: redshift\n    inputs: [orders]\n    connection: { workgroup: analytics, database: dev }\n',
        '    table: public.orders\n    columns: [id]\n    staging: { bucket: acme-staging }\n    post_sql: ["ANALYZE {{#if x}}"]\n',
      ].join('');

      expect(codes(text)).toEqual(['3:45 unknown-helper', '14:16 invalid-template']);
    });
  });

  describe('overlapping S3 sources', () => {
    const sources = (...definitions: string[]) =>
      spec({
        sources: definitions.map((definition, index) => `s${index}: { type: s3, ${definition} }`),
        sinks: [`archive: { type: s3, inputs: [${definitions.map((_, index) => `s${index}`).join(', ')}], bucket: acme-archive, key: k/ }`],
      });

    it('accepts the same prefix with disjoint suffixes', () => {
      expect(codes(sources('bucket: acme-raw, prefix: in/, suffix: .json', 'bucket: acme-raw, prefix: in/, suffix: .csv'))).toEqual([]);
    });

    it("accepts prefixes 'a/' and 'ab/', which no key can both start with", () => {
      expect(codes(sources('bucket: acme-raw, prefix: a/', 'bucket: acme-raw, prefix: ab/'))).toEqual([]);
    });

    it('accepts the same prefix in different buckets', () => {
      expect(codes(sources('bucket: acme-raw, prefix: a/', 'bucket: acme-raw-eu, prefix: a/'))).toEqual([]);
    });

    it("reports prefixes '' and 'x/', since the whole bucket includes x/", () => {
      expect(codes(sources('bucket: acme-raw', 'bucket: acme-raw, prefix: x/'))).toEqual(['5:3 overlapping-s3-sources']);
    });

    it('reports a source without a suffix beside one with a suffix under the same prefix', () => {
      expect(codes(sources('bucket: acme-raw, prefix: in/, suffix: .json.gz', 'bucket: acme-raw, prefix: in/'))).toEqual(['5:3 overlapping-s3-sources']);
    });

    it('reports suffixes that nest (.gz catches .json.gz)', () => {
      expect(codes(sources('bucket: acme-raw, suffix: .json.gz', 'bucket: acme-raw, suffix: .gz'))).toEqual(['5:3 overlapping-s3-sources']);
    });
  });

  describe('SQL sinks', () => {
    const warehouse = (type: 'redshift' | 'postgres', fields: string) =>
      spec({
        parameters: ['database_url: { type: string }'],
        sinks: [
          `db: { type: ${type}, inputs: [orders], ${type === 'redshift' ? 'connection: { workgroup: analytics, database: dev }' : 'connection: { url: "${param.database_url}" }'}, staging: { bucket: acme-staging }, ${fields} }`,
        ],
      });

    it('accepts an upsert whose keys are among the columns', () => {
      expect(codes(warehouse('redshift', 'table: public.orders, columns: [id, total], mode: upsert, keys: [id]'))).toEqual([]);
    });

    it('accepts a table without a schema for PostgreSQL', () => {
      expect(codes(warehouse('postgres', 'table: orders, columns: [id]'))).toEqual([]);
    });

    it('holds PostgreSQL column names to 63 bytes and Redshift ones to 127', () => {
      const column = 'c'.repeat(64);

      expect(validate(warehouse('postgres', `table: public.orders, columns: [${column}]`)).map((d) => d.code)).toEqual(['invalid-identifier']);
      expect(codes(warehouse('redshift', `table: public.orders, columns: [${column}]`))).toEqual([]);
    });

    it('rejects a quoted-looking table name part', () => {
      expect(validate(warehouse('redshift', 'table: public.order_lines$v2x"y, columns: [id]')).map((d) => d.code)).toEqual(['invalid-identifier']);
    });
  });

  describe('stream retry age', () => {
    it.each([-1, 60, 604_800])('accepts max_record_age_seconds %i', (age) => {
      expect(codes(spec({ sources: [`orders: { type: kinesis, stream: orders, retry: { max_record_age_seconds: ${age} } }`] }))).toEqual([]);
    });

    it.each([0, 59])('rejects max_record_age_seconds %i', (age) => {
      expect(validate(spec({ sources: [`orders: { type: kinesis, stream: orders, retry: { max_record_age_seconds: ${age} } }`] })).map((d) => d.code)).toEqual(['batch-out-of-range']);
    });
  });

  describe('tests', () => {
    it('accepts a given event file that exists beside the spec', () => {
      const files: SpecFiles = { exists: (path) => path === 'events/orders.json', read: () => undefined };

      expect(codes(spec({ tests: ['- { name: replay, given: { orders: { event: events/orders.json } } }'] }), files)).toEqual([]);
    });

    it('rejects a given that names a sink, since records enter at sources', () => {
      expect(codes(spec({ tests: ['- { name: wrong way round, given: { archive: [{ a: 1 }] } }'] }))).toEqual(['8:39 unknown-test-target']);
    });

    it('accepts an expected dead letter naming a transform', () => {
      const text = spec({
        transforms: [step('clean', 'orders')],
        sinks: ['archive: { type: s3, inputs: [clean], bucket: acme-archive, key: k/ }'],
        tests: ['- { name: bad record, given: { orders: [{ a: 1 }] }, expect_dead_letter: [{ stage: transform, component: clean }] }'],
      });

      expect(codes(text)).toEqual([]);
    });

    it('numbers the first test case in a duplicate-name message from 1', () => {
      const text = spec({ tests: ['- { name: same, given: { orders: [] } }', '- { name: other, given: { orders: [] } }', '- { name: same, given: { orders: [] } }'] });

      expect(validate(text)[0]?.message).toBe('test name `same` is already used by test 1');
    });
  });
});
