import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLedger } from '../../engine/ports/dynamodb-ledger.ts';
import type { SlotFile } from '../../engine/ports/ledger.ts';
import { awsClientConfig, motoEndpoint } from '../support/env.ts';
import { countRequests, totalRequests as total } from '../support/request-counter.ts';
import { startSerializingProxy } from '../support/serializing-proxy.ts';
import { ledgerContract, stagedFile } from '../unit/ports/ledger.contract.ts';

const T0 = Date.UTC(2026, 11, 3, 8, 0, 0);

describe('DynamoDbLedger against moto', () => {
  const client = new DynamoDBClient(awsClientConfig());
  const tableName = `ingest-ledger-${randomUUID().slice(0, 8)}`;
  const ledger = new DynamoDbLedger(client, { tableName });
  const freshScope = () => `pipeline-${randomUUID().slice(0, 8)}/sink`;

  beforeAll(async () => {
    await client.send(new CreateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
  });

  afterAll(() => {
    client.destroy();
  });

  ledgerContract('DynamoDbLedger', async () => ({ ledger, scope: freshScope() }));

  /** The first write of a seal, and nothing after it: what a sealer that died leaves behind. */
  async function freezeOpenBatch(scope: string, next: number): Promise<void> {
    await client.send(new UpdateItemCommand({
      TableName: tableName,
      Key: { pk: { S: scope }, sk: { S: 'open' } },
      UpdateExpression: 'SET sealed_batch = #batch, sealed_files = #files, sealed_records = #records, sealed_bytes = #bytes, '
        + 'sealed_opened_at = opened_at, sealed_at = :now, #batch = :next, #files = :zero, #records = :zero, #bytes = :zero REMOVE opened_at',
      ExpressionAttributeNames: { '#batch': 'batch', '#files': 'files', '#records': 'records', '#bytes': 'bytes' },
      ExpressionAttributeValues: { ':now': { N: String(T0) }, ':next': { N: String(next) }, ':zero': { N: '0' } },
    }));
  }

  it('sends two requests per registered file and three per seal', async () => {
    const counted = new DynamoDBClient(awsClientConfig());
    const counts = countRequests(counted);
    const countedLedger = new DynamoDbLedger(counted, { tableName });
    const scope = freshScope();

    for (let index = 0; index < 20; index++) await countedLedger.register(scope, stagedFile(`f${index}`), T0);
    const registering = total(counts);
    await countedLedger.seal(scope, 1, T0);

    expect(registering / 20).toBe(2);
    expect(Object.fromEntries(counts)).toEqual({ UpdateItemCommand: 20 + 2, PutItemCommand: 20 + 1 });
    expect(total(counts) - registering).toBe(3);
    counted.destroy();
  });

  it('puts every file of 8 concurrent registrars in exactly one batch while batches seal', async () => {
    const proxy = await startSerializingProxy(motoEndpoint());
    const sealerClient = new DynamoDBClient({ ...awsClientConfig(), endpoint: proxy.url });
    const registrarClient = new DynamoDBClient({ ...awsClientConfig(), endpoint: proxy.url });
    try {
      const sealerLedger = new DynamoDbLedger(sealerClient, { tableName });
      const registrarLedger = new DynamoDbLedger(registrarClient, { tableName });
      const counts = countRequests(registrarClient);
      const scope = freshScope();
      const registrars = 8;
      const filesEach = 10;
      let registering = true;
      const sealer = (async () => {
        let sealed = 0;
        while (registering) {
          const open = await sealerLedger.openBatch(scope);
          if (open.totals.files > 0 && (await sealerLedger.seal(scope, open.batch, T0)) !== undefined) sealed++;
          await sleep(5);
        }
        return sealed;
      })();

      await Promise.all(Array.from({ length: registrars }, async (_, registrar) => {
        for (let index = 0; index < filesEach; index++) await registrarLedger.register(scope, stagedFile(`r${registrar}-${index}`, 1, 1), T0);
      }));
      registering = false;
      const sealedWhileRegistering = await sealer;
      const open = await sealerLedger.openBatch(scope);
      await sealerLedger.seal(scope, open.batch, T0);

      const keys: string[] = [];
      for (const batch of await sealerLedger.batches(scope)) {
        const files = await sealerLedger.files(scope, batch.batch);
        expect(files.missing).toEqual([]);
        expect(files.files).toHaveLength(batch.totals.files);
        keys.push(...files.files.map((file) => file.key));
      }
      expect(sealedWhileRegistering).toBeGreaterThan(1);
      expect(keys).toHaveLength(registrars * filesEach);
      expect(new Set(keys).size).toBe(registrars * filesEach);
      // Sealing never costs a registrar a request: two per file, races included.
      expect(total(counts)).toBe(2 * registrars * filesEach);
    } finally {
      sealerClient.destroy();
      registrarClient.destroy();
      await proxy.close();
    }
  }, 60_000);

  it('re-registers a file whose slot was abandoned before the registrar wrote it', async () => {
    const scope = freshScope();
    await ledger.register(scope, stagedFile('first'), T0);
    // What a loader leaves for slot 2 when its registrar has not written the file yet.
    await client.send(new PutItemCommand({
      TableName: tableName,
      Item: { pk: { S: `${scope}#0000000001` }, sk: { S: '0000000002' }, abandoned: { BOOL: true } },
    }));

    const registration = await ledger.register(scope, stagedFile('slow'), T0);

    expect(registration).toMatchObject({ batch: 1, slot: 3 });
    await ledger.seal(scope, 1, T0);
    const files = await ledger.files(scope, 1);
    expect(files.files.map((file: SlotFile) => [file.slot, file.key])).toEqual([[1, 'pipeline/sink/first.jsonl.gz'], [3, 'pipeline/sink/slow.jsonl.gz']]);
    expect(files.missing).toEqual([]);
  });

  it('completes a seal that died after freezing the open batch before sealing the next one', async () => {
    const scope = freshScope();
    await ledger.register(scope, stagedFile('a'), T0);
    await freezeOpenBatch(scope, 2);
    await ledger.register(scope, stagedFile('b'), T0 + 1);

    const sealed = await ledger.seal(scope, 2, T0 + 2);

    expect(sealed).toMatchObject({ batch: 2, totals: { files: 1 } });
    expect((await ledger.batches(scope)).map((batch) => [batch.batch, batch.totals.files])).toEqual([[1, 1], [2, 1]]);
  });

  it('completes a seal that died after freezing the open batch, on the next read', async () => {
    const scope = freshScope();
    await ledger.register(scope, stagedFile('a'), T0);
    await freezeOpenBatch(scope, 2);

    const open = await ledger.openBatch(scope);

    expect(open).toMatchObject({ batch: 2, totals: { files: 0 } });
    expect(await ledger.batches(scope)).toMatchObject([{ batch: 1, state: 'sealed', totals: { files: 1, records: 10, bytes: 1000, openedAt: T0 } }]);
    expect(await ledger.seal(scope, 1, T0)).toBeUndefined();
  });
});
