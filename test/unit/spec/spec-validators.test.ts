import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../engine/spec/load.ts';
import { specSchemaValidator } from '../../../engine/spec/validate.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ROOT = join(import.meta.dirname, '../../..');
const GENERATED = join(ROOT, 'engine/spec/generated');

describe('the spec validators compiled at build time', () => {
  it.each(['validate-spec.js', 'apply-spec-defaults.js'])('%s was compiled from the schema on disk', (file) => {
    const schema = readFileSync(join(ROOT, 'ingest.schema.json'));
    const stamp = readFileSync(join(GENERATED, file), 'utf8').split('\n', 1)[0];

    expect(stamp, 'the schema changed since the validators were compiled: run `npm run schema:compose` (or `npm run build`)')
      .toBe(`// ingest.schema.json sha256:${createHash('sha256').update(schema).digest('hex')}`);
  });

  it('reports exactly what Ajv compiling the schema at run time reports, for every example and every invalid spec', () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true, discriminator: true, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    const atRunTime = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'ingest.schema.json'), 'utf8')) as object);
    const built = specSchemaValidator();
    const files = [
      ...readdirSync(join(ROOT, 'examples')).filter((name) => name.endsWith('.yaml')).map((name) => join(ROOT, 'examples', name)),
      ...readdirSync(join(ROOT, 'test/fixtures/invalid')).filter((name) => name.endsWith('.yaml')).map((name) => join(ROOT, 'test/fixtures/invalid', name)),
    ];
    let compared = 0;

    for (const file of files) {
      const loaded = loadSpec(file, readFileSync(file));
      if (!loaded.ok) continue;
      const expected = atRunTime(loaded.spec.value);
      const errors = atRunTime.errors?.map(({ instancePath, keyword, message }) => ({ instancePath, keyword, message }));
      expect(built(loaded.spec.value), file).toBe(expected);
      expect(built.errors?.map(({ instancePath, keyword, message }) => ({ instancePath, keyword, message })), file).toEqual(errors);
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
  });
});
