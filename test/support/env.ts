// What integration tests need to reach the servers that global-setup.ts starts
// once per run. One moto and one PostgreSQL serve every test file, and test
// files run in parallel: give every bucket, table, stream and schema a unique
// name rather than relying on a clean server.
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { inject } from 'vitest';
import { ENDPOINT_VARIABLES } from './provided-endpoints.ts';

/** Settings that point an AWS SDK v3 client at moto; see {@link awsClientConfig}. */
export interface AwsTestClientConfig {
  readonly region: string;
  readonly endpoint: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** S3 only: bucket in the path, since moto cannot serve `bucket.127.0.0.1`. */
  readonly forcePathStyle: boolean;
  /** HTTP/1.1: Kinesis defaults to HTTP/2, which fails against moto. */
  readonly requestHandler: NodeHttpHandler;
}

/** moto_server's base URL. Throws when the global setup did not run. */
export function motoEndpoint(): string {
  return endpoint('ingestMotoUrl', ENDPOINT_VARIABLES.motoUrl);
}

/**
 * Fresh client settings for any SDK v3 client (`new S3Client(awsClientConfig())`):
 * us-east-1, dummy credentials, moto's endpoint, path-style S3, HTTP/1.1.
 * Each call makes a new request handler, so destroying one client leaves others alone.
 */
export function awsClientConfig(): AwsTestClientConfig {
  return {
    region: 'us-east-1',
    endpoint: motoEndpoint(),
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    forcePathStyle: true,
    requestHandler: new NodeHttpHandler(),
  };
}

/**
 * Deletes every resource in moto (`POST /moto-api/reset`). Other test files
 * running at the same time lose theirs too, so only call it from a test file
 * that runs alone. Throws when moto does not answer 200.
 */
export async function resetMoto(): Promise<void> {
  const response = await fetch(`${motoEndpoint()}/moto-api/reset`, { method: 'POST' });
  if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status} ${await response.text()}`);
}

/**
 * Connection string for the throwaway PostgreSQL 15 cluster: user `postgres`,
 * database `postgres`, no password. Throws when the global setup did not run.
 */
export function pgConnectionString(): string {
  return endpoint('ingestPgUrl', ENDPOINT_VARIABLES.pgUrl);
}

function endpoint(key: 'ingestMotoUrl' | 'ingestPgUrl', variable: string): string {
  const value = providedValue(key) ?? process.env[variable];
  if (value === undefined || value === '') {
    throw new Error(`${variable} is not set: run tests through vitest, whose global setup `
      + '(test/support/global-setup.ts) starts moto and PostgreSQL');
  }
  return value;
}

function providedValue(key: 'ingestMotoUrl' | 'ingestPgUrl'): string | undefined {
  try {
    return inject(key);
  } catch {
    // Not inside a vitest worker.
    return undefined;
  }
}
