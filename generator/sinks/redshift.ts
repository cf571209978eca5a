/**
 * What a `redshift` sink adds to the function's role (beside `engine/sinks/redshift/`): the Data
 * API on its workgroup or cluster, the credentials it loads with (the secret, or temporary
 * credentials for the workgroup or the cluster's database user), and its staging prefix. The
 * ledger table and the sweep schedule are runtime features (`generator/runtime/`), not the sink's.
 */
import type { SinkConfig } from '../../engine/spec/spec-types.ts';
import type { CfnValue, Contribution, GeneratorContext, IamStatement, SinkGenerator } from '../contribution.ts';
import { sub } from '../intrinsics.ts';
import { stagingAccess } from './staging.ts';

// The Data API calls on statements the function submitted. They take no resource (IAM demands
// `*`), and AWS lets a caller reach only statements its own identity submitted; the condition
// says so in the policy too. This is the allow-listed `*` of the least-privilege scan.
const OWN_STATEMENT_ACTIONS = ['redshift-data:CancelStatement', 'redshift-data:DescribeStatement', 'redshift-data:GetStatementResult'];

export const redshiftSinkGenerator: SinkGenerator<'redshift'> = {
  type: 'redshift',
  contribute(id, config, context) {
    const target = dataApiTarget(config.connection, context);
    const statements: IamStatement[] = [
      { Sid: context.logicalId(id, 'Statements'), Effect: 'Allow', Action: ['redshift-data:BatchExecuteStatement', 'redshift-data:ExecuteStatement'], Resource: [target.arn] },
      {
        Sid: context.logicalId(id, 'OwnStatements'),
        Effect: 'Allow',
        Action: OWN_STATEMENT_ACTIONS,
        Resource: ['*'],
        Condition: { StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' } },
      },
      ...credentialStatements(id, config.connection, target, context),
    ];
    const staging = stagingAccess(id, config.staging, context);
    statements.push(staging.statement);
    // COPY reads the staged files as `iam_role` (a role associated with the cluster or namespace),
    // which Redshift assumes itself: the function needs no iam:PassRole for it.
    const notes = [staging.note];
    if (target.note) notes.unshift(`sink ${id}: ${target.note}`);
    return { statements, notes } satisfies Contribution;
  },
};

interface DataApiTarget {
  arn: CfnValue;
  kind: 'workgroup' | 'cluster';
  note?: string;
}

/**
 * The ARN the Data API authorizes statements against. A workgroup's ARN ends in its id (a UUID
 * given at creation), not its name, so a template that knows only the name covers the workgroups
 * of the account in the stack's region, and says so.
 */
function dataApiTarget(connection: SinkConfig<'redshift'>['connection'], context: GeneratorContext): DataApiTarget {
  if (connection.cluster !== undefined) {
    return { kind: 'cluster', arn: sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:cluster:${Cluster}', { Cluster: context.value(connection.cluster) }) };
  }
  return {
    kind: 'workgroup',
    arn: sub('arn:${AWS::Partition}:redshift-serverless:${AWS::Region}:${AWS::AccountId}:workgroup/*'),
    note: `a workgroup's ARN holds its id, not its name (${connection.workgroup}), so the role may run statements on every Redshift Serverless workgroup of the account in the stack's region`,
  };
}

function credentialStatements(id: string, connection: SinkConfig<'redshift'>['connection'], target: DataApiTarget, context: GeneratorContext): IamStatement[] {
  const statements: IamStatement[] = [];
  if (connection.secret_arn !== undefined) {
    statements.push({ Sid: context.logicalId(id, 'Secret'), Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [context.value(connection.secret_arn)] });
  } else if (target.kind === 'workgroup') {
    // Without a secret the Data API signs in to a workgroup as the function's own IAM identity.
    statements.push({ Sid: context.logicalId(id, 'Credentials'), Effect: 'Allow', Action: ['redshift-serverless:GetCredentials'], Resource: [target.arn] });
  }
  if (target.kind === 'cluster' && connection.db_user !== undefined) {
    const names = { Cluster: context.value(connection.cluster!), User: context.value(connection.db_user), Database: context.value(connection.database) };
    statements.push({
      Sid: context.logicalId(id, 'Credentials'),
      Effect: 'Allow',
      Action: ['redshift:GetClusterCredentials'],
      Resource: [
        sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:dbuser:${Cluster}/${User}', names),
        sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:dbname:${Cluster}/${Database}', names),
      ],
    });
  }
  return statements;
}
