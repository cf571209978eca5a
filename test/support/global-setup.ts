import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { CleanupRegistry } from './cleanup-registry.ts';
import { startMoto } from './moto.ts';
import { startPostgres } from './postgres.ts';
import { ENDPOINT_VARIABLES } from './provided-endpoints.ts';

/**
 * vitest global setup: builds the binary the CLI tests run (`dist/cli.js`, so
 * they never run a stale build) while it starts one moto_server and one
 * throwaway PostgreSQL 15 cluster, in parallel, for the whole run, and publishes their addresses with
 * `project.provide()` and as environment variables (see env.ts for the helpers
 * tests use). Returns the teardown, which stops both and deletes their files.
 *
 * Throws, failing the run, when a server binary is missing or a server does not
 * start; whatever did start is stopped first. Tests are never skipped.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const startedAt = performance.now();
  const cleanup = new CleanupRegistry();
  const [moto, postgres, build] = await Promise.allSettled([startMoto(cleanup), startPostgres(cleanup), buildBinary()]);
  if (moto.status === 'rejected' || postgres.status === 'rejected' || build.status === 'rejected') {
    await cleanup.stopAll();
    const reasons = [moto, postgres, build]
      .filter((result) => result.status === 'rejected')
      .map((result) => (result.reason instanceof Error ? result.reason.message : String(result.reason)));
    throw new Error(`the test run could not be prepared\n\n${reasons.join('\n\n')}`);
  }

  project.provide('ingestMotoUrl', moto.value.url);
  project.provide('ingestPgUrl', postgres.value.connectionString);
  process.env[ENDPOINT_VARIABLES.motoUrl] = moto.value.url;
  process.env[ENDPOINT_VARIABLES.pgUrl] = postgres.value.connectionString;
  const elapsed = Math.round(performance.now() - startedAt);
  console.log(`test servers ready in ${elapsed} ms: moto ${moto.value.url}, ${postgres.value.connectionString}`);

  return async function teardown() {
    await cleanup.stopAll();
    delete process.env[ENDPOINT_VARIABLES.motoUrl];
    delete process.env[ENDPOINT_VARIABLES.pgUrl];
  };
}

/** `npm run build`: the CLI bundle and the spec validators it includes. */
async function buildBinary(): Promise<void> {
  await promisify(execFile)(process.execPath, [join(import.meta.dirname, '../../scripts/build.mjs')], { cwd: join(import.meta.dirname, '../..') });
}
