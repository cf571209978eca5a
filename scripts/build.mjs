// Builds the `ingest` binary: dist/cli.js, which runs the CLI bundle dist/ingest-<hash>.cjs from the
// V8 code cache built beside it. Lambda bundles are built per spec by `ingest package`
// (generator/function-bundle.ts).
// Runs from `prepare`, so `npm ci` leaves it ready.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { compileSpecValidators } from './compile-spec-validators.mjs';
import { yamlEnvPlugin } from './yaml-env-plugin.mjs';

// First: the CLI bundles the spec schema's validators as code instead of compiling the schema.
await compileSpecValidators();

// The names of bundles and their caches carry a hash of their content: remove the last build's,
// or they pile up (and the chunks of builds before 0059).
for (const name of await readdir('dist').catch(() => [])) {
  if (name.startsWith('cli-') || name.startsWith('ingest-') || name === 'cli.js.map') await rm(join('dist', name));
}

// One CommonJS bundle, packages included and tree-shaken: resolving and reading them file by file
// (date-fns alone is 300 files) was most of a command's start (docs/decisions/0053-fast-cli-start.md).
// CommonJS rather than ES module chunks, because only a script can be compiled from V8's code
// cache on Node 20 (docs/decisions/0059-cli-code-cache.md). Modules that a command reaches by
// `import()` are still evaluated only when it runs, so `ingest validate` does not load the AWS SDK.
const { outputFiles } = await build({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  entryPoints: { ingest: 'cli/ingest.ts' },
  outdir: 'dist',
  entryNames: '[name]-[hash]',
  outExtension: { '.js': '.cjs' },
  write: false,
  // esbuild runs its own native binary; PGlite reads its WebAssembly and data files beside its
  // module. The AWS SDK loads only in commands that reach AWS, whose calls take longer than its
  // loading: bundling it would double the build's time for them.
  external: ['esbuild', '@electric-sql/pglite', '@aws-sdk/*', '@smithy/*'],
  // A script has no module loader for `import()`: the external packages that commands import
  // dynamically load through `require`, as CommonJS (each ships a CommonJS build).
  supported: { 'dynamic-import': false },
  sourcemap: 'linked',
  // Strict, as the ES modules it is made of are. Modules name the repository's files relative to
  // their own URL (`new URL('../package.json', import.meta.url)` in cli/main.ts), which becomes
  // the bundle's: dist/ is one level below the repository, as cli/ is.
  banner: { js: '"use strict";\nconst importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': 'importMetaUrl' },
  plugins: [yamlEnvPlugin],
});
await mkdir('dist', { recursive: true });
await Promise.all(outputFiles.map((file) => writeFile(file.path, file.contents)));
const bundle = basename(outputFiles.find((file) => file.path.endsWith('.cjs')).path);

await build({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  entryPoints: { cli: 'cli/launcher.ts' },
  outdir: 'dist',
  define: { INGEST_BUNDLE: JSON.stringify(bundle) },
  banner: { js: '#!/usr/bin/env node' },
});
await chmod('dist/cli.js', 0o755);

// The code cache: what V8 compiled while the binary ran a one-record local `ingest run`, which
// validates its spec on the way, so `validate`, `test` and `run` start from compiled code.
const workdir = await mkdtemp(join(tmpdir(), 'ingest-build-'));
try {
  const [order] = (await readFile('examples/data/orders.jsonl', 'utf8')).split('\n');
  await writeFile(join(workdir, 'order.jsonl'), `${order}\n`);
  execFileSync(process.execPath, [resolve('dist/cli.js'), 'run', resolve('examples/kinesis-archive.yaml'), '--local', '--input', 'orders=order.jsonl'], {
    cwd: workdir,
    env: { ...process.env, INGEST_WRITE_CODE_CACHE: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
} finally {
  await rm(workdir, { recursive: true, force: true });
}
