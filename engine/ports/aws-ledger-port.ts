/**
 * The ledger port of a deployed function, apart from `aws-ports.ts` so that the bundle of a spec
 * without batching sinks leaves out the DynamoDB client (docs/decisions/0049-per-spec-bundles.md).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbLedger } from './dynamodb-ledger.ts';
import type { Ledger } from './ledger.ts';

/** A `DynamoDbLedger` on `tableName`, through `client` or one made from the environment. */
export function ledgerPort(tableName: string, client: DynamoDBClient = new DynamoDBClient({})): Ledger {
  return new DynamoDbLedger(client, { tableName });
}
