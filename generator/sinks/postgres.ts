/**
 * What a `postgres` sink adds to the function's role (beside `engine/sinks/postgres/`): the
 * secret it connects with, when it has one (a `url` parameter reaches the function as a NoEcho
 * parameter in its environment and needs no IAM), and its staging prefix.
 */
import type { Contribution, IamStatement, SinkGenerator } from '../contribution.ts';
import { stagingAccess } from './staging.ts';

export const postgresSinkGenerator: SinkGenerator<'postgres'> = {
  type: 'postgres',
  contribute(id, config, context) {
    const staging = stagingAccess(id, config.staging, context);
    const statements: IamStatement[] = [];
    if (config.connection.secret_arn !== undefined) {
      statements.push({ Sid: context.logicalId(id, 'Secret'), Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [context.value(config.connection.secret_arn)] });
    }
    statements.push(staging.statement);
    return {
      statements,
      notes: [
        `sink ${id}: the function connects to PostgreSQL directly, so it needs network reach to the database: the stack does not place the function in a VPC, so either the database accepts connections from the internet (with TLS) or you add the database's subnets and security groups to the function`,
        staging.note,
      ],
    } satisfies Contribution;
  },
};
