import { describe, expect, it } from 'vitest';
import schema from '../../../ingest.schema.json' with { type: 'json' };
import { createHandler, InvocationFailedError } from '../../../engine/handler.ts';
import { kinesisEvent } from '../../../engine/local/events.ts';
import type { SpecFiles } from '../../../engine/plugin/checks.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { TEMPLATE_ROOTS } from '../../../engine/spec/check.ts';
import type { Diagnostic } from '../../../engine/spec/diagnostic.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';

// Every template position declares what its template is rendered with (TEMPLATE_ROOTS, by the
// schema definition that types it), and `ingest validate` refuses a path that starts anywhere
// else. One row per position of the composed schema; a runtime test renders each kind of
// template with the context its runtime really passes.

const NO_FILES: SpecFiles = { exists: () => false, read: () => undefined };
const T = 'TEMPLATE';
const RECORD = ['record', 'meta', 'now'];
const DEAD_LETTER = ['stage', 'meta', 'now'];
const SQL = ['sink', 'table', 'now'];
const EVERY_ROOT = [...new Set([...RECORD, ...DEAD_LETTER, ...SQL])];

interface Position {
  name: string;
  pointer: string;
  roots: string[];
  /** Spec sections in YAML; `TEMPLATE` marks the template, written as a double-quoted string. */
  deadLetter?: string;
  transformStep?: string;
  sink: string;
  /** Shapes a template around an expression so that the position's other rules (key prefix, index name) hold. */
  shape?: (expression: string) => string;
}

const STAGING = 'staging: { bucket: acme-staging }';
const REDSHIFT = `type: redshift, inputs: [clean], connection: { workgroup: analytics, database: dev }, table: public.orders, columns: [id], ${STAGING}`;
const SEARCH = 'type: opensearch, inputs: [clean], endpoint: "https://search-acme.us-east-1.es.amazonaws.com", id: "{{record.id}}"';
const NAME = (expression: string) => `k-${expression}`;
const BARE = (expression: string) => expression;

const POSITIONS: Position[] = [
  { name: 's3 sink key', pointer: '/$defs/sinks.s3/properties/key', roots: RECORD, sink: `{ type: s3, inputs: [clean], bucket: acme-archive, key: ${T} }` },
  { name: 'search index', pointer: '/$defs/sinks.search/properties/index', roots: RECORD, sink: `{ ${SEARCH}, index: ${T} }`, shape: NAME },
  { name: 'search id', pointer: '/$defs/sinks.search/properties/id', roots: RECORD, sink: `{ ${SEARCH.replace(', id: "{{record.id}}"', '')}, index: i, id: ${T} }`, shape: NAME },
  { name: 'search routing', pointer: '/$defs/sinks.search/properties/routing', roots: RECORD, sink: `{ ${SEARCH}, index: i, routing: ${T} }`, shape: NAME },
  { name: 'search version', pointer: '/$defs/sinks.search/properties/version', roots: RECORD, sink: `{ ${SEARCH}, index: i, version: ${T} }`, shape: BARE },
  { name: 'template step', pointer: '/$defs/transforms.template/additionalProperties', roots: RECORD, transformStep: `template: { label: ${T} }`, sink: '{ type: s3, inputs: [clean], bucket: acme-archive, key: k/ }', shape: NAME },
  { name: 'dead-letter prefix', pointer: '/$defs/dead_letter/properties/prefix', roots: DEAD_LETTER, deadLetter: `{ bucket: acme-errors, prefix: ${T} }`, sink: '{ type: s3, inputs: [clean], bucket: acme-archive, key: k/ }' },
  { name: 'redshift pre_sql', pointer: '/$defs/sinks.redshift/properties/pre_sql/items', roots: SQL, sink: `{ ${REDSHIFT}, pre_sql: [${T}] }`, shape: NAME },
  { name: 'redshift post_sql', pointer: '/$defs/sinks.redshift/properties/post_sql/items', roots: SQL, sink: `{ ${REDSHIFT}, post_sql: [${T}] }`, shape: NAME },
];

function specText(position: Position, template: string): string {
  const quoted = JSON.stringify(template);
  return [
    'version: 1',
    'name: demo',
    position.deadLetter ? `dead_letter: ${position.deadLetter.replace(T, quoted)}` : '',
    'sources:',
    '  orders: { type: kinesis, stream: orders }',
    'transforms:',
    '  clean:',
    '    inputs: [orders]',
    `    steps: [{ ${position.transformStep?.replace(T, quoted) ?? 'drop: [debug]'} }]`,
    'sinks:',
    `  out: ${position.sink.replace(T, quoted)}`,
    '',
  ].join('\n');
}

function validate(text: string): Diagnostic[] {
  const loaded = loadSpec('spec.yaml', Buffer.from(text));
  if (!loaded.ok) throw new Error(`spec does not load: ${loaded.diagnostics[0]?.message}`);
  return validateLoadedSpec(loaded.spec, NO_FILES);
}

/** A key prefix template around `{{expression}}`: the shape of the positions that declare no other. */
const KEY_PREFIX = (expression: string) => `k/${expression}/`;

/** Pointers of every place in the composed schema typed by a template definition. */
function templatePointers(): string[] {
  const found: string[] = [];
  const visit = (node: unknown, pointer: string): void => {
    if (Array.isArray(node)) node.forEach((item, index) => visit(item, `${pointer}/${index}`));
    else if (node && typeof node === 'object') {
      const ref = (node as { $ref?: unknown }).$ref;
      if (typeof ref === 'string' && ref.startsWith('#/$defs/defs.template.')) found.push(pointer);
      for (const [key, child] of Object.entries(node)) visit(child, `${pointer}/${key}`);
    }
  };
  visit(schema, '');
  return found.sort();
}

