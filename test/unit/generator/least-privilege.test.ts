import { describe, expect, it } from 'vitest';
import type { CfnValue } from '../../../generator/contribution.ts';
import { generateStack } from '../../../generator/template.ts';
import type { Template } from '../../../generator/template.ts';
import { exampleSpecs, featureSpecs } from '../../support/generator-specs.ts';

// Every IAM statement of every generated template names exact resources. The scan reads every
// policy document of the template (the function's role and the resource policies of queues,
// buckets and topics) and reports each Allow that is wider than one named resource.

/**
 * Actions that AWS does not let a policy scope to a resource: a statement may give them on `*`,
 * and nothing else. Keep this list short and say why for each.
 */
const UNSCOPABLE_ACTIONS: Record<string, string> = {
  // The Data API's statement ids are not resources; these are scoped by the condition
  // redshift-data:statement-owner-iam-userid to the statements the role itself submitted.
  'redshift-data:DescribeStatement': 'no resource-level permissions',
  'redshift-data:GetStatementResult': 'no resource-level permissions',
  'redshift-data:CancelStatement': 'no resource-level permissions',
  'redshift-data:ListStatements': 'no resource-level permissions',
  // Embedded metrics go through the logs; a direct PutMetricData is scoped by cloudwatch:namespace.
  'cloudwatch:PutMetricData': 'no resource-level permissions',
};

/**
 * Resources whose name the spec cannot give, so a statement covers every resource of that type in
 * the stack's account and region, and `ingest generate` prints a note saying so. Keyed by
 * `<service>:<resource type>`.
 */
const UNNAMEABLE_RESOURCES: Record<string, string> = {
  // A workgroup's ARN holds its id, which only the Redshift Serverless API knows; the spec names the workgroup.
  'redshift-serverless:workgroup': 'the ARN holds an id the spec does not give',
  // An endpoint that is a parameter or a custom domain name does not name the domain or collection.
  'es:domain': 'the endpoint names no domain',
  'aoss:collection': 'the endpoint names no collection',
};

interface Finding {
  where: string;
  problem: string;
}

/** Every Allow statement of every policy document in the template, with where it is. */
function allowStatements(template: Template): { where: string; statement: Record<string, CfnValue> }[] {
  const found: { where: string; statement: Record<string, CfnValue> }[] = [];
  const walk = (value: unknown, where: string): void => {
    if (Array.isArray(value)) return value.forEach((item, index) => walk(item, `${where}[${index}]`));
    if (value === null || typeof value !== 'object') return;
    for (const [key, item] of Object.entries(value)) {
      if (key.endsWith('PolicyDocument') && item && typeof item === 'object' && Array.isArray((item as { Statement?: unknown }).Statement)) {
        for (const [index, statement] of ((item as { Statement: Record<string, CfnValue>[] }).Statement).entries()) {
          if (statement.Effect === 'Allow') found.push({ where: `${where}.${key}.Statement[${index}]${statement.Sid ? ` (${String(statement.Sid)})` : ''}`, statement });
        }
      } else {
        walk(item, `${where}.${key}`);
      }
    }
  };
  walk(template.Resources, 'Resources');
  return found;
}

const list = (value: CfnValue | undefined): CfnValue[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * The text forms a Resource value may take: a literal, an `Fn::Sub` template (its variables and
 * pseudo parameters are single names), each branch of an `Fn::If`. A `Ref` or `Fn::GetAtt` names
 * one resource or parameter of the stack: exact.
 */
function resourceTexts(value: CfnValue): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  if ('Fn::Sub' in value) {
    const sub = value['Fn::Sub']!;
    return [Array.isArray(sub) ? String(sub[0]) : String(sub)];
  }
  if ('Fn::If' in value) return (value['Fn::If'] as CfnValue[]).slice(1).flatMap(resourceTexts);
  return [];
}

/** Why an ARN is wider than the resources it should name, or undefined when it names them. */
function tooWide(text: string): string | undefined {
  // `${!*}` writes IAM's `${*}`, a literal asterisk; other `${...}` are single names.
  const plain = text.replaceAll('${!*}', 'STAR').replace(/\$\{[^}]*\}/g, 'NAME');
  if (plain === '*') return 'a Resource of *';
  if (!plain.includes('*')) return undefined;
  const [arn, partition, service, region, account, ...rest] = plain.split(':');
  if (arn !== 'arn' || rest.length === 0) return `${text} is not an ARN`;
  if ([partition, service, region, account].some((segment) => segment!.includes('*'))) return `${text} has a wildcard partition, service, region or account`;
  const resource = rest.join(':');
  if (resource.indexOf('*') !== resource.length - 1) return `${text} has a wildcard inside its resource`;
  const named = resource.slice(0, -1);
  // S3 object ARNs start with the bucket; every other service with a resource type, then the name.
  const hasName = service === 's3' ? /^[^/]+\//.test(named) : /^[^/:]+[/:].+/.test(named);
  if (hasName) return undefined;
  const type = named.split(/[/:]/)[0]!;
  if (!Object.hasOwn(UNNAMEABLE_RESOURCES, `${service}:${type}`)) return `${text} covers every ${type} of ${service}`;
  widened.push(text);
  return undefined;
}

/** The allow-listed wide resources the last scans met; each template that has one must say so in a note. */
let widened: string[] = [];

