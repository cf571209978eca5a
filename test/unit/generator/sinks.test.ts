import { describe, expect, it } from 'vitest';
import type { CfnValue, Contribution, IamStatement } from '../../../generator/contribution.ts';
import { SINK_GENERATORS } from '../../../generator/registry.ts';
import { SINK_TYPES, type Sink } from '../../../engine/spec/spec-types.ts';
import { contributionOfSink, statementOf } from '../../support/generator-context.ts';

const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:loader-AbCdEf';
const DOMAIN = 'https://search-acme-users-4kd7qzabcdefghijklmnopqrst.eu-west-1.es.amazonaws.com';
const s3 = (fields: Record<string, unknown> = {}): Sink => ({ type: 's3', inputs: ['clicks'], bucket: 'acme-archive', key: 'clicks/dt={{date record.ts "yyyy-MM-dd"}}/', ...fields }) as Sink;
const search = (fields: Record<string, unknown> = {}): Sink => ({ type: 'opensearch', inputs: ['clicks'], endpoint: DOMAIN, index: 'clicks', id: '{{record.id}}', ...fields }) as Sink;
const staging = { bucket: 'acme-staging', prefix: 'clickstream/warehouse/' };
const redshift = (connection: Record<string, unknown>, fields: Record<string, unknown> = {}): Sink =>
  ({ type: 'redshift', inputs: ['clicks'], connection: { database: 'dev', ...connection }, table: 'public.clicks', columns: ['id'], staging, ...fields }) as Sink;
const postgres = (connection: Record<string, unknown>, fields: Record<string, unknown> = {}): Sink =>
  ({ type: 'postgres', inputs: ['clicks'], connection, table: 'clicks', columns: ['id'], staging, ...fields }) as Sink;

const sub = (text: string) => ({ 'Fn::Sub': text });
const CLUSTER_ARN = sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:cluster:analytics');
const WORKGROUPS_ARN = sub('arn:${AWS::Partition}:redshift-serverless:${AWS::Region}:${AWS::AccountId}:workgroup/*');
const STAGING_ARN = sub('arn:${AWS::Partition}:s3:::acme-staging/clickstream/warehouse/*');

describe('the sink generator registry', () => {
  it('has a module for every sink type, registered under its own type', () => {
    expect(Object.keys(SINK_GENERATORS).sort()).toEqual([...SINK_TYPES].sort());
    for (const [type, generator] of Object.entries(SINK_GENERATORS)) expect(generator.type).toBe(type);
  });
});

describe('an s3 sink', () => {
  it.each([
    ['the literal start of its key template', 'clicks/dt={{date record.ts "yyyy-MM-dd"}}/', 'arn:${AWS::Partition}:s3:::acme-archive/clicks/dt=*'],
    ['a key without template', 'archive/', 'arn:${AWS::Partition}:s3:::acme-archive/archive/*'],
    ['a key that starts with a template', '{{meta.source}}/', 'arn:${AWS::Partition}:s3:::acme-archive/*'],
    ['a literal * of the key, matched as itself', 'a*b/{{record.x}}/', 'arn:${AWS::Partition}:s3:::acme-archive/a${!*}b/*'],
  ])('writes only under %s', (_case, key, arn) => {
    const contribution = contributionOfSink(s3({ key }));

    expect(contribution.statements).toEqual([{ Sid: 'ArchiveWriteObjects', Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: [sub(arn)] }]);
  });

  it('creates no bucket unless asked, and an encrypted TLS-only bucket it keeps when asked', () => {
    expect(contributionOfSink(s3()).resources).toEqual({});

    const created = contributionOfSink(s3({ create: true }));

    expect(created.resources!.ArchiveBucket).toMatchObject({ Type: 'AWS::S3::Bucket', DeletionPolicy: 'Retain', Properties: { BucketName: 'acme-archive' } });
    expect(created.resources!.ArchiveBucket!.Properties).not.toHaveProperty('NotificationConfiguration');
    expect(created.resources!.ArchiveBucketPolicy).toMatchObject({ Type: 'AWS::S3::BucketPolicy', Properties: { Bucket: { Ref: 'ArchiveBucket' } } });
  });
});

describe('a search sink', () => {
  it.each(['elasticsearch', 'opensearch'] as const)('as %s, may write to the domain its endpoint names', (type) => {
    const contribution = contributionOfSink(search({ type }));

    expect(contribution).toEqual({
      statements: [{ Sid: 'ArchiveSearch', Effect: 'Allow', Action: ['es:ESHttpPost', 'es:ESHttpPut'], Resource: [sub('arn:${AWS::Partition}:es:eu-west-1:${AWS::AccountId}:domain/acme-users/*')] }],
      notes: [],
    });
  });

  it('says why the role covers every domain when the endpoint is a parameter', () => {
    const contribution = contributionOfSink(search({ endpoint: '${param.search_endpoint}' }));

    expect(contribution.statements![0]!.Resource).toEqual([sub('arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/*')]);
    expect(contribution.notes).toEqual([expect.stringMatching(/^sink archive: the endpoint \$\{param.search_endpoint\} names no Amazon OpenSearch Service domain/)]);
  });

  it('reads a secret given as a parameter through Fn::Sub', () => {
    const contribution = contributionOfSink(search({ auth: { type: 'basic', secret_arn: '${param.search_secret}' } }));

    expect(contribution.statements).toEqual([{ Sid: 'ArchiveSearch', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [sub('${SearchSecret}')] }]);
  });
});

