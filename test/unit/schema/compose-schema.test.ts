import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  SCHEMAS_DIR,
  SCHEMA_FILE,
  SchemaCompositionError,
  TYPES_FILE,
  composeSchema,
  generateTypes,
  renderSchema,
  walkSchema,
} from '../../../scripts/compose-schema.ts';

const run = promisify(execFile);

/** A scratch copy of schemas/ that a test may break. */
async function copyOfSchemas(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'ingest-schemas-'));
  scratch.push(directory);
  await cp(SCHEMAS_DIR, directory, { recursive: true });
  return directory;
}

async function editJson(file: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  await writeFile(file, JSON.stringify(json, null, 2));
}

async function compositionProblems(schemasDir: string): Promise<readonly string[]> {
  try {
    await composeSchema(schemasDir);
  } catch (error) {
    if (error instanceof SchemaCompositionError) return error.problems;
    throw error;
  }
  return [];
}

const scratch: string[] = [];
afterEach(async () => {
  await Promise.all(scratch.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

describe('compose-schema drift', () => {
  it('the committed ingest.schema.json is exactly what the fragments compose to', async () => {
    const composed = renderSchema(await composeSchema());

    expect(await readFile(SCHEMA_FILE, 'utf8')).toBe(composed);
  });

  it('the committed engine/spec/spec-types.ts is exactly what the composed schema generates', async () => {
    const generated = await generateTypes(await composeSchema());

    expect(await readFile(TYPES_FILE, 'utf8')).toBe(generated);
  });

  it('a fragment edited without recomposing no longer matches the committed file', async () => {
    const schemasDir = await copyOfSchemas();
    await editJson(path.join(schemasDir, 'sinks', 's3.json'), (fragment) => {
      fragment.description = 'Edited without running npm run schema:compose.';
    });

    const composed = renderSchema(await composeSchema(schemasDir));

    expect(composed).not.toBe(await readFile(SCHEMA_FILE, 'utf8'));
  });

  it('the script in --check mode exits 0 while the committed files are up to date', async () => {
    const { stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/compose-schema.ts', '--check'], {
      cwd: REPO_ROOT,
    });

    expect(stderr).toBe('');
  }, 60_000);
});

describe('compose-schema output', () => {
  it('is deterministic: composing twice gives the same text', async () => {
    const first = renderSchema(await composeSchema());
    const second = renderSchema(await composeSchema());

    expect(second).toBe(first);
  });

  it('is one draft 2020-12 document whose $refs are all local', async () => {
    const schema = await composeSchema();
    const refs: string[] = [];
    walkSchema(schema, (node) => {
      if (typeof node.$ref === 'string') refs.push(node.$ref);
    });

    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter((ref) => !ref.startsWith('#/$defs/'))).toEqual([]);
  });

  it('names each fragment def after its path: file root as dir.file, inner defs as dir.file.def', async () => {
    const defs = (await composeSchema()).$defs as Record<string, { title?: string }>;

    expect(defs['sources.s3']?.title).toBe('S3Source');
    expect(defs['sinks.redshift.connection']?.title).toBe('RedshiftConnection');
    expect(defs['defs.batch.source_batch']?.title).toBe('SourceBatch');
    expect(defs['source']?.title).toBe('Source');
  });

  it('every $ref resolves to a def of the composed document', async () => {
    const schema = await composeSchema();
    const defs = schema.$defs as Record<string, unknown>;
    const dangling: string[] = [];
    walkSchema(schema, (node) => {
      const ref = node.$ref;
      if (typeof ref === 'string' && !(ref.slice('#/$defs/'.length) in defs)) dangling.push(ref);
    });

    expect(dangling).toEqual([]);
  });
});

describe('compose-schema errors', () => {
  it('reports a $ref to a def that does not exist, naming the fragment', async () => {
    const schemasDir = await copyOfSchemas();
    await editJson(path.join(schemasDir, 'sources', 's3.json'), (fragment) => {
      (fragment.properties as Record<string, unknown>).batch = { $ref: '../defs/batch.json#/$defs/no_such_batch' };
    });

    const problems = await compositionProblems(schemasDir);

    expect(problems).toEqual([
      'sources/s3.json: $ref "../defs/batch.json#/$defs/no_such_batch" points at nothing (defs/batch.json#/$defs/no_such_batch)',
    ]);
  });

  it('reports a fragment that nothing references', async () => {
    const schemasDir = await copyOfSchemas();
    await writeFile(
      path.join(schemasDir, 'sinks', 'kafka.json'),
      JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'KafkaSink', type: 'object' }),
    );

    const problems = await compositionProblems(schemasDir);

    expect(problems).toEqual(['sinks/kafka.json is not referenced from spec.json']);
  });

  it('rejects a $ref pointer deeper than one $defs entry', async () => {
    const schemasDir = await copyOfSchemas();
    await editJson(path.join(schemasDir, 'sources', 's3.json'), (fragment) => {
      (fragment.properties as Record<string, unknown>).batch = {
        $ref: '../defs/batch.json#/$defs/source_batch/properties/max_records',
      };
    });

    const problems = await compositionProblems(schemasDir);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/unsupported \$ref/);
  });
});
