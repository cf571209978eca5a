// Builds the `ingest` binary (dist/cli.js). Lambda bundles are built per spec by `ingest package`
// (generator/function-bundle.ts).
// Runs from `prepare`, so `npm ci` leaves it ready.
import { build } from 'esbuild';
import { chmod, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { compileSpecValidators } from './compile-spec-validators.mjs';

// First: the CLI bundles the spec schema's validators as code instead of compiling the schema.
await compileSpecValidators();


// Chunk names carry a hash of their content: remove the last build's, or they pile up.
for (const name of await readdir('dist').catch(() => [])) {
  if (name.startsWith('cli-')) await rm(join('dist', name));
}

// Split at the commands' dynamic imports: a command's packages (the AWS SDK for `run`, esbuild for
// `package`) load only when it runs, so `ingest validate` does not pay for them. The packages are
// bundled into the chunks, tree-shaken: resolving and reading them file by file (date-fns alone is
// 300 files) was most of a command's start (docs/decisions/0053-fast-cli-start.md).
await build({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  entryPoints: { cli: 'cli/ingest.ts' },
  outdir: 'dist',
  splitting: true,
  // Chunks sit beside cli.js: modules find the repository's files relative to their own URL.
  chunkNames: 'cli-[name]-[hash]',
  // esbuild runs its own native binary; PGlite reads its WebAssembly and data files beside its
  // module. The AWS SDK loads only in commands that reach AWS, whose calls take longer than its
  // loading: bundling it would double the build's time for them.
  external: ['esbuild', '@electric-sql/pglite', '@aws-sdk/*', '@smithy/*'],
  sourcemap: 'linked',
  // The CommonJS packages inside the chunks `require` Node's modules.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
await chmod('dist/cli.js', 0o755);
