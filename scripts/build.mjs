// Builds the `ingest` binary into dist/. Runs from `prepare`, so `npm ci` leaves a working binary.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

await build({
  entryPoints: { cli: 'cli/ingest.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: 'linked',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
await chmod('dist/cli.js', 0o755);
