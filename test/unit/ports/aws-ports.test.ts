import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { SNSClient } from '@aws-sdk/client-sns';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { LEDGER_TABLE_VARIABLE, NOTIFICATION_TOPIC_VARIABLE } from '../../../engine/function-environment.ts';
import { PortConfigurationError, buildPorts } from '../../../engine/ports/aws-ports.ts';
import type { AwsClients } from '../../../engine/ports/aws-ports.ts';
import type { PostgresPool } from '../../../engine/ports/postgres-warehouse.ts';
import { applyDefaults } from '../../../engine/spec/resolve.ts';
import type { ResolvedSpec } from '../../../engine/spec/resolved-spec.ts';
import type { Sink, Spec } from '../../../engine/spec/spec-types.ts';

// Requests never leave the process: a middleware records each command's input and answers it
// the way the service would for this purpose, so the tests see what the ports would send.

interface Sent {
  command: string;
  input: Record<string, unknown>;
}

function recording<C extends DynamoDBClient | RedshiftDataClient | SNSClient>(client: C, output: Record<string, unknown>): { client: C; sent: Sent[] } {
  const sent: Sent[] = [];
  // One client type's stack stands for all three: the middlewares touch only `input` and the command name.
  const stack = client.middlewareStack as unknown as DynamoDBClient['middlewareStack'];
  stack.add(
    () => async (args) => {
      sent.push({ command: '', input: args.input as unknown as Record<string, unknown> });
      return { output: { $metadata: {}, ...output } as never, response: {} };
    },
    { step: 'initialize', name: 'recordAndAnswer' },
  );
  stack.add((next, context) => async (args) => {
    const result = await next(args);
    sent.at(-1)!.command = context.commandName ?? '';
    return result;
  }, { step: 'initialize', name: 'nameCommand', priority: 'high' });
  return { client, sent };
}

const CLIENT_CONFIG = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };

function spec(sinks: Record<string, Sink>, extra: Partial<Spec> = {}): ResolvedSpec {
  return applyDefaults({ version: 1, name: 'orders', sources: { orders: { type: 'kinesis', stream: 'orders' } }, sinks, ...extra });
}

const REDSHIFT_WORKGROUP: Sink = {
  type: 'redshift', inputs: ['orders'], connection: { workgroup: 'analytics', database: 'prod', secret_arn: 'arn:aws:secretsmanager:us-east-1:1:secret:rs' },
  table: 'public.orders', columns: ['id'], staging: { bucket: 'staging' },
};
const REDSHIFT_CLUSTER: Sink = {
  type: 'redshift', inputs: ['orders'], connection: { cluster: 'main', db_user: 'loader', database: 'dev' },
  table: 'public.orders', columns: ['id'], staging: { bucket: 'staging' },
};
const S3_SINK: Sink = { type: 's3', inputs: ['orders'], bucket: 'out', key: 'orders/' };

function clients(): { given: Partial<AwsClients>; dynamodb: Sent[]; redshift: Sent[]; sns: Sent[] } {
  const dynamodb = recording(new DynamoDBClient(CLIENT_CONFIG), {});
  const redshift = recording(new RedshiftDataClient(CLIENT_CONFIG), { Id: 'statement-1' });
  const sns = recording(new SNSClient(CLIENT_CONFIG), { MessageId: 'm-1' });
  return { given: { dynamodb: dynamodb.client, redshiftData: redshift.client, sns: sns.client }, dynamodb: dynamodb.sent, redshift: redshift.sent, sns: sns.sent };
}