describe('a redshift sink', () => {
  it('runs statements on its cluster and reads its secret', () => {
    const contribution = contributionOfSink(redshift({ cluster: 'analytics', secret_arn: SECRET }));

    expect(statementOf(contribution, 'ArchiveStatements')).toEqual({
      Sid: 'ArchiveStatements',
      Effect: 'Allow',
      Action: ['redshift-data:BatchExecuteStatement', 'redshift-data:ExecuteStatement'],
      Resource: [CLUSTER_ARN],
    });
    expect(statementOf(contribution, 'ArchiveSecret').Resource).toEqual([SECRET]);
    expect(contribution.statements!.map((statement) => statement.Sid)).not.toContain('ArchiveCredentials');
  });

  it('gets temporary credentials for exactly its database user and database on a cluster', () => {
    const contribution = contributionOfSink(redshift({ cluster: 'analytics', db_user: 'loader' }));

    expect(statementOf(contribution, 'ArchiveCredentials')).toEqual({
      Sid: 'ArchiveCredentials',
      Effect: 'Allow',
      Action: ['redshift:GetClusterCredentials'],
      Resource: [
        sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:dbuser:analytics/loader'),
        sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:dbname:analytics/dev'),
      ],
    });
  });

  it('signs in to a workgroup as the function without a secret, and says why the workgroup cannot be named', () => {
    const contribution = contributionOfSink(redshift({ workgroup: 'analytics' }));

    expect(statementOf(contribution, 'ArchiveStatements').Resource).toEqual([WORKGROUPS_ARN]);
    expect(statementOf(contribution, 'ArchiveCredentials')).toEqual({ Sid: 'ArchiveCredentials', Effect: 'Allow', Action: ['redshift-serverless:GetCredentials'], Resource: [WORKGROUPS_ARN] });
    expect(contribution.notes![0]).toMatch(/^sink archive: a workgroup's ARN holds its id, not its name \(analytics\)/);
  });

  it('reaches the statements it submitted only, under a condition naming its own identity', () => {
    const contribution = contributionOfSink(redshift({ workgroup: 'analytics', secret_arn: SECRET }));

    expect(statementOf(contribution, 'ArchiveOwnStatements')).toEqual({
      Sid: 'ArchiveOwnStatements',
      Effect: 'Allow',
      Action: ['redshift-data:CancelStatement', 'redshift-data:DescribeStatement', 'redshift-data:GetStatementResult'],
      Resource: ['*'],
      Condition: { StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' } },
    });
  });

  it('names cluster, user, database and secret given as parameters through Fn::Sub', () => {
    const contribution = contributionOfSink(redshift({ cluster: '${param.cluster}', db_user: '${param.user}', database: '${param.db}', secret_arn: '${param.secret}' }));

    expect(statementOf(contribution, 'ArchiveStatements').Resource).toEqual([sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:cluster:${Cluster}')]);
    expect(statementOf(contribution, 'ArchiveSecret').Resource).toEqual([sub('${Secret}')]);
    expect(statementOf(contribution, 'ArchiveCredentials').Resource).toEqual([
      sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:dbuser:${Cluster}/${User}'),
      sub('arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:dbname:${Cluster}/${Db}'),
    ]);
  });
});

describe.each([
  { type: 'redshift', sink: (fields: Record<string, unknown> = {}) => redshift({ cluster: 'analytics', secret_arn: SECRET }, fields) },
  { type: 'postgres', sink: (fields: Record<string, unknown> = {}) => postgres({ secret_arn: SECRET }, fields) },
])('the staging of a $type sink', ({ sink }) => {
  it('writes and reads staged files under its staging prefix only', () => {
    const contribution = contributionOfSink(sink());

    expect(statementOf(contribution, 'ArchiveStaging')).toEqual({ Sid: 'ArchiveStaging', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [STAGING_ARN] });
  });

  it('stages under <pipeline>/<sink id>/ when the spec gives no prefix', () => {
    const contribution = contributionOfSink(sink({ staging: { bucket: '${param.staging_bucket}' } }));

    expect(statementOf(contribution, 'ArchiveStaging').Resource).toEqual([sub('arn:${AWS::Partition}:s3:::${StagingBucket}/clickstream/archive/*')]);
  });

  it('says that staged files are kept until a lifecycle rule expires them', () => {
    const contribution = contributionOfSink(sink());

    expect(contribution.notes).toContainEqual(expect.stringMatching(/^sink archive: staged files, manifests and jsonpaths under s3:\/\/acme-staging\/clickstream\/warehouse\/ are kept.*lifecycle rule/));
  });
});

describe('a postgres sink', () => {
  it('reads its secret', () => {
    expect(statementOf(contributionOfSink(postgres({ secret_arn: '${param.db_secret}' })), 'ArchiveSecret')).toEqual({
      Sid: 'ArchiveSecret',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: [sub('${DbSecret}')],
    });
  });

  it('needs no secret statement for a url parameter, and says the function needs network reach to the database', () => {
    const contribution = contributionOfSink(postgres({ url: '${param.database_url}' }));

    expect(contribution.statements!.map((statement) => statement.Sid)).toEqual(['ArchiveStaging']);
    expect(contribution.notes![0]).toMatch(/^sink archive: the function connects to PostgreSQL directly, so it needs network reach/);
  });
});

// Actions IAM cannot scope to a resource, each allowed on `*` only in the statement that needs it.
const UNSCOPABLE_ACTIONS = new Set(['redshift-data:CancelStatement', 'redshift-data:DescribeStatement', 'redshift-data:GetStatementResult']);
// Resources wider than one ARN that a sink may need, each with the note that says why.
const ACCOUNT_WIDE = [
  'arn:${AWS::Partition}:redshift-serverless:${AWS::Region}:${AWS::AccountId}:workgroup/*',
  'arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/*',
  'arn:${AWS::Partition}:aoss:${AWS::Region}:${AWS::AccountId}:collection/*',
];

describe('the role statements of every sink', () => {
  const SINKS: Sink[] = [
    s3(),
    s3({ bucket: '${param.archive_bucket}', key: '${param.stage}/{{record.x}}/', create: true }),
    search(),
    search({ type: 'elasticsearch', endpoint: '${param.endpoint}' }),
    search({ endpoint: 'https://abc123def456.us-east-1.aoss.amazonaws.com', auth: { type: 'aws_iam', service: 'aoss' } }),
    search({ endpoint: 'https://search.example.com', auth: { type: 'aws_iam', service: 'aoss' } }),
    search({ auth: { type: 'api_key', secret_arn: SECRET } }),
    search({ endpoint: 'http://127.0.0.1:9200', auth: { type: 'none' } }),
    redshift({ workgroup: 'analytics' }),
    redshift({ workgroup: '${param.workgroup}', secret_arn: '${param.secret}' }),
    redshift({ cluster: 'analytics', db_user: 'loader' }),
    redshift({ cluster: 'analytics', secret_arn: SECRET }),
    postgres({ secret_arn: SECRET }),
    postgres({ url: '${param.database_url}' }, { staging: { bucket: 'acme-staging' } }),
  ];

  it.each(SINKS.map((sink) => [JSON.stringify(sink), sink] as const))('never use * but for unscopable actions, and explain every account-wide resource, for %s', (_name, sink) => {
    const contribution: Contribution = contributionOfSink(sink);

    for (const statement of contribution.statements ?? []) {
      expect(statement.Action.filter((action) => action.includes('*'))).toEqual([]);
      for (const resource of statement.Resource) expect(scopeOf(resource, statement)).not.toBe('too wide');
      if (statement.Resource.some((resource) => scopeOf(resource, statement) === 'account-wide')) expect(contribution.notes!.length).toBeGreaterThan(0);
    }
  });
});

/**
 * How far a resource reaches: one ARN (or the paths under one domain, `domain/<name>/*`), the
 * objects under one key prefix, a documented account-wide fallback, `*` for unscopable actions, or
 * too wide.
 */
function scopeOf(resource: CfnValue, statement: IamStatement): string {
  if (resource === '*') return statement.Action.every((action) => UNSCOPABLE_ACTIONS.has(action)) && statement.Condition !== undefined ? 'unscopable' : 'too wide';
  const text = typeof resource === 'string' ? resource : JSON.stringify(resource);
  if (!text.includes('*')) return 'exact';
  const template = typeof resource === 'object' && !Array.isArray(resource) && typeof resource['Fn::Sub'] === 'string' ? resource['Fn::Sub'] : undefined;
  if (template === undefined) return 'too wide';
  if (ACCOUNT_WIDE.includes(template)) return 'account-wide';
  if (/^arn:\$\{AWS::Partition\}:s3:::[^/*]+\/[^*]*\*$/.test(template)) return 'objects under a prefix';
  if (/^arn:\$\{AWS::Partition\}:es:[a-z0-9-]+:\$\{AWS::AccountId\}:domain\/[a-z][a-z0-9-]+\/\*$/.test(template)) return 'one domain';
  return 'too wide';
}
