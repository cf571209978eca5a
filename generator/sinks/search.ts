/**
 * What an `elasticsearch` or `opensearch` sink needs from IAM, for the generator to merge into the
 * function's role: `es:ESHttpPost`/`es:ESHttpPut` on the domain (`aws_iam`, service `es`),
 * `aoss:APIAccessAll` on the collection (service `aoss`), and `secretsmanager:GetSecretValue` on the
 * secret of `basic` and `api_key`. Resources are CloudFormation values: `Fn::Sub` fills in the
 * partition and account the stack is deployed to.
 */
import type { SinkConfig } from '../../engine/spec/spec-types.ts';

/** One IAM policy statement, as CloudFormation takes it. */
export interface IamStatement {
  Effect: 'Allow';
  Action: string[];
  Resource: unknown[];
}

/** The IAM statements of a resolved search sink, and why a resource is wider than one domain when it must be. */
export interface SearchSinkPermissions {
  statements: IamStatement[];
  /** Set when the endpoint names no Amazon OpenSearch Service domain or collection that IAM can name. */
  note?: string;
}

// Amazon OpenSearch Service endpoints: `search-<domain>-<id>` (public) or `vpc-<domain>-<id>`, where
// <id> is 26 lower-case letters and digits; Serverless: `<collection id>.<region>.aoss.amazonaws.com`.
const DOMAIN_HOST = /^(?:search|vpc)-([a-z][a-z0-9-]{2,27})-[a-z0-9]{26}\.([a-z]{2}(?:-[a-z]+)+-\d)\.es\.amazonaws\.com(\.cn)?$/;
const COLLECTION_HOST = /^([a-z0-9]{3,40})\.([a-z]{2}(?:-[a-z]+)+-\d)\.aoss\.amazonaws\.com$/;

/**
 * The statements the sink's function role needs. An endpoint given as a parameter, or a host that
 * names no domain (a custom domain name, a proxy), cannot be tied to one domain when the template is
 * generated: the statement then covers every domain (or collection) of the account in the stack's
 * region, and `note` says so.
 */
export function searchSinkPermissions(config: Pick<SinkConfig<'elasticsearch' | 'opensearch'>, 'endpoint' | 'auth'>): SearchSinkPermissions {
  const { auth } = config;
  if (auth.type === 'basic' || auth.type === 'api_key') {
    return { statements: [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [auth.secret_arn] }] };
  }
  if (auth.type === 'none') return { statements: [] };

  const host = hostOf(config.endpoint);
  if (auth.service === 'aoss') {
    const collection = host === undefined ? undefined : COLLECTION_HOST.exec(host);
    if (collection) return { statements: [{ Effect: 'Allow', Action: ['aoss:APIAccessAll'], Resource: [sub(`arn:\${AWS::Partition}:aoss:${collection[2]}:\${AWS::AccountId}:collection/${collection[1]}`)] }] };
    return {
      statements: [{ Effect: 'Allow', Action: ['aoss:APIAccessAll'], Resource: [sub('arn:${AWS::Partition}:aoss:${AWS::Region}:${AWS::AccountId}:collection/*')] }],
      note: `the endpoint ${config.endpoint} names no OpenSearch Serverless collection, so the role may call every collection of the account in the stack's region`,
    };
  }
  const domain = host === undefined ? undefined : DOMAIN_HOST.exec(host);
  const actions = ['es:ESHttpPost', 'es:ESHttpPut'];
  if (domain) return { statements: [{ Effect: 'Allow', Action: actions, Resource: [sub(`arn:\${AWS::Partition}:es:${domain[2]}:\${AWS::AccountId}:domain/${domain[1]}/*`)] }] };
  return {
    statements: [{ Effect: 'Allow', Action: actions, Resource: [sub('arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/*')] }],
    note: `the endpoint ${config.endpoint} names no Amazon OpenSearch Service domain, so the role may write to every domain of the account in the stack's region`,
  };
}

function hostOf(endpoint: string): string | undefined {
  if (endpoint.startsWith('${')) return undefined;
  try {
    return new URL(endpoint).hostname;
  } catch {
    return undefined;
  }
}

function sub(template: string): { 'Fn::Sub': string } {
  return { 'Fn::Sub': template };
}
