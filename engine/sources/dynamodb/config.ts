/**
 * The fields of a `dynamodb` source that decoding reads, with defaults already applied by the
 * caller. A structural subset of the generated `DynamodbSource` (engine/spec/spec-types.ts).
 */
export interface DynamoDbDecodeConfig {
  /** Table name; used for `meta.table` only when the event source ARN names none (then `''` without it). */
  table?: string;
  /** Event kinds to keep [insert, modify, remove]; the others are filtered. */
  events: ('insert' | 'modify' | 'remove')[];
  /** Which item image becomes the record [new]. See docs/decisions/0005-dynamodb-numbers.md. */
  image: 'new' | 'old' | 'both';
}
