/**
 * Retry timing for the search sinks: exponential backoff with full jitter (a uniformly random wait
 * between zero and the exponential bound), so that many functions throttled by one cluster do not
 * come back in step, and a time budget that ends at the invocation's deadline.
 */

export interface RetryPolicy {
  /** Most attempts per operation, counting the first. */
  maxAttempts: number;
  /** Bound on the wait before the first retry, in milliseconds; doubles for each further one. */
  initialBackoffMs: number;
  /** Largest bound on one wait, in milliseconds. */
  maxBackoffMs: number;
}

/**
 * The wait before retry number `retry` (1 for the first retry): uniform in
 * `[0, min(maxBackoffMs, initialBackoffMs * 2^(retry - 1))]`. `random` returns a number in [0, 1).
 */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const bound = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(retry - 1, 30));
  return Math.floor(random() * bound);
}

/**
 * Whether another attempt fits: attempts remain, and after waiting `waitMs` from `now` some time
 * is left before `deadline` (epoch milliseconds) for the request itself.
 */
export function mayRetry(policy: RetryPolicy, attemptsMade: number, waitMs: number, now: number, deadline: number, minimumRequestMs = 100): boolean {
  return attemptsMade < policy.maxAttempts && now + waitMs + minimumRequestMs < deadline;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
