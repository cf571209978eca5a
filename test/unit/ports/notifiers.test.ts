import { describe, expect, it } from 'vitest';
import { MemoryNotifier } from '../../../engine/ports/memory-notifier.ts';
import type { Notification } from '../../../engine/ports/notifier.ts';
import { MAX_MESSAGE_BYTES, MAX_SUBJECT_LENGTH, notificationMessage, snsSubject } from '../../../engine/ports/sns-notifier.ts';

/** A deterministic pseudo-random generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Text of `length` characters drawn from every kind SNS may refuse: controls, line breaks, non-ASCII, astral, blanks. */
function anyText(next: () => number, length: number): string {
  const kinds = [
    () => String.fromCharCode(Math.floor(next() * 32)),
    () => String.fromCharCode(0x20 + Math.floor(next() * 95)),
    () => ['\n', '\r', '\t', ' ', '\u2028', '\u00a0'][Math.floor(next() * 6)]!,
    () => String.fromCharCode(0xa0 + Math.floor(next() * 0x2000)),
    () => String.fromCodePoint(0x1f600 + Math.floor(next() * 64)),
  ];
  let text = '';
  for (let index = 0; index < length; index++) text += kinds[Math.floor(next() * kinds.length)]!();
  return text;
}

const SNS_SUBJECT = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

describe('snsSubject', () => {
  it.each([
    ['a plain subject unchanged', 'orders: batch 12 loaded', 'orders: batch 12 loaded'],
    ['line breaks and tabs one space', 'load failed:\r\nInvalid\ttimestamp', 'load failed: Invalid timestamp'],
    ['control characters as ?', 'batch\u0000\u0007 failed', 'batch?? failed'],
    ['non-ASCII characters as ?', 'Bestellungen geändert', 'Bestellungen ge?ndert'],
    ['surrounding blanks trimmed', '   loaded   ', 'loaded'],
    ['exactly 100 characters unchanged', 'x'.repeat(100), 'x'.repeat(100)],
    ['101 characters cut to 100 ending in ...', 'y'.repeat(101), `${'y'.repeat(97)}...`],
    ['an empty subject as the fallback', ' \n ', 'ingest orders: load_failed (warehouse)'],
  ])('makes %s', (_, subject, expected) => {
    expect(snsSubject(subject, 'ingest orders: load_failed (warehouse)')).toBe(expected);
  });

  it('answers a subject SNS accepts for any text and any fallback', () => {
    const next = random(20261203);
    for (let run = 0; run < 2000; run++) {
      const subject = anyText(next, Math.floor(next() * 240));
      const fallback = anyText(next, Math.floor(next() * 140));

      const made = snsSubject(subject, fallback);

      expect(made.length, JSON.stringify({ subject, fallback })).toBeLessThanOrEqual(MAX_SUBJECT_LENGTH);
      expect(made, JSON.stringify({ subject, fallback })).toMatch(SNS_SUBJECT);
    }
  });
});

describe('notificationMessage', () => {
  const notification = (detail: Record<string, unknown>): Notification => ({ event: 'load_failed', component: 'warehouse', subject: 'failed', detail });

  it('is the notification and its pipeline as JSON when it fits', () => {
    const message = notificationMessage('orders', notification({ batch: 3, error: 'boom' }));

    expect(JSON.parse(message)).toEqual({ pipeline: 'orders', event: 'load_failed', component: 'warehouse', subject: 'failed', detail: { batch: 3, error: 'boom' } });
  });

  it('fits any detail into one SNS message, keeping the longest prefix of its JSON that fits', () => {
    const next = random(7);
    for (let run = 0; run < 12; run++) {
      // Sizes around the limit, and text whose escaping grows it (controls become \u00XX).
      const rows = Array.from({ length: 200 + Math.floor(next() * 3000) }, () => anyText(next, 20 + Math.floor(next() * 120)));
      const detail = { rows };

      const message = notificationMessage('orders', notification(detail));

      const parsed = JSON.parse(message);
      expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      const whole = JSON.stringify(detail);
      if (Buffer.byteLength(JSON.stringify({ pipeline: 'orders', ...notification(detail) })) <= MAX_MESSAGE_BYTES) {
        expect(parsed.detail).toEqual(detail);
      } else {
        expect(parsed.detail.truncated).toBe(true);
        expect(whole.startsWith(parsed.detail.text)).toBe(true);
        const oneMore = JSON.stringify({ ...parsed, detail: { truncated: true, text: whole.slice(0, parsed.detail.text.length + 1) } });
        expect(Buffer.byteLength(oneMore)).toBeGreaterThan(MAX_MESSAGE_BYTES);
      }
    }
  });
});

describe('MemoryNotifier', () => {
  it('keeps what it publishes, by event, as copies', async () => {
    const notifier = new MemoryNotifier();
    const detail = { batch: 1 };

    await notifier.publish('orders', { event: 'load_succeeded', component: 'warehouse', subject: 'loaded', detail });
    await notifier.publish('orders', { event: 'dead_letter', component: 'clean', subject: 'set aside', detail: {} });
    detail.batch = 99;

    expect(notifier.published.map((entry) => entry.pipeline)).toEqual(['orders', 'orders']);
    expect(notifier.of('load_succeeded')).toEqual([{ event: 'load_succeeded', component: 'warehouse', subject: 'loaded', detail: { batch: 1 } }]);
  });

  it('rejects, keeping nothing, when told the topic cannot be reached', async () => {
    const notifier = new MemoryNotifier({ fail: (_, notification) => (notification.event === 'load_failed' ? new Error('topic unreachable') : undefined) });

    await expect(notifier.publish('orders', { event: 'load_failed', component: 'warehouse', subject: 'failed', detail: {} })).rejects.toThrow('topic unreachable');
    expect(notifier.published).toEqual([]);
  });
});
