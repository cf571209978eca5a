import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { DeployError } from './errors.ts';

/** Where an upload put an object, and whether it had to (false: the same content was already there). */
export interface UploadedObject {
  bucket: string;
  key: string;
  uploaded: boolean;
}

/** A file to upload under a name that is its content hash. */
export interface HashedFile {
  /** The object's name under the prefix: `<sha256>.zip`. */
  name: string;
  sha256: string;
  bytes: Uint8Array;
  contentType: string;
}

/** The key of `name` under `prefix`: `prefix/name`, with or without the prefix's trailing slash; `name` alone without a prefix. */
export function keyUnder(prefix: string | undefined, name: string): string {
  const folder = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return folder === '' ? name : `${folder}/${name}`;
}

/**
 * Puts `file` at `s3://bucket/prefix/name` unless an object there already carries the same
 * SHA-256 (recorded in its `sha256` metadata by an earlier upload): since the name is the content
 * hash, an unchanged package costs one HEAD request, not an upload. Throws `DeployError`
 * (`upload-failed`) with S3's reason when the bucket cannot be read or written; errors that
 * come before S3 answers (no region, no credentials, no connection) propagate as the SDK throws them.
 */
export async function uploadHashed(s3: S3Client, file: HashedFile, bucket: string, prefix?: string): Promise<UploadedObject> {
  const key = keyUnder(prefix, file.name);
  try {
    if ((await existingSha256(s3, bucket, key)) === file.sha256) return { bucket, key, uploaded: false };
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: file.bytes, ContentType: file.contentType, Metadata: { sha256: file.sha256 } }));
    return { bucket, key, uploaded: true };
  } catch (error) {
    // Only S3's answers are about this upload; no region, no credentials or no network are the caller's to explain.
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === undefined) throw error;
    throw new DeployError('upload-failed', `cannot upload s3://${bucket}/${key}: ${(error as Error).message || (error as Error).name}`, { cause: error });
  }
}

/** The `sha256` metadata of the object, or `undefined` when there is no object (or no such metadata). */
async function existingSha256(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata?.sha256;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  }
}
