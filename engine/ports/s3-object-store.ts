import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { StagedObject } from './object-store.ts';
import type { GetOptions, ObjectStore, PutOptions, StoredObject } from './object-store.ts';

export interface S3ObjectStoreOptions {
  /**
   * Bodies given as bytes up to this size are sent with one PutObject; larger bodies and every
   * stream go through a multipart upload [8 MiB].
   */
  singlePutMaxBytes?: number;
  /** Multipart part size; S3's minimum is 5 MiB [8 MiB]. Memory held is about `partBytes × queueSize`. */
  partBytes?: number;
  /** Parts uploaded in parallel [4]. */
  queueSize?: number;
}

const MIB = 1024 * 1024;

/**
 * The `ObjectStore` of a deployed pipeline: Amazon S3 through an SDK v3 client the caller
 * configures (region, credentials, endpoint). `get` streams the body without buffering it (the
 * version asked for, when given) and resolves to `undefined` on `NoSuchKey` and `NoSuchVersion`;
 * a missing bucket, a denied request and any other error reject. `put` of a stream uses `@aws-sdk/lib-storage`'s multipart `Upload`, which
 * aborts the multipart upload when a part fails, so no orphaned parts are left behind.
 */
export class S3ObjectStore implements ObjectStore {
  private readonly singlePutMaxBytes: number;
  private readonly partBytes: number;
  private readonly queueSize: number;

  constructor(
    private readonly client: S3Client,
    options: S3ObjectStoreOptions = {},
  ) {
    this.partBytes = options.partBytes ?? 8 * MIB;
    this.singlePutMaxBytes = options.singlePutMaxBytes ?? this.partBytes;
    this.queueSize = options.queueSize ?? 4;
    if (this.partBytes < 5 * MIB) throw new RangeError('partBytes must be at least 5 MiB, the S3 minimum part size');
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    let response;
    try {
      const version = options.versionId === undefined ? {} : { VersionId: options.versionId };
      response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...version }));
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw error;
    }
    const body: unknown = response.Body;
    if (!(body instanceof Readable)) {
      throw new TypeError(`GetObject s3://${bucket}/${key} returned a body that is not a Node.js stream`);
    }
    const object: StoredObject = { body };
    if (response.ContentLength !== undefined) object.size = response.ContentLength;
    if (response.ETag !== undefined) object.etag = response.ETag;
    if (response.VersionId !== undefined) object.versionId = response.VersionId;
    return object;
  }

  async put(bucket: string, key: string, body: Uint8Array | Readable, options: PutOptions): Promise<void> {
    const params = {
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: options.contentType,
      ...(options.contentEncoding === undefined ? {} : { ContentEncoding: options.contentEncoding }),
    };
    if (body instanceof Uint8Array && body.byteLength <= this.singlePutMaxBytes) {
      await this.client.send(new PutObjectCommand(params));
      return;
    }
    const upload = new Upload({ client: this.client, params, partSize: this.partBytes, queueSize: this.queueSize, leavePartsOnError: false });
    await upload.done();
  }

  /**
   * A multipart upload of `body` in parts of `partBytes` (the last one shorter), left
   * uncompleted: `publish` completes it, `discard` aborts it. A part that fails aborts the
   * upload before the promise rejects, so no parts are left behind.
   */
  async stage(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<StagedObject> {
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: options.contentType,
        ...(options.contentEncoding === undefined ? {} : { ContentEncoding: options.contentEncoding }),
      }),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new TypeError(`CreateMultipartUpload s3://${bucket}/${key} returned no UploadId`);
    const abort = async () => {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    };
    const parts: { PartNumber: number; ETag: string | undefined }[] = [];
    try {
      // An empty body is still one (empty) part: S3 completes no upload without parts.
      for (let offset = 0, number = 1; offset < body.byteLength || number === 1; offset += this.partBytes, number++) {
        const part = body.subarray(offset, Math.min(offset + this.partBytes, body.byteLength));
        const uploaded = await this.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: part }));
        parts.push({ PartNumber: number, ETag: uploaded.ETag });
      }
    } catch (error) {
      await abort().catch(() => {});
      throw error;
    }
    return {
      publish: async () => {
        await this.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      },
      discard: abort,
    };
  }
}

function isNoSuchKey(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  if (name === 'NoSuchKey' || name === 'NoSuchVersion') return true;
  // Some S3-compatible stores answer 404 without the NoSuchKey code; a missing bucket always has its own.
  return $metadata?.httpStatusCode === 404 && name !== 'NoSuchBucket';
}
