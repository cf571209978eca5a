// Records, metadata, tickets and a one-invocation runner for search sink tests.
import type { DynamoDbMeta, KinesisMeta, RecordMeta, RecordValue } from '../../../../engine/pipeline/record.ts';
import type { CommittedItem, Invocation, SinkEntry, SinkFailure, Ticket } from '../../../../engine/plugin/types.ts';
import { createSearchSink } from '../../../../engine/sinks/search/sink.ts';
import { applyDefaults } from '../../../../engine/spec/resolve.ts';
import type { SearchSink } from '../../../../engine/spec/spec-types.ts';
import type { SearchSinkConfig, SearchSinkDependencies, SearchSinkWriter } from '../../../../engine/sinks/search/sink.ts';

export function kinesisMeta(index: number): KinesisMeta {
  const sequence = String(49590338271490256608559692538361571095921575989136588898n + BigInt(index));
  return {
    event: 'kinesis',
    source: 'orders',
    arrival_time: '2026-11-27T10:00:00.000Z',
    position: `shardId-000000000000/${sequence}`,
    stream: 'orders',
    shard: 'shardId-000000000000',
    sequence,
    partition_key: `pk-${index}`,
  };
}

export function dynamoDbMeta(index: number, eventName: DynamoDbMeta['event_name'], keys: RecordValue): DynamoDbMeta {
  const sequence = String(100000000000000000000n + BigInt(index));
  return {
    event: 'dynamodb',
    source: 'users',
    arrival_time: '2026-11-27T10:00:00.000Z',
    position: `shardId-00000001/${sequence}`,
    table: 'users',
    sequence,
    event_name: eventName,
    keys,
    user_identity: null,
    ttl_delete: false,
    sets: [],
  } as DynamoDbMeta;
}

export interface TestTicket extends Ticket {
  readonly settlements: ({ outcome: 'written' } | { outcome: 'failed'; failure: SinkFailure })[];
}

export function makeTicket(): TestTicket {
  const settlements: TestTicket['settlements'] = [];
  return {
    settlements,
    written: () => void settlements.push({ outcome: 'written' }),
    failed: (failure) => void settlements.push({ outcome: 'failed', failure }),
  };
}

export function makeInvocation(deadlineInMs = 60_000): Invocation {
  return { state: new Map(), now: new Date('2026-11-27T10:30:00.000Z'), requestId: 'request-1', deadline: Date.now() + deadlineInMs };
}

export interface Input {
  record: RecordValue;
  meta: RecordMeta;
  /** A staged item (an S3 object) whose records wait for its commit. */
  item?: { index: number; staged: boolean };
}

/** `count` Kinesis records `{ event_id: e<i>, n: i }`. */
export function inputs(count: number, record: (index: number) => RecordValue = (index) => ({ event_id: `e${index}`, n: index })): Input[] {
  return Array.from({ length: count }, (_, index) => ({ record: record(index), meta: kinesisMeta(index) }));
}

/** What each ticket ended as, in input order: `written`, or the failure's code and retryability. */
export function outcomes(tickets: readonly TestTicket[]): string[] {
  return tickets.map((ticket) => {
    if (ticket.settlements.length !== 1) return `settled ${ticket.settlements.length} times`;
    const settlement = ticket.settlements[0]!;
    return settlement.outcome === 'written' ? 'written' : `${settlement.failure.code}${settlement.failure.retryable ? ' (retryable)' : ''}`;
  });
}

export function failureOf(ticket: TestTicket): SinkFailure | undefined {
  const settlement = ticket.settlements[0];
  return settlement?.outcome === 'failed' ? settlement.failure : undefined;
}

/** A `CommittedItem` that keeps the late failures a sink reports. */
export function committedItem(): CommittedItem & { failures: { meta: RecordMeta; record: RecordValue | undefined; failure: SinkFailure }[] } {
  const failures: { meta: RecordMeta; record: RecordValue | undefined; failure: SinkFailure }[] = [];
  return { failures, failed: ({ meta, record }, failure) => void failures.push({ meta, record, failure }) };
}

/**
 * Runs one invocation of a search sink over `entries`, awaiting each `add` as the pipeline does,
 * committing every item, then closing. Returns the tickets in input order and the writer.
 */
export async function runSink(config: SearchSinkConfig, entries: readonly Input[], dependencies: SearchSinkDependencies = {}, invocation = makeInvocation()) {
  const sink = createSearchSink('search', config, { random: () => 0, ...dependencies });
  const writer = sink.open(invocation) as SearchSinkWriter;
  const tickets: TestTicket[] = [];
  for (const [position, { record, meta, item }] of entries.entries()) {
    const ticket = makeTicket();
    tickets.push(ticket);
    const scope = item ?? { index: position, staged: false };
    const entry = { record, meta, ticket, item: scope } as SinkEntry;
    await writer.add(entry);
  }
  const staged = new Set(entries.filter((entry) => entry.item?.staged).map((entry) => entry.item!.index));
  const committed = committedItem();
  for (const index of staged) await writer.commit({ index, staged: true }, committed);
  await writer.close();
  return { tickets, writer, late: committed.failures };
}

/**
 * A resolved config for the server at `url`, without auth, one request at a time (so requests can
 * be counted): written as a user would, resolved by the `applyDefaults` that `ingest package` runs.
 */
export function searchConfig(url: string, overrides: Partial<SearchSink> = {}): SearchSinkConfig {
  const sink: SearchSink = { type: 'opensearch', inputs: ['orders'], endpoint: url, auth: { type: 'none' }, index: 'orders', id: '{{record.event_id}}', concurrency: 1, ...overrides };
  const spec = applyDefaults({ version: 1, name: 'test', sources: { orders: { type: 'kinesis', stream: 'orders' } }, sinks: { search: sink } });
  return spec.sinks.search as SearchSinkConfig;
}
