/**
 * Reading `_bulk` responses item by item, as the Elasticsearch reference documents them: one
 * entry per operation, in request order, each `{ <action>: { status, error?: { type, reason } } }`.
 * A response that is not that shape is reported, never trusted.
 */
import type { BulkAnswer } from '../../ports/search-index.ts';
import type { BulkAction } from './request.ts';

/** The part of one response item the sink acts on. */
export interface BulkItemResult {
  status: number;
  /** `type: reason` of the item's error, when it has one. */
  error?: string;
  /** The error's `type` alone (`version_conflict_engine_exception`, `mapper_parsing_exception`...). */
  errorType?: string;
}

/** Item results in request order, or why the answer cannot be read as a bulk response to `count` operations. */
export type ParsedBulkResponse = { ok: true; items: BulkItemResult[] } | { ok: false; problem: string };

/** Reads the items of a 200 answer to a request of `count` operations. */
export function parseBulkResponse(answer: BulkAnswer, count: number): ParsedBulkResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return { ok: false, problem: `the response body is not JSON: ${excerpt(answer.body)}` };
  }
  const items = isObject(parsed) ? parsed.items : undefined;
  if (!Array.isArray(items)) return { ok: false, problem: `the response has no items list: ${excerpt(answer.body)}` };
  if (items.length !== count) return { ok: false, problem: `the response has ${items.length} items for ${count} operations` };
  const results: BulkItemResult[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const entry = items[index];
    const result = isObject(entry) ? Object.values(entry)[0] : undefined;
    if (!isObject(result) || typeof result.status !== 'number') return { ok: false, problem: `item ${index} of the response has no status` };
    const error = isObject(result.error) ? result.error : undefined;
    const type = typeof error?.type === 'string' ? error.type : undefined;
    const reason = typeof error?.reason === 'string' ? error.reason : undefined;
    results[index] = error === undefined
      ? { status: result.status }
      : { status: result.status, error: [type, reason].filter((part) => part !== undefined).join(': ') || 'unknown error', ...(type ? { errorType: type } : {}) };
  }
  return { ok: true, items: results };
}

/** What the sink does with one operation after its response item. */
export type ItemVerdict = 'written' | 'retry' | 'rejected';

/** How a 409 answer to a `create` counts: as already written (the default), or as a rejection to dead-letter. */
export type CreateConflict = 'written' | 'dead_letter';

/**
 * The verdict on one operation. 2xx is written; a 404 to a delete is written (the document is
 * already gone); a 409 to a versioned operation is written (a newer version is indexed, so this
 * stale one must not overwrite it); a 409 to a `create` follows `createConflict`; a 409 to an
 * `update` is a concurrent change and is retried; 429 and 5xx are retried; every other status
 * (a mapping error, a malformed document) is a rejection.
 */
export function itemVerdict(action: BulkAction, versioned: boolean, status: number, createConflict: CreateConflict): ItemVerdict {
  if (status >= 200 && status < 300) return 'written';
  if (status === 404 && action === 'delete') return 'written';
  if (status === 409) {
    if (versioned) return 'written';
    if (action === 'create') return createConflict === 'written' ? 'written' : 'rejected';
    if (action === 'update') return 'retry';
    return 'rejected';
  }
  if (status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

/** Whether a whole-request status may pass on a retry: throttling, a timeout at a proxy, a server error. */
export function requestStatusRetryable(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** The start of a response body, for messages: bodies can be megabytes. */
export function excerpt(text: string, limit = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty)';
  return flat.length > limit ? `${flat.slice(0, limit)}...` : flat;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
