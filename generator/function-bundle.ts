/**
 * The Lambda bundle of one spec (docs/decisions/0049-per-spec-bundles.md): `engine/lambda.ts`
 * bundled by esbuild, minified, with only what the spec uses. Two substitutions make it so:
 * - `engine/plugin/registry.ts` becomes a registry of the spec's own step kinds and sink types,
 *   imported from where `plugin-modules.ts` says each plugin lives;
 * - each module of `OPTIONAL_MODULES` that the spec does not need becomes a stand-in exporting
 *   the same names, each a function that throws if it is ever reached, so that what the module
 *   imports (pbf, an SDK client, pg, CEL...) stays out.
 * The same spec always gives the same bytes.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile, Plugin } from 'esbuild';
import { SINK_MODULES, STEP_MODULES } from '../engine/plugin/plugin-modules.ts';
import type { PluginModule } from '../engine/plugin/plugin-modules.ts';
import type { PackagedSpec } from '../engine/lambda.ts';
import type { ResolvedSpec } from '../engine/spec/resolved-spec.ts';
import type { StepKind } from '../engine/spec/spec-types.ts';

/** Gives an ESM bundle a `require`, for the CommonJS modules bundled into it. */
export const REQUIRE_BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** The repository's root: this module sits one directory below it, in the sources and in dist/. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const REGISTRY = 'engine/plugin/registry.ts';

/** A module the function needs only for some specs: what it is for (named when a stand-in is reached) and when it is needed. */
interface OptionalModule {
  module: string;
  purpose: string;
  needed(spec: ResolvedSpec, packaged: PackagedSpec): boolean;
}

const sourcesOf = (spec: ResolvedSpec) => Object.values(spec.sources);
const stepKindsOf = (spec: ResolvedSpec): Set<StepKind> => new Set(Object.values(spec.transforms ?? {}).flatMap((transform) => transform.steps.map((step) => Object.keys(step)[0] as StepKind)));
const hasWarehouseSink = (spec: ResolvedSpec) => Object.values(spec.sinks).some((sink) => sink.type === 'redshift' || sink.type === 'postgres');

/** The step kinds whose configuration holds CEL expressions; sinks hold one in `where` (as engine/spec/check.ts checks them). */
const EXPRESSION_STEPS: readonly StepKind[] = ['filter', 'set', 'dedupe'];

export const OPTIONAL_MODULES: readonly OptionalModule[] = [
  {
    module: 'engine/sources/kinesis/deaggregate.ts',
    purpose: 'KPL de-aggregation (`deaggregate: true` on a kinesis source)',
    needed: (spec) => sourcesOf(spec).some((source) => source.type === 'kinesis' && source.deaggregate),
  },
  { module: 'engine/sources/kinesis/decode-csv-row.ts', purpose: 'CSV kinesis records (`format: csv`)', needed: (spec) => sourcesOf(spec).some((source) => source.type === 'kinesis' && source.format === 'csv') },
  { module: 'engine/sources/dynamodb/unmarshall-image.ts', purpose: 'DynamoDB stream images (a dynamodb source)', needed: (spec) => sourcesOf(spec).some((source) => source.type === 'dynamodb') },
  {
    module: 'engine/staging/csv-format.ts',
    purpose: 'writing CSV objects (an s3 sink with `format: csv`, or a redshift or postgres sink)',
    needed: (spec) => hasWarehouseSink(spec) || Object.values(spec.sinks).some((sink) => sink.type === 's3' && sink.format === 'csv'),
  },
  { module: 'engine/sources/s3/read.ts', purpose: 'reading S3 objects (an s3 source)', needed: (spec) => sourcesOf(spec).some((source) => source.type === 's3') },
  { module: 'engine/ports/aws-ledger-port.ts', purpose: 'the ledger of redshift and postgres sinks', needed: hasWarehouseSink },
  { module: 'engine/ports/aws-warehouse-ports.ts', purpose: 'the warehouses of redshift and postgres sinks', needed: hasWarehouseSink },
  { module: 'engine/ports/aws-notifier-port.ts', purpose: 'notifications', needed: (spec) => spec.notifications !== undefined },
  {
    module: 'engine/expression/index.ts',
    purpose: 'CEL expressions (filter, set and dedupe steps, a sink `where`)',
    needed: (spec) => EXPRESSION_STEPS.some((kind) => stepKindsOf(spec).has(kind)) || Object.values(spec.sinks).some((sink) => sink.where !== undefined),
  },
  // Templates of the common forms render from the plans spec.json carries (usePreparedTemplates).
  { module: 'engine/template/handlebars-engine.ts', purpose: 'Handlebars (templates of forms that have no plan, or that name a parameter)', needed: (_spec, packaged) => packaged.templates.needsHandlebars },
  // The JSON Schemas of validate steps are compiled at package time, into validators.mjs.
  { module: 'engine/transforms/validate/record-schema.ts', purpose: 'compiling JSON Schemas at run time', needed: () => false },
];

