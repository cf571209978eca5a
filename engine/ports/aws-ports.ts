/**
 * The ports of a deployed function, built once per cold start from the spec (parameters already
 * substituted) and the function's environment: S3 for objects, the DynamoDB ledger and a warehouse
 * per redshift or postgres sink, and SNS for notifications. Design:
 * docs/decisions/0031-exactly-once-warehouse-loads.md §6 and
 * docs/decisions/0038-deployed-ports.md. The ledger, warehouse and notifier ports are built in
 * modules of their own, which the bundle of a spec that needs none of them leaves out with their
 * SDK clients (docs/decisions/0049-per-spec-bundles.md).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';
import type pg from 'pg';
import { LEDGER_TABLE_VARIABLE, NOTIFICATION_TOPIC_VARIABLE } from '../function-environment.ts';
import type { Ports } from '../plugin/types.ts';
import type { ResolvedSpec } from '../spec/resolved-spec.ts';
import { ledgerPort } from './aws-ledger-port.ts';
import { notifierPort } from './aws-notifier-port.ts';
import { checkPostgresUrl, warehousePort } from './aws-warehouse-ports.ts';
import { PortConfigurationError } from './port-configuration-error.ts';
import type { PostgresPool } from './postgres-warehouse.ts';
import { S3ObjectStore } from './s3-object-store.ts';

export { PortConfigurationError };

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
  /** Makes the `pg` pool of a postgres sink [a `pg.Pool` of at most `POSTGRES_POOL_SIZE` connections]. */
  postgresPool?: (config: pg.PoolConfig) => PostgresPool;
}

const WAREHOUSE_SINK_TYPES: ReadonlySet<string> = new Set(['redshift', 'postgres']);

/**
 * Builds the ports of a deployed function. The ledger, for redshift and postgres sinks, is a
 * `DynamoDbLedger` on `state.table`, else on the table `INGEST_LEDGER_TABLE` names; the notifier
 * an `SnsNotifier` on `notifications.topic`, else on the topic `INGEST_NOTIFICATION_TOPIC` names,
 * when the spec declares `notifications`. Throws `PortConfigurationError`, naming the variable,
 * when a spec with a redshift or postgres sink has no ledger table or a spec with notifications no
 * topic: running anyway would stage files that never load, or drop every notification. Nothing is
 * read from the network here: a postgres sink's secret is read on its first connection (once,
 * again only after a failed read). Clients are made only for the ports the spec needs.
 */
export function buildPorts(spec: ResolvedSpec, environment: Environment, options: AwsPortsOptions = {}): Ports {
  const given = options.clients ?? {};
  // A custom endpoint (moto, LocalStack) serves buckets by path, not by virtual host.
  const s3 = given.s3 ?? new S3Client({ forcePathStyle: Boolean(environment.AWS_ENDPOINT_URL || environment.AWS_ENDPOINT_URL_S3) });
  const ports: Ports = { objects: new S3ObjectStore(s3) };

  const batchingSinks = Object.entries(spec.sinks).filter(([, config]) => WAREHOUSE_SINK_TYPES.has(config.type)).map(([id]) => id);
  if (batchingSinks.length > 0) {
    const tableName = spec.state?.table || environment[LEDGER_TABLE_VARIABLE] || undefined;
    if (tableName === undefined) {
      throw new PortConfigurationError(`sink ${batchingSinks[0]} loads in batches tracked in a DynamoDB ledger, but the spec names no state.table and the environment variable ${LEDGER_TABLE_VARIABLE} (the table the stack creates) is not set`);
    }
    ports.ledger = ledgerPort(tableName, given.dynamodb);
    for (const [id, config] of Object.entries(spec.sinks)) {
      // Checked here, not when the sink is built, so that a bad url stops the cold start with the rest.
      if (config.type === 'postgres' && config.connection.url) checkPostgresUrl(id, config.connection.url);
    }
    ports.warehouse = warehousePort(given, options.postgresPool);
  }

  if (spec.notifications !== undefined) {
    const topic = spec.notifications.topic || environment[NOTIFICATION_TOPIC_VARIABLE] || undefined;
    if (topic === undefined) {
      throw new PortConfigurationError(`the spec declares notifications but names no notifications.topic, and the environment variable ${NOTIFICATION_TOPIC_VARIABLE} (the topic the stack creates) is not set`);
    }
    ports.notifier = notifierPort(topic, given.sns);
  }
  return ports;
}
