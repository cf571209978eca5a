// A handler wired as in Lambda (engine/lambda.ts) but pointed at moto, built from a spec that
// first passes `ingest validate`, so the tests never run a spec a user could not deploy.
import type { S3Client } from '@aws-sdk/client-s3';
import { createHandler } from '../../../engine/handler.ts';
import type { HandlerOptions, IngestHandler } from '../../../engine/handler.ts';
import { S3ObjectStore } from '../../../engine/ports/s3-object-store.ts';
import type { SpecFiles } from '../../../engine/plugin/checks.ts';
import { loadSpec } from '../../../engine/spec/load.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import type { ResolvedSpec } from '../../../engine/spec/resolved-spec.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';
import { reconciling } from '../../support/reconciliation.ts';

export const NO_FILES: SpecFiles = { exists: () => false, read: () => undefined };

/** Validates `value` as `ingest validate` would and resolves it. Throws listing the errors of an invalid spec. */
export function validSpec(value: Record<string, unknown>): ResolvedSpec {
  const loaded = loadSpec('spec.yaml', Buffer.from(JSON.stringify(value)));
  const diagnostics = loaded.ok ? validateLoadedSpec(loaded.spec, NO_FILES) : loaded.diagnostics;
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 'error');
  if (errors.length > 0) throw new Error(`test spec is invalid:\n${errors.map((error) => `  ${error.instancePath} ${error.code}: ${error.message}`).join('\n')}`);
  return resolveSpec(value);
}

/**
 * The handler of `spec` with an `S3ObjectStore` on `client` (a client configured with
 * `awsClientConfig()`), its log lines kept in `lines` instead of printed. Every invocation through
 * it asserts that counts, component counters and metrics reconcile.
 */
export function motoHandler(spec: ResolvedSpec, client: S3Client, options: Partial<HandlerOptions> = {}): { handler: IngestHandler; lines: string[] } {
  const lines: string[] = [];
  const handler = createHandler(spec, {
    ports: { objects: new S3ObjectStore(client) },
    files: NO_FILES,
    write: (line) => lines.push(line),
    ...options,
  });
  return { handler: reconciling(handler, lines), lines };
}
