import type { Decoded, FailureCode, RecordValue, S3Meta } from '../../pipeline/record.ts';
import type { S3ObjectRef } from './event.ts';

const EMPTY = new Uint8Array(0);

/** What is known of the content read: the store's answer, or the event's where nothing was read. */
export interface ObjectContent {
  versionId?: string | undefined;
  etag?: string | undefined;
}

/**
 * The identity of one content of an object: its version id, else its ETag, else `undefined`
 * (a hand-written event read from a store that reports neither). `null` is the version id S3
 * gives every write while versioning is off or suspended, so it tells contents apart no better
 * than the key and the ETag is used instead. See docs/decisions/0007-s3-object-names.md.
 */
export function contentIdentity(content: ObjectContent): string | undefined {
  return realVersion(content.versionId) ?? content.etag;
}

/**
 * `meta.position` of a record of an object: `<bucket>/<key>@<content identity>:<line>`, or
 * `<bucket>/<key>:<line>` when the content has no identity. Object names and dead-letter names
 * derive from it, so the same content of an object always gets the same names and a new
 * content of the same key (a re-upload) gets new ones.
 */
export function objectPosition(bucket: string, key: string, content: ObjectContent, line: number): string {
  return `${positionPrefix(bucket, key, content)}${line}`;
}

/** `meta.position` of the object's records up to the line. */
function positionPrefix(bucket: string, key: string, content: ObjectContent): string {
  const identity = contentIdentity(content);
  return identity === undefined ? `${bucket}/${key}:` : `${bucket}/${key}@${identity}:`;
}

/** Builds the `Decoded` items of one object: the meta every record of it shares, plus its line. */
export class ObjectContext {
  /** Version and ETag of the content actually read, each falling back to the event's. */
  readonly content: ObjectContent;
  /** Made once per object rather than per record. */
  private readonly positionPrefix: string;

  constructor(
    readonly ref: S3ObjectRef,
    readonly sourceId: string,
    read: ObjectContent,
    readonly maxRecordBytes: number,
  ) {
    this.content = {
      versionId: realVersion(ref.versionId) ?? realVersion(read.versionId),
      etag: read.etag?.replace(/^"|"$/g, '') ?? ref.etag,
    };
    this.positionPrefix = positionPrefix(ref.bucket, ref.key, this.content);
  }

  meta(line: number): S3Meta {
    const meta: S3Meta = {
      event: 's3',
      source: this.sourceId,
      arrival_time: this.ref.eventTime,
      position: this.positionPrefix + line,
      bucket: this.ref.bucket,
      key: this.ref.key,
      line,
    };
    if (this.content.versionId !== undefined) meta.version_id = this.content.versionId;
    if (this.content.etag !== undefined) meta.etag = this.content.etag;
    return meta;
  }

  record(line: number, value: RecordValue, raw: Uint8Array): Decoded {
    return { outcome: 'record', value, meta: this.meta(line), raw };
  }

  deadLetter(line: number, raw: Uint8Array | undefined, code: FailureCode, message: string): Decoded {
    return { outcome: 'dead_letter', meta: this.meta(line), raw: raw ?? EMPTY, code, message };
  }

  /** The dead letter for a JSON value that is not an object, or the record when it is one. */
  recordOrNotAnObject(line: number, value: unknown, raw: Uint8Array, where: string): Decoded {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return this.record(line, value as RecordValue, raw);
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return this.deadLetter(line, raw, 'not-an-object', `${where} is JSON ${kind}, not an object`);
  }
}

function realVersion(versionId: string | undefined): string | undefined {
  return versionId === undefined || versionId === '' || versionId === 'null' ? undefined : versionId;
}
