import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import type { Diagnostic } from '../engine/spec/diagnostic.ts';
import { SINK_PLUGINS } from '../engine/plugin/registry.ts';
import { REQUIRE_BANNER, bundleFunction } from './function-bundle.ts';
import type { FunctionBundle } from './function-bundle.ts';
import { diagnosticAt } from '../engine/spec/load.ts';
import { readSpec } from '../engine/spec/read-spec.ts';
import { applyDefaults } from '../engine/spec/resolve.ts';
import { recordSchemaModule } from '../engine/transforms/validate/record-schema.ts';
import type { PackagedSpec } from '../engine/lambda.ts';
import type { ResolvedSpec } from '../engine/spec/resolved-spec.ts';
import { parameterReferences } from '../engine/spec/resolved-spec.ts';
import { prepareTemplates, specTemplateSources } from '../engine/template/prepare-templates.ts';

/** A spec that does not validate, or has a sink the runtime cannot run yet, cannot be packaged; the diagnostics say why. */
export class InvalidSpecError extends Error {
  override name = 'InvalidSpecError';
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`the spec is invalid (${diagnostics.length} error${diagnostics.length === 1 ? '' : 's'})`);
  }
}

/** Ingest's own install, where the compiled validators find ajv's runtime helpers. */
const NODE_MODULES = fileURLToPath(new URL('../node_modules', import.meta.url));

export interface PackagedFunction {
  directory: string;
  /** Files written, with their sizes in bytes. */
  files: { name: string; bytes: number }[];
  /** The spec as packaged: validated, defaults applied, parameters left as references. */
  spec: ResolvedSpec;
  /** What `index.mjs` holds. */
  bundle: FunctionBundle;
}

/**
 * Writes the function package of a spec to `outDir`: the runtime bundled for the spec (`index.mjs`,
 * handler `index.handler`; only the plugins and modules the spec uses, see `bundleFunction`), `spec.json` (validated, defaults applied, parameters left as
 * references for `INGEST_PARAM_<name>` at run time) and, when the spec has `validate` steps,
 * `validators.mjs` with their JSON Schemas compiled to code, so the function compiles nothing at
 * cold start. Diagnostics name the spec as `shownPath`. Throws `InvalidSpecError` for a spec with
 * errors or with a sink whose type has no runtime yet (`SINK_PLUGINS`), and `UsageError` when the
 * spec cannot be read.
 */
export async function packageFunction(specPath: string, outDir: string, shownPath: string = specPath): Promise<PackagedFunction> {
  const read = readSpec(specPath, shownPath);
  if (!read.ok) throw new InvalidSpecError(read.errors);
  const { spec: loaded, files } = read;
  // The function would fail at cold start: refuse now, where the spec can say where.
  const withoutRuntime = Object.entries(loaded.value.sinks as Record<string, { type: string }>)
    .filter(([, sink]) => !SINK_PLUGINS.has(sink.type))
    .map(([id, sink]) => diagnosticAt(loaded, ['sinks', id, 'type'], 'sink-not-runnable', `sink \`${id}\` is of type ${sink.type}, which this version of the runtime cannot run yet; it validates and runs in \`ingest test\` and \`ingest run --local\`, but cannot be packaged`));
  if (withoutRuntime.length > 0) throw new InvalidSpecError(withoutRuntime);

  const spec = applyDefaults(loaded.value);
  await mkdir(outDir, { recursive: true });
  const packaged = packagedSpec(spec);
  const bundle = await bundleFunction(packaged, join(outDir, 'index.mjs'));
  await writeFile(join(outDir, 'spec.json'), JSON.stringify(packaged));

  const schemaPaths = [...new Set(Object.values(spec.transforms ?? {}).flatMap((transform) => transform.steps.flatMap((step) => ('validate' in step ? [step.validate.schema] : []))))];
  const written = ['index.mjs', 'spec.json'];
  if (schemaPaths.length > 0) {
    await bundleValidators(schemaPaths.map((path) => ({ path, text: files.read(path)! })), join(outDir, 'validators.mjs'));
    written.push('validators.mjs');
  }
  return {
    directory: resolve(outDir),
    files: await Promise.all(written.map(async (name) => ({ name, bytes: (await stat(join(outDir, name))).size }))),
    spec,
    bundle,
  };
}

