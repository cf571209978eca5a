/**
 * The ports of a deployed function, built once per cold start from the spec (parameters already
 * substituted) and the function's environment: S3 for objects, the DynamoDB ledger and a warehouse
 * per redshift or postgres sink, and SNS for notifications. Design:
 * docs/decisions/0031-exactly-once-warehouse-loads.md §6 and
 * docs/decisions/0038-deployed-ports.md.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import pg from 'pg';
import { LEDGER_TABLE_VARIABLE, NOTIFICATION_TOPIC_VARIABLE } from '../function-environment.ts';
import type { Ports } from '../plugin/types.ts';
import type { ResolvedSpec, SinkConfig } from '../spec/resolved-spec.ts';
import { DynamoDbLedger } from './dynamodb-ledger.ts';
import { PostgresWarehouse } from './postgres-warehouse.ts';
import type { PostgresPool } from './postgres-warehouse.ts';
import { RedshiftDataWarehouse } from './redshift-data-warehouse.ts';
import type { RedshiftTarget } from './redshift-data-warehouse.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { SnsNotifier } from './sns-notifier.ts';
import type { Warehouse } from './warehouse.ts';

/** The function's environment, as `process.env`. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The SDK clients the ports use; each is made from the environment (region, credentials, `AWS_ENDPOINT_URL`) unless given. */
export interface AwsClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  redshiftData: RedshiftDataClient;
  secretsManager: SecretsManagerClient;
  sns: SNSClient;
}

export interface AwsPortsOptions {
  /** Clients to use instead of default ones (tests point them at moto). */
  clients?: Partial<AwsClients>;
  /** Makes the `pg` pool of a postgres sink [a `pg.Pool` of at most {@link POSTGRES_POOL_SIZE} connections]. */
  postgresPool?: (config: pg.PoolConfig) => PostgresPool;
}

/** Connections a postgres sink's pool opens at most: a load transaction and the short statements around it. */
export const POSTGRES_POOL_SIZE = 3;

/**
 * The settings of the deployment are incomplete or malformed: the message names the variable or
 * the spec field to fix, and never holds a secret (a URL with a password, a secret's value).
 */
export class PortConfigurationError extends Error {
  override name = 'PortConfigurationError';
}

const WAREHOUSE_SINK_TYPES: ReadonlySet<string> = new Set(['redshift', 'postgres']);

/**
 * Builds the ports of a deployed function. The ledger is a `DynamoDbLedger` on `state.table`, else
 * on the table `INGEST_LEDGER_TABLE` names; the notifier an `SnsNotifier` on `notifications.topic`,
 * else on the topic `INGEST_NOTIFICATION_TOPIC` names, when the spec declares `notifications`.
 * Throws `PortConfigurationError`, naming the variable, when a spec with a redshift or postgres
 * sink has no ledger table or a spec with notifications no topic: running anyway would stage files
 * that never load, or drop every notification. Nothing is read from the network here: a postgres
 * sink's secret is read on its first connection (once, again only after a failed read).
 */
export function buildPorts(spec: ResolvedSpec, environment: Environment, options: AwsPortsOptions = {}): Ports {
  const clients = lazyClients(environment, options.clients ?? {});
  const ports: Ports = { objects: new S3ObjectStore(clients.s3()) };

  const tableName = spec.state?.table || environment[LEDGER_TABLE_VARIABLE] || undefined;
  const batchingSinks = Object.entries(spec.sinks).filter(([, config]) => WAREHOUSE_SINK_TYPES.has(config.type)).map(([id]) => id);
  if (tableName !== undefined) ports.ledger = new DynamoDbLedger(clients.dynamodb(), { tableName });
  else if (batchingSinks.length > 0) {
    throw new PortConfigurationError(`sink ${batchingSinks[0]} loads in batches tracked in a DynamoDB ledger, but the spec names no state.table and the environment variable ${LEDGER_TABLE_VARIABLE} (the table the stack creates) is not set`);
  }
  for (const [id, config] of Object.entries(spec.sinks)) {
    // Checked here, not when the sink is built, so that a bad url stops the cold start with the rest.
    if (config.type === 'postgres' && config.connection.url) checkPostgresUrl(id, config.connection.url);
  }
  if (batchingSinks.length > 0) {
    const makePool = options.postgresPool ?? defaultPool;
    ports.warehouse = (sinkId, config) => warehouseOf(sinkId, config, clients, makePool);
  }

  if (spec.notifications !== undefined) {
    const topic = spec.notifications.topic || environment[NOTIFICATION_TOPIC_VARIABLE] || undefined;
    if (topic === undefined) {
      throw new PortConfigurationError(`the spec declares notifications but names no notifications.topic, and the environment variable ${NOTIFICATION_TOPIC_VARIABLE} (the topic the stack creates) is not set`);
    }
    ports.notifier = new SnsNotifier(clients.sns(), topic);
  }
  return ports;
}

function warehouseOf(sinkId: string, config: SinkConfig<'redshift' | 'postgres'>, clients: LazyClients, makePool: (config: pg.PoolConfig) => PostgresPool): Warehouse {
  if (config.type === 'redshift') return new RedshiftDataWarehouse(clients.redshiftData(), redshiftTarget(sinkId, config));
  return new PostgresWarehouse(postgresPool(sinkId, config, clients, makePool));
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
function postgresPool(sinkId: string, config: SinkConfig<'postgres'>, clients: LazyClients, makePool: (config: pg.PoolConfig) => PostgresPool): PostgresPool {
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
function checkPostgresUrl(sinkId: string, url: string): void {
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

interface LazyClients {
  s3(): S3Client;
  dynamodb(): DynamoDBClient;
  redshiftData(): RedshiftDataClient;
  secretsManager(): SecretsManagerClient;
  sns(): SNSClient;
}

/** One client per service, made on first use so that a function builds only those its spec needs. */
function lazyClients(environment: Environment, given: Partial<AwsClients>): LazyClients {
  const made: Partial<AwsClients> = { ...given };
  const once = <K extends keyof AwsClients>(name: K, make: () => AwsClients[K]) => () => (made[name] ??= make()) as AwsClients[K];
  return {
    // A custom endpoint (moto, LocalStack) serves buckets by path, not by virtual host.
    s3: once('s3', () => new S3Client({ forcePathStyle: Boolean(environment.AWS_ENDPOINT_URL || environment.AWS_ENDPOINT_URL_S3) })),
    dynamodb: once('dynamodb', () => new DynamoDBClient({})),
    redshiftData: once('redshiftData', () => new RedshiftDataClient({})),
    secretsManager: once('secretsManager', () => new SecretsManagerClient({})),
    sns: once('sns', () => new SNSClient({})),
  };
}
