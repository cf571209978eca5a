import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import { packagedSpec } from '../../generator/package-function.ts';
import type { Sink, Spec } from '../../engine/spec/spec-types.ts';

// The packaged function's cold start (engine/lambda.ts) with the ports of a deployed stack: it
// reads the spec from INGEST_SPEC_PATH and the environment, and must refuse to start, naming the
// variable to set, rather than stage files that never load or drop notifications.

const directory = mkdtempSync(join(tmpdir(), 'ingest-lambda-'));
const VARIABLES = ['INGEST_SPEC_PATH', 'INGEST_LEDGER_TABLE', 'INGEST_NOTIFICATION_TOPIC', 'INGEST_DEAD_LETTER_BUCKET', 'INGEST_PARAM_DATABASE_URL'];
const saved = new Map(VARIABLES.map((name) => [name, process.env[name]]));

afterEach(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  vi.resetModules();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let written = 0;
/** Starts the function on a packaged spec with `environment`; resolves to the error it refused to start with, if any. */
async function coldStart(spec: Spec, environment: Record<string, string>): Promise<Error | undefined> {
  const path = join(directory, `spec-${++written}.json`);
  writeFileSync(path, JSON.stringify(packagedSpec(applyDefaults(spec))));
  process.env.INGEST_SPEC_PATH = path;
  for (const name of VARIABLES.slice(1)) delete process.env[name];
  Object.assign(process.env, environment);
  try {
    await import('../../engine/lambda.ts');
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

const REDSHIFT: Sink = { type: 'redshift', inputs: ['orders'], connection: { workgroup: 'analytics', database: 'dev' }, table: 'public.orders', columns: ['id'], staging: { bucket: 'staging' } };
const S3: Sink = { type: 's3', inputs: ['orders'], bucket: 'out', key: 'orders/' };

function specWith(sinks: Record<string, Sink>, extra: Partial<Spec> = {}): Spec {
  return { version: 1, name: 'orders', dead_letter: { bucket: 'errors' }, sources: { orders: { type: 'kinesis', stream: 'orders' } }, sinks, ...extra };
}

describe('the packaged function at cold start', () => {
  it('refuses to start with a redshift sink and no ledger table, naming INGEST_LEDGER_TABLE', async () => {
    const error = await coldStart(specWith({ warehouse: REDSHIFT }), {});

    expect(error?.name).toBe('StartupError');
    expect(error?.message).toMatch(/^ingest: the function cannot start: sink warehouse loads in batches .* INGEST_LEDGER_TABLE .* is not set$/);
  });

  it('refuses to start with notifications and no topic, naming INGEST_NOTIFICATION_TOPIC', async () => {
    const error = await coldStart(specWith({ out: S3 }, { notifications: { create: true, on: ['dead_letter'] } }), {});

    expect(error?.name).toBe('StartupError');
    expect(error?.message).toMatch(/^ingest: the function cannot start: .*INGEST_NOTIFICATION_TOPIC/);
  });

  it('refuses to start on a postgres url parameter that is not a URL, without printing it', async () => {
    const postgres: Sink = { type: 'postgres', inputs: ['orders'], connection: { url: '${param.database_url}' }, table: 'orders', columns: ['id'], staging: { bucket: 'staging' } };
    const spec = specWith({ db: postgres }, { parameters: { database_url: { type: 'string', secret: true } } });

    const error = await coldStart(spec, { INGEST_LEDGER_TABLE: 'ledger', INGEST_PARAM_DATABASE_URL: 'loader:hunter2@db.internal/app' });

    expect(error?.name).toBe('StartupError');
    expect(error?.message).toMatch(/^ingest: the function cannot start: sink db: connection url must start with postgres:\/\//);
    expect(error?.message).not.toMatch(/hunter2|loader/);
  });

  it('starts with notifications whose topic the stack passes in INGEST_NOTIFICATION_TOPIC', async () => {
    const error = await coldStart(specWith({ out: S3 }, { notifications: { create: true, on: ['dead_letter'] } }), { INGEST_NOTIFICATION_TOPIC: 'arn:aws:sns:us-east-1:123456789012:orders' });

    expect(error).toBeUndefined();
  });
});
