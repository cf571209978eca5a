import { describe, expect, it } from 'vitest';
import { itemVerdict, parseBulkResponse } from '../../../../engine/sinks/search/response.ts';
import type { BulkAction } from '../../../../engine/sinks/search/request.ts';

describe('reading a bulk response', () => {
  it('returns each item status and its error type and reason, in order', () => {
    const body = JSON.stringify({
      took: 3,
      errors: true,
      items: [
        { index: { _id: 'a', status: 201 } },
        { create: { _id: 'b', status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse' } } },
        { delete: { _id: 'c', status: 404, result: 'not_found' } },
      ],
    });

    expect(parseBulkResponse({ status: 200, body }, 3)).toEqual({
      ok: true,
      items: [{ status: 201 }, { status: 400, error: 'mapper_parsing_exception: failed to parse', errorType: 'mapper_parsing_exception' }, { status: 404 }],
    });
  });

  it.each([
    ['a body that is not JSON', '<html>502 Bad Gateway</html>', /not JSON: <html>502 Bad Gateway<\/html>/],
    ['an empty body', '', /not JSON: \(empty\)/],
    ['a body without items', '{"errors":false}', /no items list/],
    ['fewer items than operations', '{"items":[{"index":{"status":201}}]}', /1 items for 2 operations/],
    ['an item without a status', '{"items":[{"index":{"status":201}},{"index":{}}]}', /item 1 of the response has no status/],
    ['an item that is not an object', '{"items":[{"index":{"status":201}},7]}', /item 1/],
  ])('reports %s instead of trusting it', (_, body, problem) => {
    const parsed = parseBulkResponse({ status: 200, body }, 2);

    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.problem).toMatch(problem);
  });
});

describe('the verdict on one item', () => {
  const cases: [BulkAction, boolean, number, 'written' | 'dead_letter', string][] = [
    ['index', false, 200, 'written', 'written'],
    ['index', false, 201, 'written', 'written'],
    ['delete', false, 404, 'written', 'written'],
    ['index', false, 404, 'written', 'rejected'],
    ['create', false, 409, 'written', 'written'],
    ['create', false, 409, 'dead_letter', 'rejected'],
    ['index', true, 409, 'written', 'written'],
    ['delete', true, 409, 'written', 'written'],
    ['update', false, 409, 'written', 'retry'],
    ['index', false, 409, 'written', 'rejected'],
    ['index', false, 429, 'written', 'retry'],
    ['index', false, 500, 'written', 'retry'],
    ['index', false, 503, 'written', 'retry'],
    ['index', false, 400, 'written', 'rejected'],
    ['index', false, 403, 'written', 'rejected'],
    ['update', false, 404, 'written', 'rejected'],
  ];

  it.each(cases)('%s (versioned: %s) answered %i, create conflicts %s: %s', (action, versioned, status, createConflict, verdict) => {
    expect(itemVerdict(action, versioned, status, createConflict)).toBe(verdict);
  });
});
