// Compiles ingest.schema.json into two standalone validator modules (Ajv's standalone code), so
// that no process compiles the spec schema at run time: compiling it took about a second of every
// `ingest validate` (docs/decisions/0048-spec-validators-compiled-at-build.md).
//
// - engine/spec/generated/validate-spec.js: the strict validator `ingest validate` reports from;
// - engine/spec/generated/apply-spec-defaults.js: the validator that inserts the schema's defaults.
//
// Run by scripts/build.mjs (so `npm ci` leaves them ready, before the CLI is bundled) and by
// `npm run schema:compose` whenever the schema changes. The files are not committed; each starts
// with the SHA-256 of the schema it was compiled from, which test/unit/spec/spec-validators.test.ts
// compares with the schema on disk.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';
import addFormats from 'ajv-formats';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'engine/spec/generated');

/** The options of each validator; `validate` must agree with the AJV_OPTIONS of scripts/compose-schema.ts. */
const VALIDATORS = {
  'validate-spec.js': { options: { allErrors: true, strict: true, discriminator: true, allowUnionTypes: true, verbose: true }, formats: true },
  // strict is off: Ajv ignores defaults under oneOf branches and says so in strict mode; allErrors
  // so that a problem early in the document does not stop defaults being applied after it.
  'apply-spec-defaults.js': { options: { useDefaults: true, allErrors: true, discriminator: true, allowUnionTypes: true, strict: false, validateFormats: false }, formats: false },
};

/** The first line of each generated file: which schema it was compiled from. */
export function schemaStamp(schemaText) {
  return `// ingest.schema.json sha256:${createHash('sha256').update(schemaText).digest('hex')}`;
}

/**
 * Ajv's standalone code reaches its runtime helpers (deep equality, formats) with `require`, which
 * ES modules lack: a module-local `require` resolves them from node_modules as CommonJS does, the
 * same under Node, tsx, vitest and the esbuild CLI bundle (whose packages stay external).
 */
function asEsModule(code) {
  return `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${code.replace(/^"use strict";/, '')}`;
}

export async function compileSpecValidators() {
  const schemaText = await readFile(join(ROOT, 'ingest.schema.json'), 'utf8');
  const schema = JSON.parse(schemaText);
  await mkdir(OUT, { recursive: true });
  for (const [file, { options, formats }] of Object.entries(VALIDATORS)) {
    const ajv = new Ajv2020({ ...options, code: { source: true, esm: true } });
    if (formats) addFormats.default(ajv);
    const code = standaloneCode.default(ajv, ajv.compile(schema));
    await writeFile(join(OUT, file), `${schemaStamp(schemaText)}\n${asEsModule(code)}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await compileSpecValidators();
