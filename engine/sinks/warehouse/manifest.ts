/**
 * The documents a Redshift COPY of one batch reads: the manifest listing the batch's staged files
 * and the jsonpaths document mapping staged JSON rows to columns. Both have deterministic keys
 * under the sink's staging prefix, so a loader that writes them again after a crash (or a second
 * loader that took the lease over) writes the same bytes to the same key. See
 * docs/decisions/0031-exactly-once-warehouse-loads.md, section 4.
 */
import { createHash } from 'node:crypto';
import type { ObjectStore } from '../../ports/object-store.ts';
import type { StagedFile } from '../../ports/ledger.ts';
import { jsonPathsDocument } from '../sql/load-transaction.ts';

/** One entry of a Redshift COPY manifest. */
export interface ManifestEntry {
  url: string;
  mandatory: true;
  meta: { content_length: number };
}

export interface Manifest {
  entries: ManifestEntry[];
}

/** Where the manifest and jsonpaths documents of a batch were written. */
export interface ManifestLocation {
  manifestUrl: string;
  /** Absent for CSV staging, which COPY maps by field order. */
  jsonPathsUrl?: string;
}

/** The staging prefix of a sink: the configured one, or `<pipeline>/<sink id>/` (the ledger scope and a slash). */
export function stagingPrefix(configured: string | undefined, scope: string): string {
  return configured ?? `${scope}/`;
}

/** `<prefix>manifests/<batch, 10 digits>.json`: one key per batch, so a rewrite replaces it with the same content. */
export function manifestKey(prefix: string, batch: number): string {
  if (!Number.isSafeInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, not ${batch}`);
  return `${prefix}manifests/${String(batch).padStart(10, '0')}.json`;
}

/**
 * `<prefix>jsonpaths/<SHA-256 hex of the columns>.json`: the document depends only on the
 * columns, so every batch of a sink shares it, and a spec whose columns change gets a new one
 * instead of changing the one a running COPY reads.
 */
export function jsonPathsKey(prefix: string, columns: readonly string[]): string {
  const digest = createHash('sha256').update(JSON.stringify(columns)).digest('hex');
  return `${prefix}jsonpaths/${digest}.json`;
}

/** The `s3://` URL COPY reads an object by. */
export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * The manifest of a batch: its files in the order given (slot order), each object listed once
 * even when it was registered in several slots (a duplicate S3 event stages the same records
 * under the same name; the load removes duplicate records, and listing the object twice would
 * only make COPY read it twice). `mandatory` makes COPY fail rather than skip a file that is
 * gone; `content_length` is the registered size, which COPY checks.
 */
export function manifestDocument(files: readonly StagedFile[]): Manifest {
  return { entries: distinctFiles(files).map((file) => ({ url: s3Url(file.bucket, file.key), mandatory: true, meta: { content_length: file.bytes } })) };
}

/**
 * The files in the order given, each object once: what a load reads, from the manifest or
 * through the client. Staged names derive from the records a file holds, so two slots naming one
 * key hold the same records.
 */
export function distinctFiles<T extends StagedFile>(files: readonly T[]): T[] {
  const seen = new Set<string>();
  return files.filter((file) => {
    const url = s3Url(file.bucket, file.key);
    if (seen.has(url)) return false;
    seen.add(url);
    return true;
  });
}

export interface ManifestRequest {
  objects: ObjectStore;
  /** The staging bucket, which holds the manifest and jsonpaths documents too. */
  bucket: string;
  prefix: string;
  batch: number;
  files: readonly StagedFile[];
  columns: readonly string[];
  format: 'jsonl' | 'csv';
}

/**
 * Writes a batch's manifest (and, for JSON staging, the jsonpaths document) with plain puts:
 * the keys are deterministic and the content a function of the batch's final file list, so
 * writing them again is harmless. Rejects when a put fails.
 */
export async function writeManifest(request: ManifestRequest): Promise<ManifestLocation> {
  const { objects, bucket, prefix } = request;
  const json = { contentType: 'application/json' };
  const manifest = manifestKey(prefix, request.batch);
  const writes = [objects.put(bucket, manifest, encode(manifestDocument(request.files)), json)];
  let jsonPathsUrl: string | undefined;
  if (request.format === 'jsonl') {
    const key = jsonPathsKey(prefix, request.columns);
    writes.push(objects.put(bucket, key, encode(jsonPathsDocument(request.columns)), json));
    jsonPathsUrl = s3Url(bucket, key);
  }
  await Promise.all(writes);
  return { manifestUrl: s3Url(bucket, manifest), ...(jsonPathsUrl === undefined ? {} : { jsonPathsUrl }) };
}

function encode(document: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(document));
}
