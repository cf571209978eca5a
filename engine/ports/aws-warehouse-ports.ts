/**
 * The warehouse ports of a deployed function (redshift and postgres sinks), apart from
 * `aws-ports.ts` so that the bundle of a spec without such sinks leaves out the Redshift Data and
 * Secrets Manager clients and `pg` (docs/decisions/0049-per-spec-bundles.md). Design:
 * docs/decisions/0038-deployed-ports.md.
 */
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import type { SinkConfig } from '../spec/resolved-spec.ts';
import { PortConfigurationError } from './port-configuration-error.ts';
import { PostgresWarehouse } from './postgres-warehouse.ts';
import type { PostgresPool } from './postgres-warehouse.ts';
import { RedshiftDataWarehouse } from './redshift-data-warehouse.ts';
import type { RedshiftTarget } from './redshift-data-warehouse.ts';
import type { Warehouse } from './warehouse.ts';

/** Connections a postgres sink's pool opens at most: a load transaction and the short statements around it. */
export const POSTGRES_POOL_SIZE = 3;

/** The clients of the warehouse ports; each is made from the environment on first use unless given. */
export interface WarehouseClients {
  redshiftData?: RedshiftDataClient;
  secretsManager?: SecretsManagerClient;
}

/**
 * The warehouse port of a deployed function's redshift and postgres sinks: a `RedshiftDataWarehouse`
 * on the sink's workgroup or cluster, or a `PostgresWarehouse` on a pool made by `makePool` (a
 * `pg.Pool` of at most {@link POSTGRES_POOL_SIZE} connections by default). One Redshift Data and one
 * Secrets Manager client serve every sink.
 */
export function warehousePort(given: WarehouseClients, makePool: (config: pg.PoolConfig) => PostgresPool = defaultPool): (sinkId: string, config: SinkConfig<'redshift' | 'postgres'>) => Warehouse {
  let redshiftData = given.redshiftData;
  let secretsManager = given.secretsManager;
  const clients: WarehouseClientsOnDemand = {
    redshiftData: () => (redshiftData ??= new RedshiftDataClient({})),
    secretsManager: () => (secretsManager ??= new SecretsManagerClient({})),
  };
  return (sinkId, config) => {
    if (config.type === 'redshift') return new RedshiftDataWarehouse(clients.redshiftData(), redshiftTarget(sinkId, config));
    return new PostgresWarehouse(postgresPool(sinkId, config, clients, makePool));
  };
}

interface WarehouseClientsOnDemand {
  redshiftData(): RedshiftDataClient;
  secretsManager(): SecretsManagerClient;
}

/** Where a redshift sink's statements run: its workgroup, or its cluster with `db_user`; `secret_arn` when given. */
export function redshiftTarget(sinkId: string, config: SinkConfig<'redshift'>): RedshiftTarget {
  const { workgroup, cluster, db_user: dbUser, database, secret_arn: secretArn } = config.connection;
  const secret = secretArn ? { secretArn } : {};
  if (workgroup) return { workgroup, database, ...secret };
  if (cluster) return { cluster, database, ...(dbUser ? { dbUser } : {}), ...secret };
  throw new PortConfigurationError(`sink ${sinkId}: connection names neither a workgroup nor a cluster`);
}

/**
 * The pool of a postgres sink: from its connection `url` (a secret parameter, substituted), or from
 * its `secret_arn`, an RDS-format secret read on the first connection.
 */
function postgresPool(sinkId: string, config: SinkConfig<'postgres'>, clients: WarehouseClientsOnDemand, makePool: (config: pg.PoolConfig) => PostgresPool): PostgresPool {
  const { url, secret_arn: secretArn } = config.connection;
  if (url) {
    checkPostgresUrl(sinkId, url);
    return makePool({ connectionString: url, max: POSTGRES_POOL_SIZE });
  }
  if (!secretArn) throw new PortConfigurationError(`sink ${sinkId}: connection names neither a url nor a secret_arn`);
  let pool: Promise<PostgresPool> | undefined;
  return {
    connect() {
      pool ??= readPostgresSecret(sinkId, secretArn, clients.secretsManager()).then(makePool).catch((error: unknown) => {
        // A failed read is tried again by the next connection, not remembered for the life of the function.
        pool = undefined;
        throw error;
      });
      return pool.then((ready) => ready.connect());
    },
  };
}

/** Refuses a url that is not `postgres://` or `postgresql://`; the message never repeats the url, which holds a password. */
export function checkPostgresUrl(sinkId: string, url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new PortConfigurationError(`sink ${sinkId}: connection url is not a URL (expected postgres://user:password@host:port/database)`);
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    // Not even the scheme is repeated: in `user:password@host` without one, the user reads as the scheme.
    throw new PortConfigurationError(`sink ${sinkId}: connection url must start with postgres:// or postgresql:// (postgres://user:password@host:port/database)`);
  }
}

/** The TLS settings of each `sslmode` a secret may give. `require` encrypts without checking the server's certificate. */
const SSL_MODES: Readonly<Record<string, pg.PoolConfig['ssl']>> = Object.assign(Object.create(null) as Record<string, pg.PoolConfig['ssl']>, {
  disable: false,
  require: { rejectUnauthorized: false },
  'verify-full': { rejectUnauthorized: true },
});

/**
 * Reads an RDS-format secret (`host`, `port`, `username`, `password`, `dbname`; optional `sslmode`:
 * `disable`, `require` (the default) or `verify-full`) into pool settings. Rejects with a message
 * naming the secret and the missing fields, never their values.
 */
export async function readPostgresSecret(sinkId: string, secretArn: string, client: SecretsManagerClient): Promise<pg.PoolConfig> {
  const response = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  let secret: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(response.SecretString ?? '');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
    secret = parsed as Record<string, unknown>;
  } catch {
    throw new PortConfigurationError(`sink ${sinkId}: secret ${secretArn} is not a JSON object in the RDS format {host, port, username, password, dbname}`);
  }
  const text = (name: string) => (typeof secret[name] === 'string' && secret[name] !== '' ? (secret[name] as string) : undefined);
  // No password is a database that trusts the network or uses IAM tokens: not an error here.
  const missing = ['host', 'username'].filter((name) => text(name) === undefined);
  if (missing.length > 0) throw new PortConfigurationError(`sink ${sinkId}: secret ${secretArn} lacks ${missing.join(', ')} (the RDS format: {host, port, username, password, dbname})`);
  const port = secret.port === undefined ? 5432 : Number(secret.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new PortConfigurationError(`sink ${sinkId}: secret ${secretArn} has a port that is not a TCP port number`);
  const sslmode = text('sslmode') ?? 'require';
  if (!Object.hasOwn(SSL_MODES, sslmode)) throw new PortConfigurationError(`sink ${sinkId}: secret ${secretArn} has sslmode ${JSON.stringify(sslmode)}; expected disable, require or verify-full`);
  return {
    host: text('host')!,
    port,
    user: text('username')!,
    ...(text('password') === undefined ? {} : { password: text('password') }),
    database: text('dbname') ?? 'postgres',
    ssl: SSL_MODES[sslmode],
    max: POSTGRES_POOL_SIZE,
  };
}

function defaultPool(config: pg.PoolConfig): PostgresPool {
  const pool = new pg.Pool(config);
  // An idle connection that breaks (a database restart) emits 'error' on the pool; unhandled, it
  // would end the process. The pool drops that connection and the next load opens a new one.
  pool.on('error', () => {});
  return pool;
}
