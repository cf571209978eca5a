import { describe, expect, it } from 'vitest';
import { classifyStoreError } from '../../../engine/ports/classify-store-error.ts';

/** An error shaped as SDK v3 throws them: `name` (S3's error code) and the HTTP status. */
function sdkError(name: string, status?: number): Error {
  return Object.assign(new Error(`${name}: message from the service`), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }) });
}

/** An error shaped as Node.js socket errors are: a `code`, the name `Error`. */
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:443`), { code });
}

describe('classifyStoreError', () => {
  const retryable: [string, unknown][] = [
    ['SlowDown 503', sdkError('SlowDown', 503)],
    ['503 without a known name', sdkError('UnknownError', 503)],
    ['InternalError 500', sdkError('InternalError', 500)],
    ['ServiceUnavailable', sdkError('ServiceUnavailable', 503)],
    ['any 5xx (502)', sdkError('BadGateway', 502)],
    ['429 Too Many Requests', sdkError('TooManyRequestsException', 429)],
    ['ThrottlingException without a status', sdkError('ThrottlingException')],
    ['RequestTimeout 400', sdkError('RequestTimeout', 400)],
    ['SDK TimeoutError', sdkError('TimeoutError')],
    ['connection reset', systemError('ECONNRESET')],
    ['connection refused', systemError('ECONNREFUSED')],
    ['socket timeout', systemError('ETIMEDOUT')],
    ['broken pipe', systemError('EPIPE')],
    ['DNS lookup failing for now', systemError('EAI_AGAIN')],
    ['an error the SDK marks $retryable', Object.assign(sdkError('SomethingNew', 400), { $retryable: { throttling: false } })],
  ];
  const permanent: [string, unknown][] = [
    ['AccessDenied 403', sdkError('AccessDenied', 403)],
    ['NoSuchBucket 404', sdkError('NoSuchBucket', 404)],
    ['InvalidObjectName 400', sdkError('InvalidObjectName', 400)],
    ['KeyTooLongError 400', sdkError('KeyTooLongError', 400)],
    ['EntityTooLarge 400', sdkError('EntityTooLarge', 400)],
    ['InvalidBucketName 400', sdkError('InvalidBucketName', 400)],
    ['InvalidArgument 400', sdkError('InvalidArgument', 400)],
    ['a local filesystem refusal', systemError('EACCES')],
    ['a plain Error', new Error('something went wrong')],
    ['a thrown string', 'boom'],
    ['undefined', undefined],
  ];

  it.each(retryable)('retries %s', (_, error) => {
    expect(classifyStoreError(error).retryable).toBe(true);
  });

  it.each(permanent)('does not retry %s', (_, error) => {
    expect(classifyStoreError(error).retryable).toBe(false);
  });

  it('names the error by its code and status for messages', () => {
    expect(classifyStoreError(sdkError('NoSuchBucket', 404)).reason).toBe('NoSuchBucket (HTTP 404)');
    expect(classifyStoreError(systemError('ECONNRESET')).reason).toBe('ECONNRESET');
  });
});
