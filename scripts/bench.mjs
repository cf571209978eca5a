// Runs a benchmark script the way production code runs: bundled by esbuild with its packages and
// minified, as scripts/build.mjs builds the Lambda bundle, not through a development loader that
// adds its own per-function overhead. `--expose-gc` lets a benchmark collect garbage before each
// sample, so one side's garbage is not timed on the other's.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { yamlEnvPlugin } from './yaml-env-plugin.mjs';

const entry = process.argv[2];
if (!entry) {
  console.error('usage: node scripts/bench.mjs <benchmark.ts> [benchmark options]');
  process.exit(2);
}
const outfile = `dist/bench/${basename(entry).replace(/\.ts$/, '.mjs')}`;
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  minify: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // esbuild cannot be bundled: it runs its own binary, found from its package.
  external: ['esbuild'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [yamlEnvPlugin],
});
const { status } = spawnSync(process.execPath, ['--expose-gc', outfile, ...process.argv.slice(3)], { stdio: 'inherit' });
process.exit(status ?? 1);
