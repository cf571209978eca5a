import { readFileSync } from 'node:fs';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { DynamoDbDecodeConfig } from '../../../../engine/sources/dynamodb/config.ts';

/** A captured event from test/fixtures/events/. */
export function dynamoDbFixture(name: string): DynamoDBStreamEvent {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8')) as DynamoDBStreamEvent;
}

/** The INSERT, MODIFY or REMOVE record of the captured sample event, as a fresh copy to adjust. */
export function sampleRecord(kind: 'INSERT' | 'MODIFY' | 'REMOVE'): DynamoDBRecord {
  const record = dynamoDbFixture('dynamodb-insert-modify-remove.json').Records.find((candidate) => candidate.eventName === kind);
  if (record === undefined) throw new Error(`the sample has no ${kind} record`);
  return structuredClone(record);
}

/** The sample record as a stream with view type KEYS_ONLY delivers it: no images. */
export function keysOnly(kind: 'INSERT' | 'MODIFY' | 'REMOVE'): DynamoDBRecord {
  const record = sampleRecord(kind);
  delete record.dynamodb!.NewImage;
  delete record.dynamodb!.OldImage;
  record.dynamodb!.StreamViewType = 'KEYS_ONLY';
  return record;
}

/** A MODIFY record whose NewImage holds `attributes` (AttributeValues, possibly malformed). */
export function modifyWithNewImage(attributes: Record<string, unknown>): DynamoDBRecord {
  const record = sampleRecord('MODIFY');
  record.dynamodb!.NewImage = { Id: { N: '101' }, ...attributes } as never;
  return record;
}

export function config(overrides: Partial<DynamoDbDecodeConfig> = {}): DynamoDbDecodeConfig {
  return { table: 'users', events: ['insert', 'modify', 'remove'], image: 'new', ...overrides };
}
