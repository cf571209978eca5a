import {
  BatchExecuteStatementCommand, DescribeStatementCommand, ExecuteStatementCommand, GetStatementResultCommand,
} from '@aws-sdk/client-redshift-data';
import type { Field, RedshiftDataClient, SubStatementData } from '@aws-sdk/client-redshift-data';
import type { ResultSet, ResultValue, SqlParameters, StatementDescription, StatementStatus, SubmitOptions, SubStatement, Warehouse } from './warehouse.ts';

/** Which Redshift database statements run in, and as whom; as in a redshift sink's `connection`. */
export type RedshiftTarget =
  | { workgroup: string; database: string; secretArn?: string }
  | { cluster: string; database: string; dbUser?: string; secretArn?: string };

/**
 * The `Warehouse` of a redshift sink: the Redshift Data API through an SDK v3 client the caller
 * configures (region, credentials, `endpoint`). Serverless workgroups and provisioned clusters
 * (with `dbUser` for temporary credentials, or `secretArn`). Transactions go through
 * `BatchExecuteStatement`, which runs its statements as one transaction; `describe` maps
 * `DescribeStatement`, and answers `undefined` for an id the Data API no longer knows
 * (`ResourceNotFoundException`). Every other error of the API rejects.
 */
export class RedshiftDataWarehouse implements Warehouse {
  readonly dialect = 'redshift' as const;
  readonly copiesFromClient = false;

  constructor(
    private readonly client: RedshiftDataClient,
    private readonly target: RedshiftTarget,
  ) {}

  async execute(sql: string, parameters?: SqlParameters, options: SubmitOptions = {}): Promise<string> {
    const entries = Object.entries(parameters ?? {});
    const response = await this.client.send(new ExecuteStatementCommand({
      ...this.connection(),
      ...submitOptions(options),
      Sql: sql,
      ...(entries.length > 0 ? { Parameters: entries.map(([name, value]) => ({ name, value })) } : {}),
    }));
    return required(response.Id, 'ExecuteStatement');
  }

  async executeTransaction(sqls: readonly string[], options: SubmitOptions = {}): Promise<string> {
    if (sqls.length === 0) throw new RangeError('a transaction needs at least one statement');
    const response = await this.client.send(new BatchExecuteStatementCommand({ ...this.connection(), ...submitOptions(options), Sqls: [...sqls] }));
    return required(response.Id, 'BatchExecuteStatement');
  }

  async describe(id: string): Promise<StatementDescription | undefined> {
    let response;
    try {
      response = await this.client.send(new DescribeStatementCommand({ Id: id }));
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
      throw error;
    }
    const status = statusOf(response.Status);
    const description: StatementDescription = {
      id,
      status,
      statements: response.SubStatements && response.SubStatements.length > 0
        ? response.SubStatements.map(subStatementOf)
        : [{ id, status, resultRows: response.ResultRows ?? -1, hasResultSet: response.HasResultSet ?? false, ...(response.Error ? { error: response.Error } : {}) }],
    };
    if (response.Error) description.error = response.Error;
    return description;
  }

  async results(id: string): Promise<ResultSet> {
    const result: ResultSet = { columns: [], rows: [] };
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(new GetStatementResultCommand({ Id: id, ...(nextToken ? { NextToken: nextToken } : {}) }));
      if (result.columns.length === 0) result.columns = (page.ColumnMetadata ?? []).map((column) => column.name ?? column.label ?? '');
      for (const record of page.Records ?? []) result.rows.push(record.map(fieldValue));
      nextToken = page.NextToken;
    } while (nextToken);
    return result;
  }

  private connection() {
    const target = this.target;
    const common = { Database: target.database, ...(target.secretArn ? { SecretArn: target.secretArn } : {}) };
    if ('workgroup' in target) return { ...common, WorkgroupName: target.workgroup };
    return { ...common, ClusterIdentifier: target.cluster, ...(target.dbUser && !target.secretArn ? { DbUser: target.dbUser } : {}) };
  }
}

function submitOptions(options: SubmitOptions) {
  return { ...(options.clientToken ? { ClientToken: options.clientToken } : {}), ...(options.name ? { StatementName: options.name } : {}) };
}

const STATUSES: ReadonlySet<string> = new Set(['SUBMITTED', 'PICKED', 'STARTED', 'FINISHED', 'FAILED', 'ABORTED']);

function statusOf(status: string | undefined): StatementStatus {
  if (status === undefined || !STATUSES.has(status)) throw new Error(`the Data API answered an unknown statement status ${JSON.stringify(status)}`);
  return status as StatementStatus;
}

function subStatementOf(data: SubStatementData): SubStatement {
  const sub: SubStatement = {
    id: required(data.Id, 'DescribeStatement sub-statement'),
    status: statusOf(data.Status),
    resultRows: data.ResultRows ?? -1,
    hasResultSet: data.HasResultSet ?? false,
  };
  if (data.Error) sub.error = data.Error;
  if (data.RedshiftQueryId !== undefined && data.RedshiftQueryId > 0) sub.queryId = data.RedshiftQueryId;
  return sub;
}

function fieldValue(field: Field): ResultValue {
  if (field.isNull) return null;
  if (field.stringValue !== undefined) return field.stringValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue).toString('base64');
  return null;
}

function required(id: string | undefined, operation: string): string {
  if (id === undefined) throw new Error(`${operation} answered without a statement id`);
  return id;
}
