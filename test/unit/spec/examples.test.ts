import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import schema from '../../../ingest.schema.json' with { type: 'json' };
import { loadSpec } from '../../../engine/spec/load.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import { filesBeside, validateLoadedSpec } from '../../../engine/spec/validate.ts';
import { runSpecTests } from '../../../engine/testing/run-spec-tests.ts';

// The specs in examples/ are documentation that must stay true: each validates cleanly, carries
// its own tests and passes them, and together they show every source type, sink type and step kind.

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const SCHEMA_HEADER = '# yaml-language-server: $schema=../ingest.schema.json';

const exampleNames = readdirSync(EXAMPLES).filter((name) => name.endsWith('.yaml')).sort();

interface Spec {
  sources: Record<string, { type: string }>;
  transforms?: Record<string, { steps: Record<string, unknown>[] }>;
  sinks: Record<string, { type: string }>;
  tests?: unknown[];
}

function loadExample(name: string): Spec {
  const loaded = loadSpec(name, readFileSync(join(EXAMPLES, name)));
  if (!loaded.ok) throw new Error(`${name} does not load: ${loaded.diagnostics[0]?.message}`);
  return loaded.spec.value as unknown as Spec;
}

type Definitions = Record<string, { properties?: Record<string, { const?: string; enum?: string[] }> }>;

/** The `type` values of the branches of a `source` or `sink` oneOf in the composed schema. */
function typesOf(section: 'source' | 'sink'): string[] {
  const definitions = schema.$defs as unknown as Definitions & Record<'source' | 'sink', { oneOf: { $ref: string }[] }>;
  return definitions[section].oneOf.flatMap(({ $ref }) => {
    const type = definitions[$ref.replace('#/$defs/', '')]?.properties?.type;
    return type?.const !== undefined ? [type.const] : (type?.enum ?? []);
  });
}

describe('examples', () => {
  it('are exactly the documented pipelines', () => {
    expect(exampleNames).toEqual([
      'cloudwatch-logs.yaml',
      'dynamodb-to-opensearch.yaml',
      'kinesis-archive.yaml',
      'kinesis-fanout.yaml',
      's3-csv-validated.yaml',
      's3-events-to-redshift.yaml',
    ]);
  });

  it.each(exampleNames)('%s starts with the schema header for editors', (name) => {
    const firstLine = readFileSync(join(EXAMPLES, name), 'utf8').split('\n')[0];

    expect(firstLine).toBe(SCHEMA_HEADER);
  });

  it.each(exampleNames)('%s validates with no error and no warning', (name) => {
    const path = join(EXAMPLES, name);
    const loaded = loadSpec(name, readFileSync(path));

    const diagnostics = loaded.ok ? validateLoadedSpec(loaded.spec, filesBeside(path)) : loaded.diagnostics;

    expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.severity} ${d.code}: ${d.message}`)).toEqual([]);
  });

  it.each(exampleNames)('%s has test cases', (name) => {
    expect(loadExample(name).tests?.length ?? 0).toBeGreaterThan(0);
  });

  it.each(exampleNames)('%s passes its own tests', async (name) => {
    const path = join(EXAMPLES, name);
    const loaded = loadSpec(name, readFileSync(path));
    if (!loaded.ok) throw new Error(`${name} does not load`);

    const results = await runSpecTests(loaded.spec, resolveSpec(loaded.spec.value), filesBeside(path), path);

    expect(results.filter((result) => result.failures.length > 0)).toEqual([]);
  });

  describe('together', () => {
    const specs = exampleNames.map(loadExample);

    it('use every source type', () => {
      const used = new Set(specs.flatMap((spec) => Object.values(spec.sources).map((source) => source.type)));

      expect(typesOf('source').filter((type) => !used.has(type))).toEqual([]);
    });

    it('use every sink type', () => {
      const used = new Set(specs.flatMap((spec) => Object.values(spec.sinks).map((sink) => sink.type)));

      expect(typesOf('sink').filter((type) => !used.has(type))).toEqual([]);
    });

    it('use every step kind', () => {
      const kinds = Object.keys(schema.$defs.step.properties);
      const used = new Set(
        specs.flatMap((spec) => Object.values(spec.transforms ?? {}).flatMap((transform) => transform.steps.flatMap((step) => Object.keys(step)))),
      );

      expect(kinds.filter((kind) => !used.has(kind))).toEqual([]);
    });

    it('read the schema the coverage is measured against', () => {
      expect(typesOf('source')).toEqual(expect.arrayContaining(['s3', 'kinesis', 'dynamodb']));
      expect(typesOf('sink')).toEqual(expect.arrayContaining(['s3', 'redshift', 'elasticsearch', 'opensearch', 'postgres']));
      expect(Object.keys(schema.$defs.step.properties)).toHaveLength(14);
    });
  });
});
