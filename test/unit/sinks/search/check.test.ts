import { describe, expect, it } from 'vitest';
import type { CheckContext } from '../../../../engine/plugin/checks.ts';
import { checkSearchSink } from '../../../../engine/sinks/search/check.ts';
import type { SearchSinkCheckSettings } from '../../../../engine/sinks/search/check.ts';

function check(config: SearchSinkCheckSettings): string[] {
  const reports: string[] = [];
  const context: CheckContext = {
    report: (path, code, _message, options) => void reports.push(`${options?.severity ?? 'error'} ${code} at ${path.join('.') || '(sink)'}`),
    files: { exists: () => false, read: () => undefined },
  };
  checkSearchSink(config, context);
  return reports;
}

const ID = '{{record.id}}';

describe('checks of a search sink', () => {
  it.each([
    ['upper case', 'Orders'],
    ['a leading _', '_orders'],
    ['a leading -', '-orders'],
    ['a leading +', '+orders'],
    ['a *', 'orders*'],
    ['a space', 'my orders'],
    ['a comma', 'a,b'],
    ['a colon', 'a:b'],
    ['a #', 'a#b'],
    ['a ..', '..'],
    ['upper case in the literal text of a template', 'Orders-{{record.day}}'],
    ['a leading _ in the literal text of a template', '_x-{{record.day}}'],
    ['a space in the literal text of a template', 'orders {{record.day}}'],
  ])('rejects an index name with %s', (_, index) => {
    expect(check({ index, id: ID })).toEqual(['error invalid-index-name at index']);
  });

  it.each(['orders', 'clicks-{{date record.ts "yyyy.MM.dd"}}', '{{record.tenant}}-events', 'logs.2026', '{{{record.index}}}'])('accepts index %s', (index) => {
    expect(check({ index, id: ID })).toEqual([]);
  });

  it.each(['update', 'delete'] as const)('requires an id for action %s', (action) => {
    expect(check({ index: 'users', action })).toEqual(['error missing-document-id at action']);
  });

  it('requires an id for a version', () => {
    expect(check({ index: 'users', version: '{{record.v}}' })).toEqual(['error missing-document-id at version']);
  });

  it.each(['index', 'create', 'auto'] as const)('warns that retries may duplicate without an id for action %s', (action) => {
    expect(check({ index: 'users', action })).toEqual(['warning missing-document-id at (sink)']);
  });

  it('refuses a version with action update', () => {
    expect(check({ index: 'users', id: ID, action: 'update', version: '{{record.v}}' })).toEqual(['error conflicting-fields at version']);
  });
});
