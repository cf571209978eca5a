import { describe, expect, it } from 'vitest';
import { searchSinkPermissions } from '../../../generator/sinks/search.ts';

const IAM = { type: 'aws_iam', service: 'es' } as const;

describe('IAM statements of a search sink', () => {
  it('allow ESHttpPost and ESHttpPut on the domain named by a public endpoint', () => {
    const permissions = searchSinkPermissions({ endpoint: 'https://search-acme-users-4kd7qzabcdefghijklmnopqrst.eu-west-1.es.amazonaws.com', auth: IAM });

    expect(permissions).toEqual({
      statements: [{ Effect: 'Allow', Action: ['es:ESHttpPost', 'es:ESHttpPut'], Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:es:eu-west-1:${AWS::AccountId}:domain/acme-users/*' }] }],
    });
  });

  it('name the domain of a VPC endpoint', () => {
    const permissions = searchSinkPermissions({ endpoint: 'https://vpc-logs-abcdefghijklmnopqrstuvwxyz.us-east-1.es.amazonaws.com', auth: IAM });

    expect(permissions.statements[0]!.Resource).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:es:us-east-1:${AWS::AccountId}:domain/logs/*' }]);
  });

  it.each(['https://logs.es.acme.example:9243', '${param.search_endpoint}'])('cover every domain of the region, saying why, for %s', (endpoint) => {
    const permissions = searchSinkPermissions({ endpoint, auth: IAM });

    expect(permissions.statements[0]!.Resource).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/*' }]);
    expect(permissions.note).toContain('names no Amazon OpenSearch Service domain');
  });

  it('allow APIAccessAll on the collection for OpenSearch Serverless', () => {
    const permissions = searchSinkPermissions({ endpoint: 'https://abc123def456.us-east-1.aoss.amazonaws.com', auth: { type: 'aws_iam', service: 'aoss' } });

    expect(permissions.statements).toEqual([{ Effect: 'Allow', Action: ['aoss:APIAccessAll'], Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:aoss:us-east-1:${AWS::AccountId}:collection/abc123def456' }] }]);
  });

  it.each(['basic', 'api_key'] as const)('allow reading the secret, and nothing on the cluster, for %s', (type) => {
    const secret = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:search-AbCdEf';

    expect(searchSinkPermissions({ endpoint: 'https://logs.example.com', auth: { type, secret_arn: secret, service: 'es' } })).toEqual({
      statements: [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [secret] }],
    });
  });

  it('need nothing without auth', () => {
    expect(searchSinkPermissions({ endpoint: 'http://127.0.0.1:9200', auth: { type: 'none', service: 'es' } })).toEqual({ statements: [] });
  });
});
