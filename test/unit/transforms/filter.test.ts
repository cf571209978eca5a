import { describe, expect, it } from 'vitest';
import { ExpressionError } from '../../../engine/expression/index.ts';
import { filterStep } from '../../../engine/transforms/filter/step.ts';
import { aMeta, compile, recordErrorOf, run } from './factories.ts';

const aClick = (eventType: string) => ({ event_type: eventType, uid: 1 });

describe('filter', () => {
  it('has the YAML key as its kind', () => {
    expect(filterStep.kind).toBe('filter');
  });

  it('passes a record for which the condition is true, unchanged', () => {
    const record = aClick('purchase');
    expect(run(compile(filterStep, "record.event_type != 'heartbeat'"), record)).toBe(record);
  });

  it('filters a record for which the condition is false', () => {
    expect(run(compile(filterStep, "record.event_type != 'heartbeat'"), aClick('heartbeat'))).toBeUndefined();
  });

  it('reads the record meta', () => {
    const step = compile(filterStep, "meta.source == 'orders'");
    expect(run(step, aClick('x'), undefined, aMeta({ source: 'clicks' }))).toBeUndefined();
  });

  it('fails the record when the condition reads a missing field', () => {
    const error = recordErrorOf(() => run(compile(filterStep, 'record.amount > 10.0'), aClick('x')));
    expect(error.code).toBe('transform-error');
    expect(error.message).toContain('record.amount > 10.0');
  });

  it('fails the record when the condition yields something other than a bool', () => {
    const error = recordErrorOf(() => run(compile(filterStep, 'record.event_type'), aClick('x')));
    expect(error.code).toBe('transform-error');
    expect(error.message).toContain('not a bool');
  });

  it('throws ExpressionError when compiling an invalid expression', () => {
    expect(() => compile(filterStep, 'record.a ==')).toThrow(ExpressionError);
  });

  it('throws ExpressionError when compiling a condition that cannot be a bool', () => {
    expect(() => compile(filterStep, '1 + 2')).toThrow(ExpressionError);
  });
});
