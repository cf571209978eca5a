import { describe, expect, it } from 'vitest';
import { InvocationMetrics } from '../../../engine/observe.ts';
import type { LogLevel } from '../../../engine/observe.ts';
import { CapturingDeadLetterWriter, MissingDeadLetterWriter } from '../../../engine/pipeline/dead-letters.ts';
import type { DeadLetterWriter } from '../../../engine/pipeline/dead-letters.ts';
import { ItemOutcome, LateFailures, RecordTracker } from '../../../engine/pipeline/outcome.ts';
import type { S3Meta } from '../../../engine/pipeline/record.ts';

// What the pipeline does with a record a sink refuses after it settled the record's ticket
// written (`CommittedItem`, docs/decisions/0056-search-staged-items-in-bounded-memory.md).

function s3Meta(line: number): S3Meta {
  return { event: 's3', source: 'orders', arrival_time: '2026-11-27T10:00:00.000Z', position: `raw/day.jsonl@abc:${line}`, bucket: 'raw', key: 'day.jsonl', line, etag: 'abc' };
}

/** A committed item of `written` records, all delivered once to sink `search`, and its `CommittedItem`. */
function committedItem(written: number, deadLetters: DeadLetterWriter, onError: 'retry' | 'dead_letter' = 'retry') {
  const metrics = new InvocationMetrics();
  const item = new ItemOutcome('object', 0, true, metrics);
  item.counts = { records_in: written, written, filtered: 0, dead_lettered: 0, failed: 0 };
  metrics.counters('search').records_in = written;
  metrics.counters('search').records_out = written;
  const logged: { level: LogLevel; message: string }[] = [];
  const late = new LateFailures(item, { deadLetters, logger: { log: (level, message) => void logged.push({ level, message }) } }, 'search', onError);
  return { item, metrics, late, logged };
}

const refused = { code: 'sink-rejected' as const, message: 'sink search: the cluster refused the document (400 mapper_parsing_exception)', retryable: false };
const raw = (text: string) => new TextEncoder().encode(text);

describe('late failures of a committed item', () => {
  it('dead-letters a refused document with its record and moves its input record from written once, however many of its documents are refused', async () => {
    const letters = new CapturingDeadLetterWriter();
    const { item, metrics, late } = committedItem(3, letters);

    // Record 2 exploded into two documents; both are refused.
    await late.failed({ ordinal: 1, meta: s3Meta(2), raw: raw('{"a":[1,2]}'), record: { a: 1 } }, refused);
    await late.failed({ ordinal: 1, meta: s3Meta(2), raw: raw('{"a":[1,2]}'), record: { a: 2 } }, refused);

    expect(item.counts).toEqual({ records_in: 3, written: 2, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(item.failed).toBe(false);
    expect(metrics.counters('search')).toMatchObject({ records_in: 3, records_out: 1, dead_lettered: 2, failed: 0 });
    expect(letters.letters.map(({ stage, code, component, position, record, message }) => ({ stage, code, component, position, record, message }))).toEqual([
      { stage: 'sink', code: 'sink-rejected', component: 'search', position: 'raw/day.jsonl@abc:2', record: { a: 1 }, message: refused.message },
      { stage: 'sink', code: 'sink-rejected', component: 'search', position: 'raw/day.jsonl@abc:2', record: { a: 2 }, message: refused.message },
    ]);
    expect(Buffer.from(letters.letters[0]!.raw).toString()).toBe('{"a":[1,2]}');
  });

  it('fails the record and retries the item when the dead letter cannot be stored', async () => {
    const { item, metrics, late } = committedItem(2, new MissingDeadLetterWriter());

    await late.failed({ ordinal: 0, meta: s3Meta(1), raw: raw('{}'), record: {} }, refused);

    expect(item.counts).toEqual({ records_in: 2, written: 1, filtered: 0, dead_lettered: 0, failed: 1 });
    expect(item.failed).toBe(true);
    expect(item.reason).toMatch(/its dead letter could not be stored: .*no dead_letter location/);
    expect(metrics.counters('search')).toMatchObject({ records_out: 1, dead_lettered: 0, failed: 1 });
  });

  it('retries the item, keeping its counts and logging once, for retryable failures under on_error: retry', async () => {
    const letters = new CapturingDeadLetterWriter();
    const { item, late, logged } = committedItem(2, letters);
    const down = { code: 'sink-error' as const, message: 'sink search: not indexed after 5 attempts: the cluster answered 503', retryable: true };

    await late.failed({ ordinal: 0, meta: s3Meta(1), raw: raw('{}') }, down);
    await late.failed({ ordinal: 1, meta: s3Meta(2), raw: raw('{}') }, down);

    expect(item.failed).toBe(true);
    expect(item.reason).toBe(`sink-error at search: ${down.message}`);
    expect(item.counts).toEqual({ records_in: 2, written: 2, filtered: 0, dead_lettered: 0, failed: 0 });
    expect(letters.letters).toEqual([]);
    expect(logged).toHaveLength(1);
  });

  it('keeps the outcome that takes precedence for a record its other paths already dead-lettered or failed', async () => {
    const letters = new CapturingDeadLetterWriter();
    const metrics = new InvocationMetrics();
    const item = new ItemOutcome('object', 0, true, metrics);
    const context = { deadLetters: letters, logger: { log: () => {} } };
    // Three records the search sink settled written as it held them: one also dead-lettered by
    // another branch, one also failed by another sink; the third only written.
    const trackers = [1, 2, 3].map((line) => new RecordTracker(item, context, s3Meta(line), raw('{}')));
    for (const tracker of trackers) {
      const ticket = tracker.sinkTicket('search', 'retry', {});
      ticket.written();
      ticket.accepted();
    }
    await trackers[0]!.deadLetter('transform', 'transform-error', 'another branch refused it', 'strict', {});
    trackers[1]!.sinkTicket('archive', 'retry', {}).failed({ code: 'sink-error', message: 'the store is down', retryable: true });
    for (const tracker of trackers) tracker.doneRouting();
    expect(item.counts).toEqual({ records_in: 3, written: 1, filtered: 0, dead_lettered: 1, failed: 1 });
    const late = new LateFailures(item, context, 'search', 'retry');

    for (const tracker of trackers) await late.failed({ ordinal: tracker.ordinal, meta: tracker.meta, raw: tracker.raw, record: {} }, refused);

    // Only the record that was written moves; the sink counts all three refusals.
    expect(item.counts).toEqual({ records_in: 3, written: 0, filtered: 0, dead_lettered: 2, failed: 1 });
    expect(metrics.counters('search')).toMatchObject({ records_out: 0, dead_lettered: 3 });
    // Each refusal is dead-lettered (the other branch's letter waits for the item's commit).
    expect(letters.letters.map((letter) => `${letter.component} ${letter.position}`)).toEqual([
      'search raw/day.jsonl@abc:1',
      'search raw/day.jsonl@abc:2',
      'search raw/day.jsonl@abc:3',
    ]);
  });

  it('dead-letters retryable failures under on_error: dead_letter', async () => {
    const letters = new CapturingDeadLetterWriter();
    const { item, late } = committedItem(1, letters, 'dead_letter');

    await late.failed({ ordinal: 0, meta: s3Meta(1), raw: raw('{}'), record: {} }, { code: 'sink-error', message: 'not indexed', retryable: true });

    expect(item.failed).toBe(false);
    expect(item.counts).toEqual({ records_in: 1, written: 0, filtered: 0, dead_lettered: 1, failed: 0 });
    expect(letters.letters.map((letter) => letter.code)).toEqual(['sink-error']);
  });
});