/**
 * What `spec.json` holds: the resolved spec and its templates prepared for the handler. A template
 * that names a parameter is compiled with the parameter's value in it, a source known only at run
 * time: it is left to Handlebars.
 */
export function packagedSpec(spec: ResolvedSpec): PackagedSpec {
  const sources = specTemplateSources(spec);
  const prepared = prepareTemplates(sources.filter((source) => parameterReferences(source).size === 0));
  return { spec, templates: { ...prepared, needsHandlebars: prepared.needsHandlebars || sources.some((source) => parameterReferences(source).size > 0) } };
}

/** The zip of a function package, named after its content. */
export interface FunctionZip {
  /** Absolute path of the zip, inside the package directory. */
  path: string;
  /** `<sha256>.zip`: the same package always has the same name, a different one never does. */
  name: string;
  /** Hex SHA-256 of the zip's bytes. */
  sha256: string;
  bytes: number;
}

/** Matches the names `zipPackage` gives, so that a re-package replaces its earlier zip and nothing else. */
const ZIP_NAME = /^[0-9a-f]{64}\.zip$/;

/**
 * Zips the files of `packaged` into `<sha256>.zip` in its directory, and removes zips of earlier
 * packages there. The zip depends on the files' bytes alone: entries in name order, one fixed
 * timestamp, Unix mode 0644 (Lambda must read them; nothing in it is executed as a program), so
 * packaging the same spec twice, anywhere, gives the same bytes and so the same name, which is
 * what lets an upload be skipped and a stack update be empty.
 */
export async function zipPackage(packaged: Pick<PackagedFunction, 'directory' | 'files'>): Promise<FunctionZip> {
  const entries: Record<string, [Uint8Array, { mtime: Date; os: number; attrs: number; level: 9 }]> = Object.create(null);
  for (const name of packaged.files.map((file) => file.name).sort()) {
    entries[name] = [await readFile(join(packaged.directory, name)), { mtime: zipEpoch(), os: UNIX, attrs: REGULAR_FILE_0644 << 16, level: 9 }];
  }
  const bytes = zipSync(entries);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const name = `${sha256}.zip`;
  for (const stale of (await readdir(packaged.directory)).filter((file) => ZIP_NAME.test(file) && file !== name)) await rm(join(packaged.directory, stale));
  await writeFile(join(packaged.directory, name), bytes);
  return { path: join(packaged.directory, name), name, sha256, bytes: bytes.length };
}

/** "Made by" Unix (APPNOTE 4.4.2.2), so that unzip and Lambda read the mode below. */
const UNIX = 3;
/** S_IFREG | 0644. */
const REGULAR_FILE_0644 = 0o100644;

/**
 * 1980-01-01 00:00, the earliest time a zip can hold. Built from local fields because zip stores
 * local time and fflate reads the local fields: the stored bytes are the same in every time zone.
 */
function zipEpoch(): Date {
  return new Date(1980, 0, 1, 0, 0, 0);
}

/** Compiles each schema to standalone code and bundles them, with the ajv runtime helpers they import, into one module. */
async function bundleValidators(schemas: { path: string; text: string }[], outfile: string): Promise<void> {
  const { build } = await import('esbuild');
  const work = await mkdtemp(join(tmpdir(), 'ingest-validators-'));
  try {
    const imports: string[] = [];
    const entries: string[] = [];
    for (const [index, { path, text }] of schemas.entries()) {
      await writeFile(join(work, `schema-${index}.mjs`), recordSchemaModule(text));
      imports.push(`import validator${index} from './schema-${index}.mjs';`);
      entries.push(`  ${JSON.stringify(path)}: validator${index},`);
    }
    await writeFile(join(work, 'entry.mjs'), `${imports.join('\n')}\nexport const validators = {\n${entries.join('\n')}\n};\n`);
    await build({
      entryPoints: [join(work, 'entry.mjs')],
      outfile,
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      // The generated code imports ajv's runtime helpers; resolve them from Ingest's own install.
      nodePaths: [NODE_MODULES],
      banner: { js: REQUIRE_BANNER },
      logLevel: 'error',
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
