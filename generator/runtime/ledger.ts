/**
 * The ledger of batching sinks (docs/decisions/0031-exactly-once-warehouse-loads.md §3): when a
 * sink batches across invocations, the function needs a DynamoDB table with string keys `pk` and
 * `sk` and TTL on `expires_at`. The spec's `state.table` names an existing one; otherwise the stack
 * creates it (on-demand, point-in-time recovery, retained on delete: it holds the state of batches
 * not loaded yet). Either way its name reaches the function as `INGEST_LEDGER_TABLE`, and the role
 * may read and write items of that table only.
 */
import { LEDGER_TABLE_VARIABLE } from '../../engine/function-environment.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import type { CfnValue, Contribution, IamStatement, RuntimeGenerator } from '../contribution.ts';
import { sub } from '../intrinsics.ts';
import { hasParameterReference } from '../substitution.ts';

/** Logical id of the ledger table the stack creates. */
export const LEDGER_TABLE_ID = 'LedgerTable';

/** The Condition that tells an ARN from a name when `state.table` is a parameter. */
export const LEDGER_TABLE_IS_ARN = 'LedgerTableIsArn';

/** Days DynamoDB keeps a table's continuous backups for point-in-time recovery. */
const RECOVERY_PERIOD_DAYS = 35;

const LEDGER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'];

/**
 * The sinks whose batches outlive an invocation: those with a time threshold (`batch.max_seconds`),
 * which only a ledger and a scheduled sweep can honour. Read from the config's shape, so a new
 * sink type that batches this way needs no change here.
 */
export function sinksBatchingAcrossInvocations(spec: ResolvedSpec): { id: string; maxSeconds: number }[] {
  return Object.entries(spec.sinks).flatMap(([id, sink]) => {
    const batch = (sink as { batch?: { max_seconds?: unknown } }).batch;
    return typeof batch?.max_seconds === 'number' ? [{ id, maxSeconds: batch.max_seconds }] : [];
  });
}

export const ledger: RuntimeGenerator = {
  feature: 'ledger',
  contribute({ spec, value }): Contribution {
    const sinks = sinksBatchingAcrossInvocations(spec);
    if (sinks.length === 0) return {};
    const existing = spec.state?.table;
    if (existing !== undefined) return existingTable(existing, value(existing));

    return {
      resources: {
        [LEDGER_TABLE_ID]: {
          Type: 'AWS::DynamoDB::Table',
          DeletionPolicy: 'Retain',
          UpdateReplacePolicy: 'Retain',
          Properties: {
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [
              { AttributeName: 'pk', AttributeType: 'S' },
              { AttributeName: 'sk', AttributeType: 'S' },
            ],
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'sk', KeyType: 'RANGE' },
            ],
            TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: RECOVERY_PERIOD_DAYS },
          },
        },
      },
      environment: { [LEDGER_TABLE_VARIABLE]: { Ref: LEDGER_TABLE_ID } },
      statements: [{ Sid: 'UseLedger', Effect: 'Allow', Action: LEDGER_ACTIONS, Resource: [{ 'Fn::GetAtt': [LEDGER_TABLE_ID, 'Arn'] }] }],
      outputs: { LedgerTableName: { Description: `Ledger of staged files and loads of ${sinks.map((sink) => sink.id).join(', ')}`, Value: { Ref: LEDGER_TABLE_ID } } },
    };
  },
};

/**
 * An existing table, named by name or ARN. A parameter may hold either, so the ARN in the role is
 * chosen by a Condition on the value's first `:`-separated field.
 */
function existingTable(table: string, value: CfnValue): Contribution {
  const environment = { [LEDGER_TABLE_VARIABLE]: value };
  const statement = (resource: CfnValue): IamStatement => ({ Sid: 'UseLedger', Effect: 'Allow', Action: LEDGER_ACTIONS, Resource: [resource] });
  const asName = sub('arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}', { Table: value });
  if (!hasParameterReference(table)) return { environment, statements: [statement(table.startsWith('arn:') ? table : asName)] };
  return {
    environment,
    conditions: { [LEDGER_TABLE_IS_ARN]: { 'Fn::Equals': [{ 'Fn::Select': [0, { 'Fn::Split': [':', value] }] }, 'arn'] } },
    statements: [statement({ 'Fn::If': [LEDGER_TABLE_IS_ARN, value, asName] })],
  };
}
