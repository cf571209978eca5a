/**
 * What an `elasticsearch` or `opensearch` sink adds to the function's role (beside
 * `engine/sinks/search/`): `es:ESHttpPost`/`es:ESHttpPut` on the domain (`aws_iam`, service
 * `es`), `aoss:APIAccessAll` on the collection (service `aoss`), and
 * `secretsmanager:GetSecretValue` on the secret of `basic` and `api_key`. Resources are
 * CloudFormation values: `Fn::Sub` fills in the partition and account the stack is deployed to.
 */
import type { SinkConfig } from '../../engine/spec/spec-types.ts';
import type { CfnValue, Contribution, IamStatement, SinkGenerator } from '../contribution.ts';
import { sub } from '../intrinsics.ts';

/** The IAM statements of a resolved search sink, and why a resource is wider than one domain when it must be. */
export interface SearchSinkPermissions {
  statements: IamStatement[];
  /** Set when the endpoint names no Amazon OpenSearch Service domain or collection that IAM can name. */
  note?: string;
}

type SearchSinkConfig = SinkConfig<'elasticsearch' | 'opensearch'>;

/** The generator module of the search sinks, one per type name (both speak the same bulk protocol). */
export function searchSinkGenerator<T extends 'elasticsearch' | 'opensearch'>(type: T): SinkGenerator<T> {
  return {
    type,
    contribute(id, config: SearchSinkConfig, context) {
      const permissions = searchSinkPermissions(config, context.value);
      const statements = permissions.statements.map((statement, index) => ({ Sid: context.logicalId(id, index === 0 ? 'Search' : `Search${index + 1}`), ...statement }));
      return { statements, notes: permissions.note === undefined ? [] : [`sink ${id}: ${permissions.note}`] } satisfies Contribution;
    },
  };
}

// Amazon OpenSearch Service endpoints: `search-<domain>-<id>` (public) or `vpc-<domain>-<id>`, where
// <id> is 26 lower-case letters and digits; Serverless: `<collection id>.<region>.aoss.amazonaws.com`.
const DOMAIN_HOST = /^(?:search|vpc)-([a-z][a-z0-9-]{2,27})-[a-z0-9]{26}\.([a-z]{2}(?:-[a-z]+)+-\d)\.es\.amazonaws\.com(\.cn)?$/;
const COLLECTION_HOST = /^([a-z0-9]{3,40})\.([a-z]{2}(?:-[a-z]+)+-\d)\.aoss\.amazonaws\.com$/;

/**
 * The statements the sink's function role needs. An endpoint given as a parameter, or a host that
 * names no domain (a custom domain name, a proxy), cannot be tied to one domain when the template is
 * generated: the statement then covers every domain (or collection) of the account in the stack's
 * region, and `note` says so. `value` turns a spec string that may hold parameter references into
 * its CloudFormation value (`GeneratorContext.value`).
 */
export function searchSinkPermissions(config: Pick<SearchSinkConfig, 'endpoint' | 'auth'>, value: (text: string) => CfnValue = (text) => text): SearchSinkPermissions {
  const { auth } = config;
  if (auth.type === 'basic' || auth.type === 'api_key') {
    // The schema requires the secret for these two.
    return { statements: [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [value(auth.secret_arn!)] }] };
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
