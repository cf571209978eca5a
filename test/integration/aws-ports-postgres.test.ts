import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { LEDGER_TABLE_VARIABLE } from '../../engine/function-environment.ts';
import { PortConfigurationError, buildPorts } from '../../engine/ports/aws-ports.ts';
import type { PostgresPool } from '../../engine/ports/postgres-warehouse.ts';
import { query } from '../../engine/ports/warehouse.ts';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import { awsClientConfig, pgConnectionString } from '../support/env.ts';

// A postgres sink whose connection is an RDS-format secret: the secret is read from moto's
// Secrets Manager once, and the warehouse runs statements on the test run's PostgreSQL.

describe('the ports of a postgres sink connected through a secret', () => {
  const secrets = new SecretsManagerClient(awsClientConfig());
  const reads: string[] = [];
  secrets.middlewareStack.add((next, context) => async (args) => {
    reads.push(context.commandName ?? '');
    return next(args);
  }, { step: 'initialize', name: 'countSecretReads' });
  const pools: { end(): Promise<void> }[] = [];

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  });

  async function secretOf(value: unknown): Promise<string> {
    const created = await secrets.send(new CreateSecretCommand({ Name: `ingest-db-${randomUUID().slice(0, 8)}`, SecretString: JSON.stringify(value) }));
    return created.ARN!;
  }

  function portsFor(secretArn: string) {
    const spec = applyDefaults({
      version: 1,
      name: 'orders',
      sources: { orders: { type: 'kinesis', stream: 'orders' } },
      sinks: { db: { type: 'postgres', inputs: ['orders'], connection: { secret_arn: secretArn }, table: 'orders', columns: ['id'], staging: { bucket: 'staging' } } },
    });
    const ports = buildPorts(spec, { [LEDGER_TABLE_VARIABLE]: 'ledger' }, {
      clients: { secretsManager: secrets },
      postgresPool: (config) => {
        const pool = new pg.Pool(config);
        pools.push(pool);
        return pool as PostgresPool;
      },
    });
    return ports.warehouse!('db', spec.sinks.db as never);
  }

  const deadline = () => Date.now() + 10_000;

  it('connects with the secret read once, whatever the number of statements', async () => {
    const url = new URL(pgConnectionString());
    const arn = await secretOf({ engine: 'postgres', host: url.hostname, port: Number(url.port), username: url.username, dbname: url.pathname.slice(1), sslmode: 'disable' });
    const warehouse = portsFor(arn);
    reads.length = 0;

    const first = await query(warehouse, 'SELECT current_database() AS database', undefined, { deadline: deadline() });
    const second = await query(warehouse, 'SELECT 2 AS two', undefined, { deadline: deadline() });

    expect(first.rows).toEqual([[url.pathname.slice(1)]]);
    expect(second.rows).toEqual([[2]]);
    expect(reads).toEqual(['GetSecretValueCommand']);
  });

  it('fails a statement with a message naming the missing fields of a secret, not its values', async () => {
    const arn = await secretOf({ port: 5432, password: 'never-printed', dbname: 'app' });
    const warehouse = portsFor(arn);

    const attempt = warehouse.execute('SELECT 1');

    await expect(attempt).rejects.toBeInstanceOf(PortConfigurationError);
    await expect(attempt).rejects.toThrow(/secret .* lacks host, username/);
    await expect(attempt).rejects.not.toThrow(/never-printed/);
  });

  it('reads the secret again on the next connection after a failed read', async () => {
    const url = new URL(pgConnectionString());
    const arn = await secretOf({ host: url.hostname, port: Number(url.port), username: url.username, dbname: url.pathname.slice(1), sslmode: 'disable' });
    const warehouse = portsFor(`${arn}-missing`);
    reads.length = 0;

    await expect(warehouse.execute('SELECT 1')).rejects.toThrow();
    await expect(warehouse.execute('SELECT 1')).rejects.toThrow();

    expect(reads).toEqual(['GetSecretValueCommand', 'GetSecretValueCommand']);
  });
});
