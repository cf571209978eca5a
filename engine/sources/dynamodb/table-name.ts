/** The table a `dynamodb` source reads: `table` when given, else the table named in `stream_arn` (`arn:...:table/NAME/stream/...`). */
export function dynamoDbTableName(source: { table?: string; stream_arn?: string }, fallback: string): string {
  return source.table ?? /:table\/([^/]+)\//.exec(source.stream_arn ?? '')?.[1] ?? fallback;
}
