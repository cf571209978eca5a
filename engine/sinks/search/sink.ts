/**
 * The `elasticsearch` and `opensearch` sinks: records become bulk operations, sent in `_bulk`
 * requests bounded by `batch.max_records` and `batch.max_bytes`, a few requests at a time. Every
 * operation is settled from its own response item (docs/decisions/0029-search-sink-outcomes.md):
 * written, retried alone with backoff until the invocation's deadline, or dead-lettered with the
 * server's reason. Writes to one document keep their order: operations are spread over lanes by
 * document, and a lane sends its requests one after the other, retries included.
 */
import type { RecordValue } from '../../pipeline/record.ts';
import { tmpdir } from 'node:os';
import type { CommittedItem, Invocation, ItemScope, SettleResult, Sink, SinkEntry, SinkFailure, SinkPlugin, SinkWriter, Ticket } from '../../plugin/types.ts';
import { HttpSearchIndex } from '../../ports/search-index.ts';
import type { SearchIndex } from '../../ports/search-index.ts';
import type { SinkConfig } from '../../spec/spec-types.ts';
import { createAuthorizer } from './auth.ts';
import { HeldItem, SPILL_MEMORY_BYTES, openSpillFile } from './held-item.ts';
import type { HeldOperation, SpillSettings } from './held-item.ts';
import type { AuthDependencies } from './auth.ts';
import { DocumentRejectedError, OperationBuilder, bulkBody } from './request.ts';
import type { BulkOperation } from './request.ts';
import { excerpt, itemVerdict, parseBulkResponse, requestStatusRetryable } from './response.ts';
import type { CreateConflict } from './response.ts';
import { backoffMs, mayRetry, sleep } from './retry.ts';
import type { RetryPolicy } from './retry.ts';

/** A resolved `elasticsearch` or `opensearch` sink (`ResolvedSearchSink`): defaults applied, sizes in bytes. */
export type SearchSinkConfig = SinkConfig<'elasticsearch' | 'opensearch'>;

/** What a sink may use instead of the defaults: a `SearchIndex` (the local stand-in, tests) and auth dependencies. */
export interface SearchSinkDependencies extends AuthDependencies {
  index?: SearchIndex;
  /** Uniform in [0, 1): the jitter of backoff waits. */
  random?: () => number;
  /** Where and when staged items spill (tests): `os.tmpdir()`, past 8 MiB, by default. */
  spill?: Partial<SpillSettings>;
}

interface SearchSinkSettings {
  id: string;
  builder: OperationBuilder;
  index: SearchIndex;
  maxRecords: number;
  maxBytes: number;
  lanes: number;
  timeoutMs: number;
  retry: RetryPolicy;
  createConflict: CreateConflict;
  random: () => number;
  spill: SpillSettings;
}

/**
 * Builds a search sink. Templates compile once per cold start; the HTTP client is built unless
 * `dependencies.index` replaces it. Throws on a config the validator should have rejected.
 */
