import type { Decoded, FailureCode, RecordValue, S3Meta } from '../../pipeline/record.ts';
import type { S3ObjectRef } from './event.ts';

const EMPTY = new Uint8Array(0);

/** Builds the `Decoded` items of one object: the meta every record of it shares, plus its line. */
export class ObjectContext {
  constructor(
    readonly ref: S3ObjectRef,
    readonly sourceId: string,
    /** ETag of the content actually read (falls back to the event's). */
    readonly etag: string | undefined,
    readonly maxRecordBytes: number,
  ) {}

  meta(line: number): S3Meta {
    const meta: S3Meta = {
      event: 's3',
      source: this.sourceId,
      arrival_time: this.ref.eventTime,
      position: `${this.ref.bucket}/${this.ref.key}:${line}`,
      bucket: this.ref.bucket,
      key: this.ref.key,
      line,
    };
    if (this.etag !== undefined) meta.etag = this.etag;
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
