/**
 * The built `ingest` binary (`dist/cli.js`). It runs the CLI bundle (`dist/ingest-<hash>.cjs`, made
 * from cli/ingest.ts) with the code V8 compiled for it at build time, kept beside it in
 * `<bundle>.cache`: compiling the 3 MB bundle was most of a short command's time, and Node 20 has
 * no module compile cache (docs/decisions/0059-cli-code-cache.md).
 *
 * A missing cache, or one V8 rejects (another Node version, other V8 flags), only costs the
 * compilation: V8 then compiles the source as usual. The bundle's name carries the hash of its
 * content, so a rebuilt bundle never meets an older build's cache.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** The bundle's file name, set by scripts/build.mjs. */
declare const INGEST_BUNDLE: string;

const bundle = fileURLToPath(new URL(`./${INGEST_BUNDLE}`, import.meta.url));
const cache = `${bundle}.cache`;

let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cache);
} catch {
  // No cache: V8 compiles the bundle.
}

// The bundle runs as Node runs a CommonJS module: wrapped in a function of the module's variables.
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'utf8')}\n})`, { filename: bundle, ...(cachedData ? { cachedData } : {}) });

// The build runs one command with this set, and keeps what V8 compiled for it, lazily compiled
// functions included, as the cache: that is what makes the cache worth loading.
if (process.env.INGEST_WRITE_CODE_CACHE === '1') process.on('exit', () => writeFileSync(cache, script.createCachedData()));

const module = { exports: {} };
(script.runInThisContext() as (...variables: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
