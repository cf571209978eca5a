import { describe, expect, it } from 'vitest';
import { compileExpression } from '../../../engine/expression/index.ts';
import { compileTemplate } from '../../../engine/template/index.ts';
import { epochInstant } from '../../../engine/time/epoch-instant.ts';
import { castStep } from '../../../engine/transforms/cast/step.ts';
import { compile, run } from '../transforms/factories.ts';

// One rule for numbers as times (docs/decisions/0023-epoch-numbers.md), fed through the three
// places a number becomes a time: the `date` template helper, `cast: {ts: timestamp}` and CEL's
// timestamp(). Each row gives the instant all three must agree on.

const dateHelper = compileTemplate("{{date record.ts 'yyyy-MM-dd HH:mm:ss.SSS'}}");
const castToTimestamp = compile(castStep, { ts: 'timestamp' });
const celTimestamp = compileExpression('timestamp(record.ts)');

/** What each of the three makes of `ts`, all as `yyyy-MM-dd HH:mm:ss.SSS` UTC. */
function readThreeWays(ts: number): { date: string; cast: string; cel: string } {
  const cast = (run(castToTimestamp, { ts }) as { ts: string }).ts;
  const cel = celTimestamp({ ts }, {}) as string;
  return { date: dateHelper({ record: { ts } }), cast: printed(cast), cel: printed(cel) };
}

/** An RFC 3339 UTC string (as cast and CEL return) in the helper's format, to milliseconds. */
function printed(rfc3339: string): string {
  return new Date(rfc3339).toISOString().replace('T', ' ').replace('Z', '');
}

const TABLE: Array<{ name: string; ts: number; instant: string }> = [
  { name: 'epoch seconds from the report', ts: 1772360000, instant: '2026-03-01 10:13:20.000' },
  { name: 'the same instant in milliseconds', ts: 1772360000000, instant: '2026-03-01 10:13:20.000' },
  { name: 'the same instant in microseconds', ts: 1772360000000000, instant: '2026-03-01 10:13:20.000' },
  { name: 'the same instant in nanoseconds', ts: 1772360000000000000, instant: '2026-03-01 10:13:20.000' },
  { name: 'fractional seconds', ts: 1772360000.25, instant: '2026-03-01 10:13:20.250' },
  { name: 'milliseconds with a remainder', ts: 1772360000123, instant: '2026-03-01 10:13:20.123' },
  { name: 'the epoch itself', ts: 0, instant: '1970-01-01 00:00:00.000' },
  { name: 'negative seconds, before 1970', ts: -86400, instant: '1969-12-31 00:00:00.000' },
  { name: 'the last value read as seconds (5138)', ts: 99999999999, instant: '5138-11-16 09:46:39.000' },
  { name: 'the first value read as milliseconds (1973)', ts: 100000000000, instant: '1973-03-03 09:46:40.000' },
];

describe('numbers as times', () => {
  for (const { name, ts, instant } of TABLE) {
    it(`reads ${name} (${ts}) as ${instant} in the date helper, cast and CEL alike`, () => {
      expect(readThreeWays(ts)).toEqual({ date: instant, cast: instant, cel: instant });
    });
  }

  it('gives no instant for NaN or infinities', () => {
    expect([Number.NaN, Infinity, -Infinity].map(epochInstant)).toEqual([undefined, undefined, undefined]);
  });

  it('keeps microseconds in the instant, for cast', () => {
    expect(epochInstant(1772360000123456)).toEqual({ seconds: 1772360000, micros: 123456 });
  });
});