/** What is wider than it should be in the template. */
function scan(template: Template): Finding[] {
  const findings: Finding[] = [];
  for (const { where, statement } of allowStatements(template)) {
    const actions = list(statement.Action).map(String);
    for (const action of actions) if (action.includes('*')) findings.push({ where, problem: `wildcard action ${action}` });
    if (statement.Principal === '*' || JSON.stringify(statement.Principal ?? null).includes('"*"')) findings.push({ where, problem: 'allows any principal' });
    for (const resource of list(statement.Resource)) {
      for (const text of resourceTexts(resource)) {
        if (text === '*') {
          const scopable = actions.filter((action) => !Object.hasOwn(UNSCOPABLE_ACTIONS, action));
          if (scopable.length > 0) findings.push({ where, problem: `Resource * for ${scopable.join(', ')}` });
          continue;
        }
        const problem = tooWide(text);
        if (problem) findings.push({ where, problem });
      }
    }
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Properties?.ManagedPolicyArns !== undefined) findings.push({ where: `Resources.${id}`, problem: 'attaches managed policies, whose statements cannot be checked here' });
    if (resource.Type === 'AWS::Lambda::Permission' && resource.Properties?.SourceArn === undefined) findings.push({ where: `Resources.${id}`, problem: 'lets the principal invoke the function from any source' });
  }
  return findings;
}

const specs = [...exampleSpecs(), ...featureSpecs()];

describe('the least-privilege scan', () => {
  it.each([
    ['a Resource of * for an action that can be scoped', '*', 'Resource * for s3:GetObject'],
    ['every table of the account', { 'Fn::Sub': 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*' }, 'covers every table'],
    ['any region', 'arn:aws:kinesis:*:123456789012:stream/orders', 'wildcard partition, service, region or account'],
    ['a wildcard inside the name', 'arn:aws:kinesis:eu-west-1:123456789012:stream/ord*ers', 'inside its resource'],
    ['every object of every bucket', 'arn:aws:s3:::*', 'covers every'],
  ] as const)('reports %s', (_, resource, problem) => {
    const template = { AWSTemplateFormatVersion: '2010-09-09', Description: '', Resources: { Role: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: [resource] }] } }] } } } } as Template;

    expect(scan(template).map((finding) => finding.problem).join('\n')).toContain(problem);
  });

  it('reports wildcard actions, any principal, managed policies and unrestricted invoke permissions', () => {
    const template = {
      AWSTemplateFormatVersion: '2010-09-09',
      Description: '',
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'] } },
        Policy: { Type: 'AWS::SQS::QueuePolicy', Properties: { PolicyDocument: { Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sqs:*', Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] } }] } } },
        Permission: { Type: 'AWS::Lambda::Permission', Properties: { Action: 'lambda:InvokeFunction', FunctionName: 'f', Principal: 'events.amazonaws.com' } },
      },
    } as unknown as Template;

    expect(scan(template).map((finding) => finding.problem)).toEqual([
      'wildcard action sqs:*',
      'allows any principal',
      'attaches managed policies, whose statements cannot be checked here',
      'lets the principal invoke the function from any source',
    ]);
  });

  it('accepts objects under a named prefix, a named log group, IAM-escaped literal asterisks and the unscopable Data API actions', () => {
    const statements = [
      { Effect: 'Allow', Action: ['s3:PutObject'], Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::acme/out/*' }, { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/*' }] },
      { Effect: 'Allow', Action: ['s3:PutObject'], Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::acme/a${!*}b/*' }] },
      { Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: ['arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/x:*'] },
      { Effect: 'Allow', Action: ['redshift-data:DescribeStatement'], Resource: ['*'] },
      { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*' },
    ];
    const template = { AWSTemplateFormatVersion: '2010-09-09', Description: '', Resources: { Role: { Type: 'AWS::IAM::Role', Properties: { Policies: [{ PolicyName: 'p', PolicyDocument: { Statement: statements } }] } } } } as unknown as Template;

    expect(scan(template)).toEqual([]);
  });
});

describe('a resource the spec cannot name', () => {
  it('is let through only from the allow-list, and its template says so in a note', () => {
    const { template, notes } = generateStack(specs.find((entry) => entry.name === 'redshift-workgroup')!.spec);
    widened = [];

    expect(scan(template)).toEqual([]);
    expect(widened).toEqual([expect.stringContaining(':workgroup/*')]);
    expect(notes.some((note) => note.includes('every Redshift Serverless workgroup'))).toBe(true);
  });
});

describe('every generated template', () => {
  it.each(specs.map(({ name, spec }) => [name, spec] as const))('%s grants nothing wider than the resources its spec names', (_, spec) => {
    const { template, notes } = generateStack(spec);
    widened = [];

    expect(scan(template)).toEqual([]);
    // A statement wider than one resource, because the spec cannot name it, is announced.
    if (widened.length > 0) expect(notes.filter((note) => / every /.test(note)).length).toBeGreaterThan(0);
  });

  it.each(specs.map(({ name, spec }) => [name, spec] as const))('%s gives the function statements that each name their resources', (_, spec) => {
    const { template } = generateStack(spec);
    const ofRole = allowStatements(template)
      .filter(({ where }) => (where.startsWith('Resources.FunctionRole.') || where.startsWith('Resources.FunctionPolicy')) && !where.includes('AssumeRolePolicyDocument'))
      .map(({ statement }) => statement);

    expect(ofRole.length).toBeGreaterThan(1);
    expect(ofRole.filter((statement) => list(statement.Resource).length === 0).map((statement) => statement.Sid)).toEqual([]);
  });
});
