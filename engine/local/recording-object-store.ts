import type { Readable } from 'node:stream';
import type { StagedObject } from '../ports/object-store.ts';
import type { GetOptions, ObjectStore, PutOptions, StoredObject } from '../ports/object-store.ts';

/** Wraps a store and remembers every object written through it, for the summary of a local run. */
export class RecordingObjectStore implements ObjectStore {
  readonly written: { bucket: string; key: string }[] = [];

  constructor(private readonly inner: ObjectStore) {}

  get(bucket: string, key: string, options?: GetOptions): Promise<StoredObject | undefined> {
    return this.inner.get(bucket, key, options);
  }

  async put(bucket: string, key: string, body: Uint8Array | Readable, options: PutOptions): Promise<void> {
    await this.inner.put(bucket, key, body, options);
    this.written.push({ bucket, key });
  }

  async stage(bucket: string, key: string, body: Uint8Array, options: PutOptions): Promise<StagedObject> {
    const staged = await this.inner.stage(bucket, key, body, options);
    return {
      publish: async () => {
        await staged.publish();
        this.written.push({ bucket, key });
      },
      discard: () => staged.discard(),
    };
  }
}