export function createSearchSink(id: string, config: SearchSinkConfig, dependencies: SearchSinkDependencies = {}): Sink {
  const { max_records: maxRecords, max_bytes: maxBytes } = config.batch;
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) throw new RangeError(`sink ${id}: batch.max_records must be a positive integer, got ${maxRecords}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`sink ${id}: batch.max_bytes must be a positive number of bytes, got ${maxBytes}`);
  const builder = new OperationBuilder({ index: config.index, id: config.id, routing: config.routing, version: config.version, pipeline: config.pipeline, action: config.action, maxBytes });
  const settings: SearchSinkSettings = {
    id,
    builder,
    index: dependencies.index ?? new HttpSearchIndex(config.endpoint, createAuthorizer(config.auth, config.endpoint, dependencies)),
    maxRecords,
    maxBytes,
    lanes: config.concurrency,
    timeoutMs: config.timeout_seconds * 1000,
    retry: { maxAttempts: config.retry.max_attempts, initialBackoffMs: config.retry.initial_backoff_ms, maxBackoffMs: config.retry.max_backoff_ms },
    createConflict: config.create_conflict,
    random: dependencies.random ?? Math.random,
    spill: { directory: tmpdir, memoryBytes: SPILL_MEMORY_BYTES, open: openSpillFile, ...dependencies.spill },
  };
  return { open: (invocation) => new SearchSinkWriter(settings, invocation) };
}

/** The `elasticsearch` sink plugin. */
export const elasticsearchSink: SinkPlugin<SearchSinkConfig> = {
  type: 'elasticsearch',
  create: (id, config) => createSearchSink(id, config),
};

/** The `opensearch` sink plugin: the same engine as `elasticsearch`. */
export const opensearchSink: SinkPlugin<SearchSinkConfig> = {
  type: 'opensearch',
  create: (id, config) => createSearchSink(id, config),
};

/** What one writer did, for metrics and for tests: operations by outcome, requests and their time. */
export interface SearchSinkStatistics {
  written: number;
  /** Operations sent again after a retryable answer (each resend counts). */
  retried: number;
  rejected: number;
  /** Operations left failed (retryable) when attempts or time ran out. */
  failed: number;
  requests: number;
  /** Total and largest time of one `_bulk` round trip, in milliseconds. */
  requestMs: number;
  maxRequestMs: number;
}

/** An operation waiting for its answer. */
interface Pending {
  readonly operation: BulkOperation;
  readonly ticket: Ticket;
}

/**
 * One invocation's requests. `add` renders a record into an operation at once (a record that can
 * never be indexed is rejected there, while the pipeline holds it) and appends it to its lane's
 * open request; it returns a promise only when a full request must wait for the lane, which is
 * the back-pressure that bounds memory. `close` sends what is left and resolves once every ticket
 * is settled.
 *
 * A staged item's operations wait for its commit (documents are visible once indexed,
 * docs/decisions/0010-item-commit-point.md) in a `HeldItem`, which spills them to a temporary
 * file past a small threshold, and its tickets settle as they are held: nothing per record is
 * kept for a whole S3 object. At commit they are read back in order into the lanes; a document
 * the cluster then refuses reaches the pipeline through `CommittedItem`, and an item whose
 * operations could not be kept fails for retry
 * (docs/decisions/0056-search-staged-items-in-bounded-memory.md).
 */
export class SearchSinkWriter implements SinkWriter {
  readonly statistics: SearchSinkStatistics = { written: 0, retried: 0, rejected: 0, failed: 0, requests: 0, requestMs: 0, maxRequestMs: 0 };
  private readonly lanes: Lane[];
  private nextLane = 0;
  /** Operations of staged items (S3 objects) not yet committed, by item. */
  private readonly held = new Map<number, HeldItem>();
  /** Staged items still held when the writer closed: `settle` fails them. */
  private readonly unfinished: ItemScope[] = [];

  constructor(
    private readonly settings: SearchSinkSettings,
    private readonly invocation: Invocation,
  ) {
    this.lanes = Array.from({ length: settings.lanes }, () => new Lane(this));
  }

  add(entry: SinkEntry): Promise<void> | void {
    let operation: BulkOperation;
    try {
      operation = this.settings.builder.build(entry.record, entry.meta, this.invocation.now);
    } catch (error) {
      if (!(error instanceof DocumentRejectedError)) throw error;
      this.statistics.rejected++;
      entry.ticket.failed({ code: 'sink-rejected', message: `sink ${this.settings.id}: ${error.message}`, retryable: false });
      return;
    }
    const { item } = entry;
    if (item.staged) {
      let held = this.held.get(item.index);
      if (held === undefined) this.held.set(item.index, (held = new HeldItem(item, this.settings.spill)));
      // Provisional, as every outcome of a staged item is until its commit.
      entry.ticket.written();
      return held.add({ operation, ordinal: entry.ordinal ?? 0, meta: entry.meta, raw: entry.raw ?? NO_BYTES });
    }
    return this.laneOf(operation).push({ operation, ticket: entry.ticket });
  }

  /** Sends a staged item's operations, in order, now that its input was read completely. */
  commit(item: ItemScope, committed: CommittedItem): Promise<void> | void {
    const held = this.held.get(item.index);
    if (held === undefined) return;
    this.held.delete(item.index);
    return held.replay((each) => this.laneOf(each.operation).push(new CommittedOperation(each, committed)));
  }

  /** Drops a staged item's operations unsent: its records' outcomes were replaced by the pipeline. */
  abort(item: ItemScope): Promise<void> | void {
    const held = this.held.get(item.index);
    if (held === undefined) return;
    this.held.delete(item.index);
    return held.discard();
  }

  async close(): Promise<void> {
    // An item neither committed nor aborted by now was never read completely: its documents
    // must not become visible, and as its tickets are settled, `settle` fails it for a retry.
    for (const held of this.held.values()) {
      this.unfinished.push(held.scope);
      await held.discard();
    }
    this.held.clear();
    await Promise.all(this.lanes.map((lane) => lane.drain()));
  }

  async settle(): Promise<SettleResult> {
    return { failed: this.unfinished.map((item) => ({ item, reason: `sink ${this.settings.id} closed before the item's input was read completely` })) };
  }

  private laneOf(operation: BulkOperation): Lane {
    if (this.lanes.length === 1) return this.lanes[0]!;
    if (operation.key === undefined) return this.lanes[this.nextLane++ % this.lanes.length]!;
    return this.lanes[stringHash(operation.key) % this.lanes.length]!;
  }

  /**
   * Sends `batch` until every operation in it is settled: retries what may pass, with backoff,
   * while attempts and the invocation's time last. Never rejects.
   */
  async send(batch: Pending[]): Promise<void> {
    const { retry, random } = this.settings;
    let pending = batch;
    let attempts = 0;
    let lastProblem = '';
    while (pending.length > 0) {
      if (attempts > 0) {
        const wait = backoffMs(retry, attempts, random);
        if (!mayRetry(retry, attempts, wait, Date.now(), this.invocation.deadline)) break;
        await sleep(wait);
        this.statistics.retried += pending.length;
        this.invocation.measure?.(this.settings.id, 'retried', pending.length);
      }
      attempts++;
      const outcome = await this.attempt(pending);
      if (outcome.split) {
        // A request the cluster found too large is halved, each half with fresh attempts; one
        // operation alone that is still too large can never be indexed.
        if (pending.length === 1) {
          this.reject(pending[0]!, `the cluster refused a ${pending[0]!.operation.bytes}-byte request as too large (413); lower batch.max_bytes or the document's size`);
          return;
        }
        const half = Math.ceil(pending.length / 2);
        await this.send(pending.slice(0, half));
        await this.send(pending.slice(half));
        return;
      }
      pending = outcome.retry;
      lastProblem = outcome.problem;
      if (outcome.final) break;
    }
    if (pending.length === 0) return;
    const failure: SinkFailure = {
      code: 'sink-error',
      message: `sink ${this.settings.id}: not indexed after ${attempts} attempt${attempts === 1 ? '' : 's'}${Date.now() >= this.invocation.deadline - 100 ? ' (the invocation ran out of time)' : ''}: ${lastProblem}`,
      retryable: true,
    };
    this.statistics.failed += pending.length;
    for (const entry of pending) entry.ticket.failed(failure);
  }

  /** One request; settles the operations its answer decides, and returns those to send again. */
  private async attempt(pending: Pending[]): Promise<{ retry: Pending[]; problem: string; split?: boolean; final?: boolean }> {
    const remaining = this.invocation.deadline - Date.now();
    if (remaining <= 0) return { retry: pending, problem: 'no time left to send the request', final: true };
    const started = performance.now();
    let answer;
    try {
      answer = await this.settings.index.bulk(bulkBody(pending), Math.min(this.settings.timeoutMs, remaining));
    } catch (error) {
      return { retry: pending, problem: `the request failed: ${describeError(error)}` };
    } finally {
      const elapsed = performance.now() - started;
      this.invocation.measure?.(this.settings.id, 'requests', 1);
      this.invocation.measure?.(this.settings.id, 'request_ms', Math.round(elapsed));
      this.statistics.requests++;
      this.statistics.requestMs += elapsed;
      this.statistics.maxRequestMs = Math.max(this.statistics.maxRequestMs, elapsed);
    }
    if (answer.status === 413) return { retry: pending, problem: 'request too large (413)', split: true };
    if (answer.status !== 200) {
      const problem = `the cluster answered ${answer.status}: ${excerpt(answer.body)}`;
      // Credentials refused, an index that may not be written: retried by Lambda later, not within this invocation.
      return requestStatusRetryable(answer.status) ? { retry: pending, problem } : { retry: pending, problem, final: true };
    }
    const parsed = parseBulkResponse(answer, pending.length);
    if (!parsed.ok) return { retry: pending, problem: parsed.problem };

    const retry: Pending[] = [];
    let problem = '';
    // A later full write (index, create, delete) of the same document that succeeded supersedes an
    // earlier one that must be retried: sending the earlier one again would undo the later one.
    const writtenLater = new Set<string>();
    const verdicts = new Array<'written' | 'retry' | 'rejected'>(pending.length);
    for (let index = pending.length - 1; index >= 0; index--) {
      const { operation } = pending[index]!;
      const item = parsed.items[index]!;
      let verdict = itemVerdict(operation.action, operation.versioned, item.status, this.settings.createConflict);
      if (verdict === 'retry' && operation.key !== undefined && operation.action !== 'update' && writtenLater.has(operation.key)) verdict = 'written';
      if (verdict === 'written' && operation.key !== undefined && operation.action !== 'update') writtenLater.add(operation.key);
      verdicts[index] = verdict;
    }
    for (let index = 0; index < pending.length; index++) {
      const entry = pending[index]!;
      const item = parsed.items[index]!;
      switch (verdicts[index]) {
        case 'written':
          this.statistics.written++;
          entry.ticket.written();
          break;
        case 'retry':
          retry.push(entry);
          problem ||= `the cluster answered ${item.status} for a document${item.error ? `: ${item.error}` : ''}`;
          break;
        default:
          this.reject(entry, `the cluster refused the document (${item.status}${item.error ? ` ${item.error}` : ''})`);
      }
    }
    return { retry, problem };
  }

  /** Fails an operation for good; the dead letter carries the document as the sink received it. */
  private reject(entry: Pending, reason: string): void {
    this.statistics.rejected++;
    entry.ticket.failed({ code: 'sink-rejected', message: `sink ${this.settings.id}: ${reason}`, retryable: false, record: JSON.parse(entry.operation.recordJson) as RecordValue });
  }

  /** @internal */
  get maxRecords(): number {
    return this.settings.maxRecords;
  }

  /** @internal */
  get maxBytes(): number {
    return this.settings.maxBytes;
  }
}

