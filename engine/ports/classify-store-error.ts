/**
 * Whether a failed call to a store (S3 today; the warehouse and search ports reuse it) is worth
 * retrying. Sinks and the dead-letter writer use it to decide between "retry the record" and
 * "set the record aside": a key the store refuses for good must not be retried forever, and a
 * throttled or briefly unreachable store must not turn good records into dead letters.
 * See docs/decisions/0011-component-counts-and-store-errors.md.
 */

/** What a store error means for the record that could not be written. */
export interface StoreErrorClass {
  /** True for throttling, 5xx answers, timeouts and dropped connections: the same call may succeed later. */
  retryable: boolean;
  /** The store's name for the error (`SlowDown`, `NoSuchBucket`, `ECONNRESET`...), for messages and logs. */
  reason: string;
}

// Error names (SDK v3 `name`, S3 `Code`) that say "later", whatever the status code.
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'RequestTimeTooSkewed',
  'TimeoutError',
  'OperationAborted',
]);

// Node.js socket and DNS errors (`code`): the request may never have reached the store.
const RETRYABLE_SYSTEM_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Classifies an error thrown by a store call. Retryable: a throttling name, HTTP 429 or any 5xx
 * status, a timeout, a dropped or refused connection, or an error the SDK itself marks
 * `$retryable`. Everything else (AccessDenied, NoSuchBucket, InvalidObjectName, KeyTooLongError,
 * EntityTooLarge, a local filesystem refusal, an error of unknown shape) is not: retrying cannot
 * change the answer. Never throws.
 */
export function classifyStoreError(error: unknown): StoreErrorClass {
  if (typeof error !== 'object' || error === null) return { retryable: false, reason: String(error) };
  const { name, code, Code, $metadata, $retryable } = error as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
  };
  const status = typeof $metadata?.httpStatusCode === 'number' ? $metadata.httpStatusCode : undefined;
  const names = [Code, name, code].filter((candidate): candidate is string => typeof candidate === 'string' && candidate !== '' && candidate !== 'Error');
  const reason = (names[0] ?? 'Error') + (status === undefined ? '' : ` (HTTP ${status})`);
  if (names.some((candidate) => RETRYABLE_NAMES.has(candidate) || RETRYABLE_SYSTEM_CODES.has(candidate))) return { retryable: true, reason };
  if (status !== undefined && (status === 429 || status >= 500)) return { retryable: true, reason };
  if (typeof $retryable === 'object' && $retryable !== null) return { retryable: true, reason };
  return { retryable: false, reason };
}
