/**
 * The names under which global-setup.ts publishes where the test servers
 * listen: keys for vitest's `inject()` and environment variables for anything
 * that is not a test (scripts started from a test, for example).
 */
export const ENDPOINT_VARIABLES = {
  motoUrl: 'INGEST_TEST_MOTO_URL',
  pgUrl: 'INGEST_TEST_PG_URL',
} as const;

declare module 'vitest' {
  export interface ProvidedContext {
    /** moto_server base URL, e.g. `http://127.0.0.1:41234`. */
    ingestMotoUrl: string;
    /** PostgreSQL connection string, e.g. `postgresql://postgres@127.0.0.1:5433/postgres`. */
    ingestPgUrl: string;
  }
}
