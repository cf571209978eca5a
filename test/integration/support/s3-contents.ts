// Reading back what a pipeline left in moto's S3. The engine is never asked: objects are listed
// and fetched with the SDK, as a user inspecting the bucket would.
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';

/** A name no other test file uses: moto is shared by every file of the run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Creates each bucket; resolves once all exist. */
export async function createBuckets(client: S3Client, ...buckets: string[]): Promise<void> {
  await Promise.all(buckets.map((bucket) => client.send(new CreateBucketCommand({ Bucket: bucket }))));
}

/** Every key in `bucket` (under `prefix`), sorted; follows continuation tokens. */
export async function listKeys(client: S3Client, bucket: string, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, ...(prefix === undefined ? {} : { Prefix: prefix }) }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

/** One stored object as a reader sees it: headers, and its body after `Content-Encoding` is undone. */
export interface StoredObjectView {
  key: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** The body, gunzipped when the object says `Content-Encoding: gzip`. */
  text: string;
}

/** Fetches one object; rejects when it does not exist or claims gzip but is not. */
export async function readObject(client: S3Client, bucket: string, key: string): Promise<StoredObjectView> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await response.Body!.transformToByteArray());
  const text = (response.ContentEncoding === 'gzip' ? gunzipSync(bytes) : bytes).toString('utf8');
  return { key, contentType: response.ContentType, contentEncoding: response.ContentEncoding, text };
}

/** Every object of `bucket` (under `prefix`), in key order. */
export async function readObjects(client: S3Client, bucket: string, prefix?: string): Promise<StoredObjectView[]> {
  const keys = await listKeys(client, bucket, prefix);
  return Promise.all(keys.map((key) => readObject(client, bucket, key)));
}

/** The JSON lines of a JSON-lines body, parsed. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The JSON lines of every object in `bucket`, concatenated in key order. */
export async function recordsIn(client: S3Client, bucket: string, prefix?: string): Promise<Record<string, unknown>[]> {
  return (await readObjects(client, bucket, prefix)).flatMap((object) => jsonLines(object.text));
}
