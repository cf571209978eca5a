/**
 * Authentication of `_bulk` requests. `aws_iam` signs each request with SigV4 (`@smithy/signature-v4`,
 * the signer of the AWS SDK) as the function's role; `basic` and `api_key` read their secret from
 * Secrets Manager once per cold start. Credentials go into headers only: never into a message,
 * a log line or a dead letter.
 */
import { createHash } from 'node:crypto';
import type { SignatureV4 } from '@smithy/signature-v4';
import type { OutgoingRequest, RequestAuthorizer } from '../../ports/search-index.ts';

/** AWS credentials as the SDK's providers return them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Resolves credentials; called for every request, so it must cache (the SDK's providers do). */
export type CredentialProvider = () => Promise<AwsCredentials>;

/** Reads a Secrets Manager secret's string by ARN. */
export type SecretReader = (secretArn: string) => Promise<string>;

/** The `auth` block of a search sink, defaults applied by the caller. */
export interface SearchAuthSettings {
  type: 'aws_iam' | 'basic' | 'api_key' | 'none';
  secret_arn?: string | undefined;
  service: 'es' | 'aoss';
}

/** What authorizers may use instead of the defaults: fixed credentials (tests), a secret reader. */
export interface AuthDependencies {
  credentials?: CredentialProvider;
  readSecret?: SecretReader;
  /** Region for SigV4 when the endpoint's host does not name one; `AWS_REGION` otherwise. */
  region?: string;
}

/**
 * The authorizer of a sink. `aws_iam` signs each request; `basic` and `api_key` read the secret on
 * first use and keep it for the life of the process (a failed read is tried again next time).
 * Throws when the region of an `aws_iam` endpoint cannot be determined.
 */
export function createAuthorizer(settings: SearchAuthSettings, endpoint: string, dependencies: AuthDependencies = {}): RequestAuthorizer {
  switch (settings.type) {
    case 'none':
      return async () => ({});
    case 'aws_iam':
      return sigV4Authorizer(settings.service, regionOf(endpoint, dependencies.region), dependencies.credentials ?? defaultCredentials());
    case 'basic':
    case 'api_key': {
      const secretArn = settings.secret_arn;
      if (secretArn === undefined) throw new Error(`auth type ${settings.type} needs secret_arn`);
      const readSecret = dependencies.readSecret ?? readSecretsManagerSecret;
      let header: Promise<string> | undefined;
      return async () => {
        header ??= readSecret(secretArn).then((secret) => authorizationHeader(settings.type as 'basic' | 'api_key', secret, secretArn));
        try {
          return { authorization: await header };
        } catch (error) {
          header = undefined;
          throw error;
        }
      };
    }
  }
}

/**
 * The `Authorization` value for a secret's text: `Basic base64(username:password)` from
 * `{"username", "password"}`, or `ApiKey <api_key>` from `{"api_key"}` (an encoded Elasticsearch
 * key, as the create API key call returns it). The error names the secret and the fields, never
 * their values.
 */
export function authorizationHeader(type: 'basic' | 'api_key', secret: string, secretArn: string): string {
  let value: unknown;
  try {
    value = JSON.parse(secret);
  } catch {
    throw new Error(`secret ${secretArn} is not JSON; ${type === 'basic' ? 'expected {"username": ..., "password": ...}' : 'expected {"api_key": ...}'}`);
  }
  const fields = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  if (type === 'basic') {
    if (typeof fields.username !== 'string' || typeof fields.password !== 'string') throw new Error(`secret ${secretArn} lacks string fields username and password`);
    return `Basic ${Buffer.from(`${fields.username}:${fields.password}`).toString('base64')}`;
  }
  if (typeof fields.api_key !== 'string' || fields.api_key === '') throw new Error(`secret ${secretArn} lacks a string field api_key`);
  return `ApiKey ${fields.api_key}`;
}

/** Signs with SigV4 for `service` in `region`, signing the body's SHA-256 (required by `aoss`, accepted by `es`). */
export function sigV4Authorizer(service: 'es' | 'aoss', region: string, credentials: CredentialProvider): RequestAuthorizer {
  // The signer is loaded on the first request: a process that loads the search sink without
  // signing (`ingest run` of another sink, `ingest test`) does not pay for its import.
  let signer: Promise<SignatureV4> | undefined;
  return async (request) => {
    signer ??= Promise.all([import('@smithy/signature-v4'), import('@smithy/hash-node')]).then(
      ([{ SignatureV4 }, { Hash }]) => new SignatureV4({ service, region, credentials, sha256: Hash.bind(null, 'sha256'), uriEscapePath: true, applyChecksum: true }),
    );
    const signed = await (await signer).sign(signableRequest(request));
    const headers: Record<string, string> = {};
    // fetch sets `host` itself, to the same value that was signed.
    for (const [name, value] of Object.entries(signed.headers)) if (name.toLowerCase() !== 'host' && !(name in request.headers)) headers[name] = value;
    return headers;
  };
}

/**
 * The request in the shape the SigV4 signer reads, `host` included. Exported so that a test server
 * can recompute a signature from what it received.
 */
export function signableRequest(request: OutgoingRequest): Parameters<SignatureV4['sign']>[0] {
  const { url } = request;
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  return {
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { ...request.headers, host: url.host, 'x-amz-content-sha256': sha256Hex(request.body) },
    body: request.body,
  };
}

function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * The region of an Amazon OpenSearch Service domain (`search-x-id.us-east-1.es.amazonaws.com`,
 * `vpc-...`) or Serverless collection (`id.us-east-1.aoss.amazonaws.com`) from its host, else
 * `fallback`, else `AWS_REGION`. Throws when none gives one.
 */
export function regionOf(endpoint: string, fallback?: string): string {
  const host = new URL(endpoint).hostname;
  const match = /\.([a-z]{2}(?:-[a-z]+)+-\d)\.(?:es|aoss)\.amazonaws\.com(?:\.cn)?$/.exec(host);
  const region = match?.[1] ?? fallback ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new Error(`the region of ${host} cannot be told from its name; set AWS_REGION`);
  return region;
}

function defaultCredentials(): CredentialProvider {
  // Loaded on first use: the credential chain is only needed by aws_iam sinks, and the Lambda
  // runtime gives the role's credentials in the environment.
  let provider: Promise<CredentialProvider> | undefined;
  return async () => {
    provider ??= import('@aws-sdk/credential-provider-node').then(({ defaultProvider }) => defaultProvider() as CredentialProvider);
    return (await provider)();
  };
}

async function readSecretsManagerSecret(secretArn: string): Promise<string> {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  // The secret's own region: a cluster in one region may keep its secret in another.
  const region = secretArn.startsWith('arn:') ? secretArn.split(':')[3] : undefined;
  const client = new SecretsManagerClient(region ? { region } : {});
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (answer.SecretString === undefined) throw new Error(`secret ${secretArn} has no string value`);
    return answer.SecretString;
  } finally {
    client.destroy();
  }
}