/**
 * Packages that the AWS SDK clients import but that a function never reaches in Lambda
 * (docs/decisions/0058-smaller-cold-start.md), each with the names the SDK takes from it: every
 * bundle gets a stand-in for each, like a left-out optional module's.
 * - The default credential chain's links other than environment variables: shared config and
 *   credentials files, SSO, credential processes, web identity token files, container and instance
 *   metadata. The Lambda runtime gives a function its role's credentials in `AWS_ACCESS_KEY_ID`,
 *   `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, which the chain reads first; its other links,
 *   with the STS, SSO and sign-in clients they bring, are about 100 KiB.
 * - bowser, which only the SDK's browser user agent imports (a dynamic import, 34 KiB).
 */
export const LEFT_OUT_PACKAGES: readonly { packages: readonly string[]; names: readonly string[]; reason: string }[] = [
  {
    packages: ['@aws-sdk/credential-provider-ini', '@aws-sdk/credential-provider-sso', '@aws-sdk/credential-provider-process', '@aws-sdk/credential-provider-web-identity', '@aws-sdk/credential-provider-http', '@smithy/credential-provider-imds'],
    names: ['fromIni', 'fromSSO', 'fromProcess', 'fromTokenFile', 'fromHttp', 'ENV_CMDS_FULL_URI', 'ENV_CMDS_RELATIVE_URI', 'fromContainerMetadata', 'fromInstanceMetadata'],
    reason:
      'a Lambda function takes its AWS credentials from the environment variables the Lambda runtime sets (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), which are not set here (or AWS_PROFILE is): its package leaves out the other credential sources',
  },
  { packages: ['bowser'], names: ['parse'], reason: "a Lambda function runs on Node: its package leaves out the SDK's browser user agent" },
];

export interface FunctionBundle {
  /** esbuild's account of the bundle: which modules it holds, and how many bytes of each. */
  metafile: Metafile;
  /** The optional modules left out, as `OPTIONAL_MODULES` names them. */
  leftOut: string[];
}

/**
 * Bundles made in this process, by what they depend on (the registry and the stand-ins): packaging
 * many specs (deploy, tests) bundles each combination once.
 */
const bundles = new Map<string, Promise<{ code: Uint8Array; metafile: Metafile }>>();

/** Writes the Lambda bundle of a packaged spec (validated, defaults applied, templates prepared) to `outfile`. */
export async function bundleFunction(packaged: PackagedSpec, outfile: string): Promise<FunctionBundle> {
  const { spec } = packaged;
  const leftOut = OPTIONAL_MODULES.filter((optional) => !optional.needed(spec, packaged));
  const registry = registrySource(spec);
  const key = JSON.stringify([registry, leftOut.map((optional) => optional.module)]);
  let made = bundles.get(key);
  if (made === undefined) {
    made = build(registry, leftOut);
    bundles.set(key, made);
    made.catch(() => bundles.delete(key));
  }
  const { code, metafile } = await made;
  await writeFile(outfile, code);
  return { metafile, leftOut: leftOut.map((optional) => optional.module) };
}