const NO_BYTES = new Uint8Array(0);

/**
 * An operation of a committed staged item, its own ticket: its record's ticket was settled when
 * the operation was held, so a refusal goes to the pipeline through `CommittedItem`.
 */
class CommittedOperation implements Pending, Ticket {
  readonly operation: BulkOperation;

  constructor(
    private readonly held: HeldOperation,
    private readonly committed: CommittedItem,
  ) {
    this.operation = held.operation;
  }

  get ticket(): Ticket {
    return this;
  }

  written(): void {}

  failed(failure: SinkFailure): void {
    const { ordinal, meta, raw } = this.held;
    void this.committed.failed({ ordinal, meta, raw, record: failure.record ?? (JSON.parse(this.operation.recordJson) as RecordValue) }, failure);
  }
}

/**
 * A sequence of requests: one open request filling while at most one is being sent. Operations
 * on one document always go to the same lane, so they reach the cluster in the order they came.
 */
class Lane {
  private open: Pending[] = [];
  private openBytes = 0;
  private sending: Promise<void> | undefined;

  constructor(private readonly writer: SearchSinkWriter) {}

  push(entry: Pending): Promise<void> | void {
    let waiting: Promise<void> | void = undefined;
    if (this.open.length > 0 && this.openBytes + entry.operation.bytes > this.writer.maxBytes) waiting = this.dispatch();
    this.open.push(entry);
    this.openBytes += entry.operation.bytes;
    if (this.open.length >= this.writer.maxRecords || this.openBytes >= this.writer.maxBytes) waiting = this.dispatch() ?? waiting;
    return waiting;
  }

  /** Sends the open request and everything before it; resolves once all are settled. */
  async drain(): Promise<void> {
    if (this.open.length > 0) await this.dispatch();
    while (this.sending) await this.sending;
  }

  /**
   * Closes the open request and queues it behind the one being sent. Resolves when the lane can
   * take another request: once the request sent before this one is settled.
   */
  private dispatch(): Promise<void> | void {
    if (this.open.length === 0) return;
    const batch = this.open;
    this.open = [];
    this.openBytes = 0;
    const before = this.sending;
    const sending: Promise<void> = (before ?? Promise.resolve()).then(() => this.writer.send(batch)).finally(() => {
      if (this.sending === sending) this.sending = undefined;
    });
    this.sending = sending;
    return before;
  }
}

/** FNV-1a over UTF-16 units: spreads document keys over lanes, the same lane for the same key. */
function stringHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** An error's message with its cause (fetch reports `fetch failed` and puts the reason in `cause`). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'no answer within the timeout';
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