describe('template roots', () => {
  it('has a row for every template position of the schema', () => {
    expect(POSITIONS.map((position) => position.pointer).sort()).toEqual(templatePointers());
  });

  it('declares the roots of every template definition', () => {
    const definitions = Object.keys(schema.$defs).filter((name) => name.startsWith('defs.template.')).map((name) => `#/$defs/${name}`);

    expect(Object.keys(TEMPLATE_ROOTS).sort()).toEqual(definitions.sort());
  });

  describe.each(POSITIONS)('$name', (position) => {
    const shape = position.shape ?? KEY_PREFIX;
    const using = (path: string) => shape(`{{${path}}}`);
    it.each(position.roots)('accepts paths from %s', (root) => {
      expect(validate(specText(position, using(`lower ${root === 'now' ? "(date now 'yyyy')" : `${root}.x`}`)))).toEqual([]);
      expect(validate(specText(position, using(root)))).toEqual([]);
    });

    it.each(EVERY_ROOT.filter((root) => !position.roots.includes(root)))('refuses %s, which its context does not hold', (root) => {
      const diagnostics = validate(specText(position, using(`${root}.x`)));

      expect(diagnostics.map((d) => d.code)).toEqual(['unknown-variable']);
      expect(diagnostics[0]!.message).toContain(`this template can use ${position.roots.join(', ')}`);
    });

    it('suggests the root a misspelt name was meant to be', () => {
      const [root] = position.roots;
      const typo = root!.slice(0, -1);

      const [diagnostic] = validate(specText(position, using(`${typo}.x`)));

      expect(diagnostic).toMatchObject({ code: 'unknown-variable', message: expect.stringContaining(`did you mean \`${root}\``) });
    });

    it.each([
      ['a reserved root', 'constructor.constructor'],
      ['a reserved segment', `${position.roots[0]}.__proto__.x`],
      ['a reserved segment in brackets', `${position.roots[0]}.[prototype]`],
      ['a reserved lookup', `lookup ${position.roots[0]} 'constructor'`],
    ])('refuses %s', (_what, path) => {
      expect(validate(specText(position, using(path))).map((d) => d.code)).toEqual(['reserved-field-name']);
    });

    it('checks paths inside blocks and helper arguments, and leaves those of each elements alone', () => {
      const [root] = position.roots;

      expect(validate(specText(position, shape(`{{#each ${root}.items as |item|}}{{item.id}}{{id}}{{@index}}{{/each}}`)))).toEqual([]);
      expect(validate(specText(position, shape(`{{#if ${root}.a}}{{upper (lower recrod.b)}}{{/if}}`))).map((d) => d.code)).toEqual(['unknown-variable']);
      expect(validate(specText(position, shape(`{{#each ${root}.items}}{{@root.recrod}}{{/each}}`))).map((d) => d.code)).toEqual(['unknown-variable']);
    });
  });
});

describe('template roots match what the runtime renders with', () => {
  const NOW = new Date('2026-11-27T10:00:00Z');

  async function run(value: Record<string, unknown>, payloads: string[]) {
    const store = new MemoryObjectStore();
    const handler = createHandler(resolveSpec(value), { ports: { objects: store }, files: NO_FILES, write: () => {}, clock: () => NOW });
    const summary = await handler.invoke(kinesisEvent('orders', payloads.map((text) => Buffer.from(text))));
    return { counts: summary.counts, keys: [...store.objects.keys()] };
  }

  const base = {
    version: 1,
    name: 'demo',
    sources: { orders: { type: 'kinesis', stream: 'orders' } },
  };

  it('renders record, meta and now in an s3 sink key and a template step', async () => {
    const template = `{{record.id}}-{{meta.source}}-{{date now 'yyyy'}}`;
    const value = {
      ...base,
      transforms: { clean: { inputs: ['orders'], steps: [{ template: { label: template } }] } },
      sinks: { out: { type: 's3', inputs: ['clean'], bucket: 'out', key: `k/${template}/{{record.label}}/` } },
    };

    const { counts, keys } = await run(value, ['{"id":"a"}']);

    expect(counts).toMatchObject({ records_in: 1, written: 1 });
    expect(keys).toEqual([expect.stringMatching(/^out\/k\/a-orders-2026\/a-orders-2026\//)]);
  });

  it('renders stage, meta and now in a dead-letter prefix', async () => {
    const value = {
      ...base,
      dead_letter: { bucket: 'errors', prefix: `dl/{{stage}}/{{meta.source}}/{{date now 'yyyy'}}/` },
      sinks: { out: { type: 's3', inputs: ['orders'], bucket: 'out', key: 'k/' } },
    };

    const { counts, keys } = await run(value, ['{not json']);

    expect(counts).toMatchObject({ records_in: 1, dead_lettered: 1 });
    expect(keys).toEqual([expect.stringMatching(/^errors\/dl\/decode\/orders\/2026\//)]);
  });

  it('does not give a dead-letter prefix the record, which is why validate refuses it there', async () => {
    const value = {
      ...base,
      dead_letter: { bucket: 'errors', prefix: 'dl/{{record.id}}/' },
      sinks: { out: { type: 's3', inputs: ['orders'], bucket: 'out', key: 'k/' } },
    };

    // The record cannot be set aside, so the whole batch fails and is retried.
    await expect(run(value, ['{"id": "a", "broken"'])).rejects.toThrow(InvocationFailedError);
  });
});