describe('buildPorts', () => {
  it('refuses a spec with a redshift sink and no ledger table, naming INGEST_LEDGER_TABLE', () => {
    const build = () => buildPorts(spec({ warehouse: REDSHIFT_WORKGROUP }), {});

    expect(build).toThrow(PortConfigurationError);
    expect(build).toThrow(/sink warehouse .*state\.table.*INGEST_LEDGER_TABLE/);
  });

  it('refuses a spec with a postgres sink and no ledger table', () => {
    const postgres: Sink = { type: 'postgres', inputs: ['orders'], connection: { url: 'postgres://u:p@db:5432/app' }, table: 'orders', columns: ['id'], staging: { bucket: 'staging' } };

    expect(() => buildPorts(spec({ db: postgres }), {})).toThrow(/sink db .*INGEST_LEDGER_TABLE/);
  });

  it('builds neither a ledger nor warehouses nor a notifier for a spec that needs none', () => {
    const ports = buildPorts(spec({ out: S3_SINK }), {});

    expect(ports.objects).toBeDefined();
    expect(ports.ledger).toBeUndefined();
    expect(ports.warehouse).toBeUndefined();
    expect(ports.notifier).toBeUndefined();
  });

  it('keeps the ledger in the table INGEST_LEDGER_TABLE names', async () => {
    const { given, dynamodb } = clients();
    const ports = buildPorts(spec({ warehouse: REDSHIFT_WORKGROUP }), { [LEDGER_TABLE_VARIABLE]: 'orders-ledger' }, { clients: given });

    await ports.ledger!.openBatch('orders/warehouse');

    expect(dynamodb).toEqual([expect.objectContaining({ command: 'GetItemCommand', input: expect.objectContaining({ TableName: 'orders-ledger' }) })]);
  });

  it('prefers the spec state.table to the environment', async () => {
    const { given, dynamodb } = clients();
    const ports = buildPorts(spec({ warehouse: REDSHIFT_WORKGROUP }, { state: { table: 'shared-ledger' } }), { [LEDGER_TABLE_VARIABLE]: 'orders-ledger' }, { clients: given });

    await ports.ledger!.batches('orders/warehouse');

    expect(dynamodb[0]?.input).toMatchObject({ TableName: 'shared-ledger' });
  });

  it('runs a workgroup sink statements in its workgroup and database with its secret', async () => {
    const { given, redshift } = clients();
    const resolved = spec({ warehouse: REDSHIFT_WORKGROUP });
    const ports = buildPorts(resolved, { [LEDGER_TABLE_VARIABLE]: 'ledger' }, { clients: given });

    await ports.warehouse!('warehouse', resolved.sinks.warehouse as never).execute('SELECT 1');

    expect(redshift[0]).toEqual({
      command: 'ExecuteStatementCommand',
      input: { WorkgroupName: 'analytics', Database: 'prod', SecretArn: 'arn:aws:secretsmanager:us-east-1:1:secret:rs', Sql: 'SELECT 1' },
    });
  });

  it('runs a cluster sink statements as its db_user in its cluster', async () => {
    const { given, redshift } = clients();
    const resolved = spec({ warehouse: REDSHIFT_CLUSTER });
    const ports = buildPorts(resolved, { [LEDGER_TABLE_VARIABLE]: 'ledger' }, { clients: given });

    await ports.warehouse!('warehouse', resolved.sinks.warehouse as never).executeTransaction(['SELECT 1', 'SELECT 2']);

    expect(redshift[0]).toEqual({ command: 'BatchExecuteStatementCommand', input: { ClusterIdentifier: 'main', DbUser: 'loader', Database: 'dev', Sqls: ['SELECT 1', 'SELECT 2'] } });
  });

  it('opens a postgres sink pool from its connection url', () => {
    const pools: pg.PoolConfig[] = [];
    const postgres: Sink = { type: 'postgres', inputs: ['orders'], connection: { url: 'postgresql://loader:s3cret@db.internal:5432/app' }, table: 'orders', columns: ['id'], staging: { bucket: 'staging' } };
    const resolved = spec({ db: postgres });
    const ports = buildPorts(resolved, { [LEDGER_TABLE_VARIABLE]: 'ledger' }, { postgresPool: (config) => (pools.push(config), {} as PostgresPool) });

    const warehouse = ports.warehouse!('db', resolved.sinks.db as never);

    expect(warehouse.dialect).toBe('postgres');
    expect(pools).toEqual([expect.objectContaining({ connectionString: 'postgresql://loader:s3cret@db.internal:5432/app' })]);
  });

  it.each([
    ['not a URL', 'loader:s3cret@db.internal/app'],
    ['another scheme', 'mysql://loader:s3cret@db.internal/app'],
  ])('refuses a postgres url that is %s without repeating its password', (_, url) => {
    const postgres: Sink = { type: 'postgres', inputs: ['orders'], connection: { url }, table: 'orders', columns: ['id'], staging: { bucket: 'staging' } };
    const resolved = spec({ db: postgres });

    let error: unknown;
    try {
      buildPorts(resolved, { [LEDGER_TABLE_VARIABLE]: 'ledger' });
    } catch (caught) {
      error = caught;
    }

    expect(error).toBeInstanceOf(PortConfigurationError);
    expect((error as Error).message).toMatch(/^sink db: connection url/);
    expect((error as Error).message).not.toMatch(/s3cret|loader|mysql/);
  });

  it('publishes notifications to the declared topic', async () => {
    const { given, sns } = clients();
    const ports = buildPorts(spec({ out: S3_SINK }, { notifications: { topic: 'arn:aws:sns:us-east-1:1:loads', on: ['load_failed'] } }), {}, { clients: given });

    await ports.notifier!.publish('orders', { event: 'load_failed', component: 'warehouse', subject: 'failed', detail: {} });

    expect(sns[0]).toMatchObject({ command: 'PublishCommand', input: { TopicArn: 'arn:aws:sns:us-east-1:1:loads', Subject: 'failed' } });
  });

  it('publishes to the topic INGEST_NOTIFICATION_TOPIC names when the stack creates it', async () => {
    const { given, sns } = clients();
    const ports = buildPorts(spec({ out: S3_SINK }, { notifications: { create: true, on: ['dead_letter'] } }), { [NOTIFICATION_TOPIC_VARIABLE]: 'arn:aws:sns:us-east-1:1:created' }, { clients: given });

    await ports.notifier!.publish('orders', { event: 'dead_letter', component: 'out', subject: 'dead letters', detail: {} });

    expect(sns[0]?.input).toMatchObject({ TopicArn: 'arn:aws:sns:us-east-1:1:created' });
  });

  it('refuses declared notifications without a topic, naming INGEST_NOTIFICATION_TOPIC', () => {
    const build = () => buildPorts(spec({ out: S3_SINK }, { notifications: { create: true, on: ['dead_letter'] } }), {});

    expect(build).toThrow(PortConfigurationError);
    expect(build).toThrow(/INGEST_NOTIFICATION_TOPIC/);
  });
});
