import { describe, expect, it } from 'vitest';
import { backoffMs, mayRetry } from '../../../../engine/sinks/search/retry.ts';

const policy = { maxAttempts: 5, initialBackoffMs: 100, maxBackoffMs: 1000 };

describe('backoff with full jitter', () => {
  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1000],
    [40, 1000],
  ])('waits at most the exponential bound before retry %i (%i ms)', (retry, bound) => {
    expect(backoffMs(policy, retry, () => 0.999999)).toBe(bound - 1);
    expect(backoffMs(policy, retry, () => 0)).toBe(0);
  });

  it('spreads waits over the whole range', () => {
    const waits = Array.from({ length: 2000 }, () => backoffMs(policy, 4));

    expect(Math.min(...waits)).toBeLessThan(100);
    expect(Math.max(...waits)).toBeGreaterThan(700);
    expect(waits.every((wait) => wait >= 0 && wait < 800)).toBe(true);
  });
});

describe('whether another attempt fits', () => {
  it('stops when the attempts are used up', () => {
    expect(mayRetry(policy, 4, 0, 0, 10_000)).toBe(true);
    expect(mayRetry(policy, 5, 0, 0, 10_000)).toBe(false);
  });

  it('stops when the wait would end too close to the deadline', () => {
    expect(mayRetry(policy, 1, 500, 1000, 1700)).toBe(true);
    expect(mayRetry(policy, 1, 500, 1000, 1600)).toBe(false);
  });
});