async function build(registry: string, leftOut: readonly OptionalModule[]): Promise<{ code: Uint8Array; metafile: Metafile }> {
  const esbuild = await import('esbuild');
  const substitutes = new Map<string, string>([[join(ROOT, REGISTRY), registry]]);
  for (const [index, names] of (await Promise.all(leftOut.map((optional) => exportsOf(optional.module)))).entries()) {
    substitutes.set(join(ROOT, leftOut[index]!.module), standIn(leftOutModule(leftOut[index]!), names));
  }
  const { outputFiles, metafile } = await esbuild.build({
    entryPoints: [join(ROOT, 'engine/lambda.ts')],
    absWorkingDir: ROOT,
    outfile: 'index.mjs',
    write: false,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    metafile: true,
    banner: { js: REQUIRE_BANNER },
    plugins: [substitute(substitutes), leaveOutPackages()],
    logLevel: 'error',
  });
  return { code: outputFiles[0]!.contents, metafile };
}

/** `text` matched literally in a regular expression. */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Loads the given contents in place of the modules at those absolute paths. */
function substitute(contents: ReadonlyMap<string, string>): Plugin {
  return {
    name: 'ingest-spec-modules',
    setup(build) {
      build.onLoad({ filter: new RegExp(`^(${[...contents.keys()].map(escape).join('|')})$`) }, (args) => ({
        contents: contents.get(args.path)!,
        loader: 'ts',
        resolveDir: dirname(args.path),
      }));
    },
  };
}

/** Resolves the packages of each of `LEFT_OUT_PACKAGES` to one stand-in. */
function leaveOutPackages(): Plugin {
  const index = new Map(LEFT_OUT_PACKAGES.flatMap((left, at) => left.packages.map((name) => [name, String(at)] as const)));
  return {
    name: 'ingest-left-out-packages',
    setup(build) {
      build.onResolve({ filter: new RegExp(`^(${[...index.keys()].map(escape).join('|')})$`) }, (args) => ({ path: index.get(args.path)!, namespace: 'ingest-left-out' }));
      build.onLoad({ filter: /.*/, namespace: 'ingest-left-out' }, (args) => {
        const left = LEFT_OUT_PACKAGES[Number(args.path)]!;
        return { contents: standIn(`ingest: ${left.reason} (${left.packages.join(', ')})`, left.names), loader: 'js' };
      });
    },
  };
}

/** `registry.ts` for one spec: its step kinds and sink types, in the registry's order. */
function registrySource(spec: ResolvedSpec): string {
  const kinds = stepKindsOf(spec);
  const types = new Set(Object.values(spec.sinks).map((sink) => sink.type));
  const steps = Object.entries(STEP_MODULES).filter(([kind]) => kinds.has(kind as StepKind)).map(([, where]) => where);
  const sinks = Object.entries(SINK_MODULES).filter(([type]) => types.has(type as never)).map(([, where]) => where);
  const imports = [...steps, ...sinks].map(({ module, name }: PluginModule) => `import { ${name} } from ${JSON.stringify(join(ROOT, module))};`);
  const map = (plugins: PluginModule[], key: string) => `new Map([${plugins.map(({ name }) => `[${name}.${key}, ${name}]`).join(', ')}])`;
  return `${imports.join('\n')}\nexport const STEP_PLUGINS = ${map(steps, 'kind')};\nexport const SINK_PLUGINS = ${map(sinks, 'type')};\n`;
}

/** The names a module exports at run time (its types are gone once compiled), as esbuild reads them. */
async function exportsOf(module: string): Promise<string[]> {
  const { build } = await import('esbuild');
  const { metafile } = await build({ entryPoints: [join(ROOT, module)], absWorkingDir: ROOT, bundle: false, write: false, metafile: true, format: 'esm', outdir: 'out', logLevel: 'error' });
  return Object.values(metafile.outputs).flatMap((output) => output.exports).sort();
}

/** A module exporting `names`, each a function that throws `message`. */
function standIn(message: string, names: readonly string[]): string {
  return `function leftOut() { throw new Error(${JSON.stringify(message)}); }\nexport { ${names.map((name) => `leftOut as ${name}`).join(', ')} };\n`;
}

/** What the stand-in of a left-out optional module says: what the package left out, and why it cannot run another spec. */
function leftOutModule(optional: OptionalModule): string {
  return `ingest: this function was packaged without ${optional.purpose} (${optional.module}), which its spec does not use: it cannot run another spec; package the spec it runs again`;
}
