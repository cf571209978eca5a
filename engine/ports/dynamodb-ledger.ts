import {
  GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type {
  BatchFiles, BatchRecord, BatchState, BatchTotals, FinishOutcome, Ledger, LeaseRefusal, OpenBatch, Registration, SlotFile, StagedFile,
} from './ledger.ts';

export interface DynamoDbLedgerOptions {
  /** The ledger table: string partition key `pk`, string sort key `sk`, TTL on `expires_at`. */
  tableName: string;
  /** How long finished (loaded, skipped) batches stay listed, in seconds [30 days]. */
  finishedRetentionSeconds?: number;
  /**
   * How long a file's item lives from registration, in seconds [30 days]. A batch still failed
   * after this long can no longer be retried from the ledger; its failure notification said so.
   */
  fileRetentionSeconds?: number;
  /** Registrations of one file whose slot keeps being abandoned before it is given up with an error [20]. */
  maxSlotAttempts?: number;
}

type Item = Record<string, AttributeValue>;

const DAY_SECONDS = 86_400;
const OPEN_KEY = 'open';
const BATCH_PREFIX = 'batch#';
/** The highest batch number a 10-digit key holds. */
const LAST_BATCH = 9_999_999_999;
const OPEN_NAMES = { '#batch': 'batch', '#files': 'files', '#records': 'records', '#bytes': 'bytes', '#opened': 'opened_at' };
const SEALED_NAMES = {
  '#sealedBatch': 'sealed_batch', '#sealedFiles': 'sealed_files', '#sealedRecords': 'sealed_records', '#sealedBytes': 'sealed_bytes',
  '#sealedOpened': 'sealed_opened_at', '#sealedAt': 'sealed_at',
};

/**
 * The `Ledger` of a deployed pipeline, in one DynamoDB table shared by the pipeline's sinks
 * (design: docs/decisions/0031-exactly-once-warehouse-loads.md). Items, keyed `pk`/`sk`:
 *
 * | item | pk | sk | attributes |
 * | --- | --- | --- | --- |
 * | open batch | `<scope>` | `open` | `batch`, `files`, `records`, `bytes`, `opened_at` |
 * | batch | `<scope>` | `batch#<10-digit n>` | `state`, totals, lease, `statement_id`, `error`, `expires_at` |
 * | file | `<scope>#<10-digit n>` | `<10-digit slot>` | `bucket`, `key`, `records`, `bytes` (or `abandoned`), `expires_at` |
 *
 * Registration is an `UpdateItem` of the open batch (ADD to its counters; the new file count is
 * the file's slot) and a conditional `PutItem` of the file: two requests, no read, no
 * transaction. Sealing is one conditional `UpdateItem` of the open batch that freezes its totals
 * into `sealed_*` attributes and moves it to the next number, so a registration lands either
 * before it (a slot of the sealed batch) or after it (the next batch); then a `PutItem` creates
 * the batch item and an `UpdateItem` clears `sealed_*`. A seal interrupted between those is
 * completed by the next `seal` or `openBatch`. No transactions: nothing conflicts with the hot
 * open-batch item's plain updates. DynamoDB errors other than a failed condition reject.
 */
export class DynamoDbLedger implements Ledger {
  private readonly table: string;
  private readonly finishedRetentionSeconds: number;
  private readonly fileRetentionSeconds: number;
  private readonly maxSlotAttempts: number;

  constructor(
    private readonly client: DynamoDBClient,
    options: DynamoDbLedgerOptions,
  ) {
    this.table = options.tableName;
    this.finishedRetentionSeconds = options.finishedRetentionSeconds ?? 30 * DAY_SECONDS;
    this.fileRetentionSeconds = options.fileRetentionSeconds ?? 30 * DAY_SECONDS;
    this.maxSlotAttempts = options.maxSlotAttempts ?? 20;
  }

  async register(scope: string, file: StagedFile, now: number): Promise<Registration> {
    for (let attempt = 1; ; attempt++) {
      const registration = await this.reserve(scope, file, now);
      const placed = await this.place(scope, registration, file, now);
      if (placed) return registration;
      // The loader abandoned our slot before we wrote it: the batch was sealed and built without
      // us. Register again; the open batch is a later one now.
      if (attempt >= this.maxSlotAttempts) throw new Error(`ledger ${scope}: a file lost its slot ${attempt} times in a row`);
    }
  }

  private async reserve(scope: string, file: StagedFile, now: number): Promise<Registration> {
    const response = await this.client.send(new UpdateItemCommand({
      TableName: this.table,
      Key: key(scope, OPEN_KEY),
      UpdateExpression: 'SET #batch = if_not_exists(#batch, :first), #opened = if_not_exists(#opened, :now) ADD #files :one, #records :records, #bytes :bytes',
      ExpressionAttributeNames: OPEN_NAMES,
      ExpressionAttributeValues: { ':first': number(1), ':now': number(now), ':one': number(1), ':records': number(file.records), ':bytes': number(file.dataBytes ?? file.bytes) },
      ReturnValues: 'ALL_NEW',
    }));
    const item = response.Attributes ?? {};
    const totals = totalsOf(item);
    return { batch: numberOf(item, 'batch'), slot: totals.files, totals };
  }

  private async place(scope: string, registration: Registration, file: StagedFile, now: number): Promise<boolean> {
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: {
          ...key(filesKey(scope, registration.batch), slotKey(registration.slot)),
          bucket: { S: file.bucket },
          key: { S: file.key },
          records: number(file.records),
          bytes: number(file.bytes),
          expires_at: number(Math.floor(now / 1000) + this.fileRetentionSeconds),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Also completes a seal that was interrupted after freezing its totals. */
  async openBatch(scope: string): Promise<OpenBatch> {
    const response = await this.client.send(new GetItemCommand({ TableName: this.table, Key: key(scope, OPEN_KEY), ConsistentRead: true }));
    const item = response.Item;
    if (item === undefined) return { batch: 1, totals: { files: 0, records: 0, bytes: 0, openedAt: 0 } };
    if (item.sealed_batch !== undefined) await this.completeSeal(scope, item);
    return { batch: numberOf(item, 'batch'), totals: totalsOf(item) };
  }

  async seal(scope: string, expected: number, now: number): Promise<BatchRecord | undefined> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        // One write, no read before it: the copies on the left read the values before this update,
        // so the totals frozen into `sealed_*` are exactly the slots handed out for this batch.
        const response = await this.client.send(new UpdateItemCommand({
          TableName: this.table,
          Key: key(scope, OPEN_KEY),
          ConditionExpression: '#batch = :batch AND #files > :zero AND attribute_not_exists(#sealedBatch)',
          UpdateExpression: 'SET #sealedBatch = #batch, #sealedFiles = #files, #sealedRecords = #records, #sealedBytes = #bytes, '
            + '#sealedOpened = #opened, #sealedAt = :now, #batch = :next, #files = :zero, #records = :zero, #bytes = :zero REMOVE #opened',
          ExpressionAttributeNames: { ...OPEN_NAMES, ...SEALED_NAMES },
          ExpressionAttributeValues: { ':batch': number(expected), ':next': number(expected + 1), ':zero': number(0), ':now': number(now) },
          ReturnValues: 'ALL_NEW',
        }));
        return await this.completeSeal(scope, response.Attributes ?? {});
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      }
      // Either the batch moved on or is empty, or an earlier seal died before recording its batch:
      // finish that one, then try again.
      const open = await this.client.send(new GetItemCommand({ TableName: this.table, Key: key(scope, OPEN_KEY), ConsistentRead: true }));
      const item = open.Item ?? {};
      if (item.sealed_batch !== undefined) {
        await this.completeSeal(scope, item);
        continue;
      }
      return undefined;
    }
    return undefined;
  }

  /**
   * Creates the batch item from the totals a seal froze into the open item, then clears them.
   * Idempotent: called by the sealer, or by the next seal when the sealer died in between.
   */
  private async completeSeal(scope: string, open: Item): Promise<BatchRecord> {
    const record: BatchRecord = {
      batch: numberOf(open, 'sealed_batch'),
      state: 'sealed',
      totals: { files: numberOf(open, 'sealed_files'), records: numberOf(open, 'sealed_records'), bytes: numberOf(open, 'sealed_bytes'), openedAt: numberOf(open, 'sealed_opened_at') },
      sealedAt: numberOf(open, 'sealed_at'),
      attempts: 0,
    };
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: batchItem(scope, record), ConditionExpression: 'attribute_not_exists(pk)' }));
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
    await this.conditional(new UpdateItemCommand({
      TableName: this.table,
      Key: key(scope, OPEN_KEY),
      ConditionExpression: '#sealedBatch = :batch',
      UpdateExpression: 'REMOVE #sealedBatch, #sealedFiles, #sealedRecords, #sealedBytes, #sealedOpened, #sealedAt',
      ExpressionAttributeNames: SEALED_NAMES,
      ExpressionAttributeValues: { ':batch': number(record.batch) },
    }));
    return record;
  }

  async files(scope: string, batch: number): Promise<BatchFiles> {
    const record = await this.batch(scope, batch);
    const stored = new Map<number, SlotFile | null>();
    let startKey: Item | undefined;
    do {
      const page = await this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: filesKey(scope, batch) } },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }));
      for (const item of page.Items ?? []) {
        const slot = Number(item.sk?.S);
        stored.set(slot, item.abandoned?.BOOL === true ? null : slotFileOf(item, slot));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    const files: SlotFile[] = [];
    const missing: number[] = [];
    for (let slot = 1; slot <= (record?.totals.files ?? 0); slot++) {
      const file = stored.get(slot);
      if (file === undefined) missing.push(slot);
      else if (file !== null) files.push(file);
    }
    return { files, missing };
  }

  async abandonSlots(scope: string, batch: number, slots: readonly number[], now: number): Promise<SlotFile[]> {
    const written: SlotFile[] = [];
    for (const slot of slots) {
      const slotItemKey = key(filesKey(scope, batch), slotKey(slot));
      try {
        await this.client.send(new PutItemCommand({
          TableName: this.table,
          Item: { ...slotItemKey, abandoned: { BOOL: true }, expires_at: number(Math.floor(now / 1000) + this.fileRetentionSeconds) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }));
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
        const response = await this.client.send(new GetItemCommand({ TableName: this.table, Key: slotItemKey, ConsistentRead: true }));
        if (response.Item !== undefined && response.Item.abandoned?.BOOL !== true) written.push(slotFileOf(response.Item, slot));
      }
    }
    return written;
  }

  async claim(scope: string, batch: number, owner: string, now: number, leaseMs: number): Promise<BatchRecord | LeaseRefusal> {
    try {
      const response = await this.client.send(new UpdateItemCommand({
        TableName: this.table,
        Key: key(scope, batchKey(batch)),
        ConditionExpression: 'attribute_exists(pk) AND (#state = :sealed OR (#state = :loading AND #expires < :now))',
        UpdateExpression: 'SET #state = :loading, #owner = :owner, #expires = :expires ADD #attempts :one',
        ExpressionAttributeNames: { '#state': 'state', '#owner': 'lease_owner', '#expires': 'lease_expires_at', '#attempts': 'attempts' },
        ExpressionAttributeValues: {
          ':sealed': { S: 'sealed' }, ':loading': { S: 'loading' }, ':now': number(now), ':owner': { S: owner },
          ':expires': number(now + leaseMs), ':one': number(1),
        },
        ReturnValues: 'ALL_NEW',
      }));
      return batchRecordOf(response.Attributes ?? {});
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      const current = await this.batch(scope, batch);
      if (current === undefined) return 'not-found';
      return current.state === 'loading' ? 'lease-held' : 'not-claimable';
    }
  }

  async renew(scope: string, batch: number, owner: string, expiresAt: number): Promise<boolean> {
    return this.whileHeld(scope, batch, owner, 'SET #expires = :expires', { '#expires': 'lease_expires_at' }, { ':expires': number(expiresAt) });
  }

  async recordStatement(scope: string, batch: number, owner: string, statementId: string): Promise<boolean> {
    return this.whileHeld(scope, batch, owner, 'SET #statement = :statement', { '#statement': 'statement_id' }, { ':statement': { S: statementId } });
  }

  async finish(scope: string, batch: number, owner: string, outcome: FinishOutcome, now: number): Promise<boolean> {
    const names: Record<string, string> = { '#finished': 'finished_at', '#owner': 'lease_owner', '#expires': 'lease_expires_at' };
    const values: Item = { ':state': { S: outcome.state }, ':finished': number(now) };
    const set = ['#state = :state', '#finished = :finished'];
    const remove = ['#owner', '#expires'];
    if (outcome.rows !== undefined) {
      set.push('#rows = :rows');
      names['#rows'] = 'rows';
      values[':rows'] = number(outcome.rows);
    }
    names['#error'] = 'error';
    if (outcome.error !== undefined) {
      set.push('#error = :error');
      values[':error'] = { S: outcome.error };
    } else {
      remove.push('#error');
    }
    if (outcome.state === 'loaded') {
      set.push('#ttl = :ttl');
      names['#ttl'] = 'expires_at';
      values[':ttl'] = number(Math.floor(now / 1000) + this.finishedRetentionSeconds);
    }
    return this.whileHeld(scope, batch, owner, `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`, names, values);
  }

  async retry(scope: string, batch: number): Promise<boolean> {
    return this.conditional(new UpdateItemCommand({
      TableName: this.table,
      Key: key(scope, batchKey(batch)),
      ConditionExpression: '#state = :failed',
      UpdateExpression: 'SET #state = :sealed REMOVE #statement, #finished',
      ExpressionAttributeNames: { '#state': 'state', '#statement': 'statement_id', '#finished': 'finished_at' },
      ExpressionAttributeValues: { ':failed': { S: 'failed' }, ':sealed': { S: 'sealed' } },
    }));
  }

  async skip(scope: string, batch: number, reason: string, now: number): Promise<boolean> {
    return this.conditional(new UpdateItemCommand({
      TableName: this.table,
      Key: key(scope, batchKey(batch)),
      ConditionExpression: '#state IN (:sealed, :failed)',
      UpdateExpression: 'SET #state = :skipped, #error = :reason, #finished = :now, #ttl = :ttl',
      ExpressionAttributeNames: { '#state': 'state', '#error': 'error', '#finished': 'finished_at', '#ttl': 'expires_at' },
      ExpressionAttributeValues: {
        ':sealed': { S: 'sealed' }, ':failed': { S: 'failed' }, ':skipped': { S: 'skipped' }, ':reason': { S: reason },
        ':now': number(now), ':ttl': number(Math.floor(now / 1000) + this.finishedRetentionSeconds),
      },
    }));
  }

  async batch(scope: string, batch: number): Promise<BatchRecord | undefined> {
    const response = await this.client.send(new GetItemCommand({ TableName: this.table, Key: key(scope, batchKey(batch)), ConsistentRead: true }));
    return response.Item && batchRecordOf(response.Item);
  }

  async batches(scope: string, states?: readonly BatchState[], from = 1): Promise<BatchRecord[]> {
    const records: BatchRecord[] = [];
    let startKey: Item | undefined;
    do {
      // Batch keys are zero-padded, so the range reads only the batches from `from` on.
      const page = await this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': { S: scope }, ':from': { S: batchKey(Math.max(1, from)) }, ':to': { S: batchKey(LAST_BATCH) } },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }));
      for (const item of page.Items ?? []) {
        const record = batchRecordOf(item);
        if (states === undefined || states.includes(record.state)) records.push(record);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return records;
  }

  private whileHeld(scope: string, batch: number, owner: string, update: string, names: Record<string, string>, values: Item): Promise<boolean> {
    return this.conditional(new UpdateItemCommand({
      TableName: this.table,
      Key: key(scope, batchKey(batch)),
      ConditionExpression: '#state = :loading AND #holder = :holder',
      UpdateExpression: update,
      ExpressionAttributeNames: { ...names, '#state': 'state', '#holder': 'lease_owner' },
      ExpressionAttributeValues: { ...values, ':loading': { S: 'loading' }, ':holder': { S: owner } },
    }));
  }

  private async conditional(command: UpdateItemCommand): Promise<boolean> {
    try {
      await this.client.send(command);
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}


function key(pk: string, sk: string): Item {
  return { pk: { S: pk }, sk: { S: sk } };
}

function pad(value: number): string {
  return String(value).padStart(10, '0');
}

function batchKey(batch: number): string {
  return BATCH_PREFIX + pad(batch);
}

function filesKey(scope: string, batch: number): string {
  return `${scope}#${pad(batch)}`;
}

function slotKey(slot: number): string {
  return pad(slot);
}

function number(value: number): AttributeValue {
  return { N: String(value) };
}

function numberOf(item: Item, name: string): number {
  const value = item[name]?.N;
  return value === undefined ? 0 : Number(value);
}

function totalsOf(item: Item): BatchTotals {
  return { files: numberOf(item, 'files'), records: numberOf(item, 'records'), bytes: numberOf(item, 'bytes'), openedAt: numberOf(item, 'opened_at') };
}

function batchItem(scope: string, record: BatchRecord): Item {
  return {
    ...key(scope, batchKey(record.batch)),
    batch: number(record.batch),
    state: { S: record.state },
    files: number(record.totals.files),
    records: number(record.totals.records),
    bytes: number(record.totals.bytes),
    opened_at: number(record.totals.openedAt),
    sealed_at: number(record.sealedAt),
    attempts: number(record.attempts),
  };
}

function batchRecordOf(item: Item): BatchRecord {
  const record: BatchRecord = {
    batch: numberOf(item, 'batch'),
    state: (item.state?.S ?? 'sealed') as BatchRecord['state'],
    totals: totalsOf(item),
    sealedAt: numberOf(item, 'sealed_at'),
    attempts: numberOf(item, 'attempts'),
  };
  if (item.lease_owner?.S !== undefined) record.leaseOwner = item.lease_owner.S;
  if (item.lease_expires_at?.N !== undefined) record.leaseExpiresAt = Number(item.lease_expires_at.N);
  if (item.statement_id?.S !== undefined) record.statementId = item.statement_id.S;
  if (item.error?.S !== undefined) record.error = item.error.S;
  if (item.rows?.N !== undefined) record.rows = Number(item.rows.N);
  if (item.finished_at?.N !== undefined) record.finishedAt = Number(item.finished_at.N);
  return record;
}

function slotFileOf(item: Item, slot: number): SlotFile {
  return { slot, bucket: item.bucket?.S ?? '', key: item.key?.S ?? '', records: numberOf(item, 'records'), bytes: numberOf(item, 'bytes') };
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as { name?: string }).name : undefined;
}
