import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authorizationHeader, regionOf, signableRequest } from '../../../../engine/sinks/search/auth.ts';
import { BulkServer } from '../../../support/bulk-server.ts';
import type { ReceivedRequest } from '../../../support/bulk-server.ts';
import { failureOf, inputs, outcomes, runSink, searchConfig } from './factories.ts';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token-example' };

/** Recomputes the SigV4 signature of a received request with the same signer and the fixed credentials. */
function expectedAuthorization(baseUrl: string, service: 'es' | 'aoss') {
  const signer = new SignatureV4({ service, region: 'us-east-1', credentials: CREDENTIALS, sha256: Hash.bind(null, 'sha256') });
  return async (request: ReceivedRequest): Promise<string | undefined> => {
    const date = request.headers['x-amz-date'];
    if (!date) return undefined;
    const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    const signed = await signer.sign(
      signableRequest({ method: 'POST', url: new URL(request.url, baseUrl), headers: { 'content-type': request.headers['content-type']! }, body: request.body }),
      { signingDate },
    );
    return signed.headers.authorization;
  };
}

describe('SigV4 signing of bulk requests', () => {
  let server: BulkServer;
  let service: 'es' | 'aoss' = 'es';

  beforeAll(async () => {
    server = await BulkServer.start({
      authorize: async (request) => {
        const expected = await expectedAuthorization(server.url, service)(request);
        return expected !== undefined && expected === request.headers.authorization;
      },
    });
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => {
    server.reset();
  });

  it.each(['es', 'aoss'] as const)('signs with service %s so that the server recomputes the same signature', async (signedFor) => {
    service = signedFor;

    const { tickets } = await runSink(searchConfig(server.url, { auth: { type: 'aws_iam', service: signedFor } }), inputs(3), { credentials: async () => CREDENTIALS, region: 'us-east-1' });

    expect(outcomes(tickets)).toEqual(['written', 'written', 'written']);
    const headers = server.requests[0]!.headers;
    expect(headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/us-east-1/${signedFor}/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$`));
    expect(headers['x-amz-security-token']).toBe('session-token-example');
  });

  it('is refused when signed with other credentials, and no credential appears in the failure', async () => {
    service = 'es';
    const wrong = { accessKeyId: 'AKIDWRONG', secretAccessKey: 'not-the-secret-key' };

    const { tickets } = await runSink(searchConfig(server.url, { auth: { type: 'aws_iam' } }), inputs(1), { credentials: async () => wrong, region: 'us-east-1' });

    expect(outcomes(tickets)).toEqual(['sink-error (retryable)']);
    const message = failureOf(tickets[0]!)!.message;
    expect(message).toContain('answered 403');
    expect(message).not.toContain('not-the-secret-key');
    expect(message).not.toContain('AKIDWRONG');
  });
});

describe('basic and api_key auth', () => {
  let server: BulkServer;
  let reads = 0;

  beforeAll(async () => {
    server = await BulkServer.start({ authorize: (request) => request.headers.authorization === `Basic ${Buffer.from('ingest:s3cr3t').toString('base64')}` || request.headers.authorization === 'ApiKey a2V5OnZhbHVl' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('reads the secret once and sends a Basic header', async () => {
    reads = 0;
    const readSecret = async () => (reads++, JSON.stringify({ username: 'ingest', password: 's3cr3t' }));
    const { createSearchSink } = await import('../../../../engine/sinks/search/sink.ts');
    const config = searchConfig(server.url, { auth: { type: 'basic', secret_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:search-AbCdEf' }, batch: { max_records: 1 } });
    const sink = createSearchSink('search', config, { readSecret });

    for (let invocation = 0; invocation < 2; invocation++) {
      const writer = sink.open({ state: new Map(), now: new Date(), requestId: 'r', deadline: Date.now() + 10_000 });
      const settled: string[] = [];
      await writer.add({ record: { event_id: `e${invocation}` }, meta: inputs(1)[0]!.meta, ticket: { written: () => void settled.push('written'), failed: (failure: { message: string }) => void settled.push(failure.message) }, item: { index: 0, staged: false } } as never);
      await writer.close();
      expect(settled).toEqual(['written']);
    }
    expect(reads).toBe(1);
  });

  it('sends an ApiKey header for api_key', async () => {
    const { tickets } = await runSink(searchConfig(server.url, { auth: { type: 'api_key', secret_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:key-AbCdEf' } }), inputs(1), { readSecret: async () => '{"api_key":"a2V5OnZhbHVl"}' });

    expect(outcomes(tickets)).toEqual(['written']);
  });

  it('fails the documents for a retry, naming the secret but not its value, when the secret is malformed', async () => {
    const { tickets } = await runSink(searchConfig(server.url, { auth: { type: 'basic', secret_arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bad-AbCdEf' } }), inputs(1), { readSecret: async () => '{"username":"ingest","pass":"hunter2"}' });

    expect(outcomes(tickets)).toEqual(['sink-error (retryable)']);
    expect(failureOf(tickets[0]!)!.message).toContain('secret arn:aws:secretsmanager:us-east-1:123456789012:secret:bad-AbCdEf lacks string fields username and password');
    expect(failureOf(tickets[0]!)!.message).not.toContain('hunter2');
  });
});

describe('authorization headers from secrets', () => {
  it('refuses a secret that is not JSON without echoing it', () => {
    expect(() => authorizationHeader('api_key', 'plain-secret-value', 'arn:x')).toThrow(/secret arn:x is not JSON/);
    expect(() => authorizationHeader('api_key', 'plain-secret-value', 'arn:x')).not.toThrow(/plain-secret-value/);
  });
});

describe('the region of an endpoint', () => {
  it.each([
    ['https://search-acme-abc123.us-east-1.es.amazonaws.com', 'us-east-1'],
    ['https://vpc-logs-xyz.eu-west-1.es.amazonaws.com', 'eu-west-1'],
    ['https://abc123.ap-southeast-2.aoss.amazonaws.com', 'ap-southeast-2'],
    ['https://search-gov.us-gov-west-1.es.amazonaws.com', 'us-gov-west-1'],
  ])('of %s is %s', (endpoint, region) => {
    expect(regionOf(endpoint)).toBe(region);
  });

  it('falls back to the given region for other hosts', () => {
    expect(regionOf('https://logs.es.acme.example:9243', 'eu-central-1')).toBe('eu-central-1');
  });
});
