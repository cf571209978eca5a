// An object store whose writes to one bucket fail, for tests of what a refused write does.
import { MemoryObjectStore } from '../../engine/ports/memory-object-store.ts';

/** An error shaped as SDK v3 throws them: a name and the HTTP status. */
export function storeError(name: string, status: number): Error {
  return Object.assign(new Error(`${name}: refused`), { name, $metadata: { httpStatusCode: status } });
}

/** A store whose writes to one bucket fail, as a throttled (503 SlowDown, by default) or denied bucket would. */
export class FailingBucketStore extends MemoryObjectStore {
  constructor(
    private readonly failing: string,
    private readonly error: () => Error = () => storeError('SlowDown', 503),
  ) {
    super();
  }
  override async put(...args: Parameters<MemoryObjectStore['put']>) {
    if (args[0] === this.failing) throw this.error();
    return super.put(...args);
  }
  override async stage(...args: Parameters<MemoryObjectStore['stage']>) {
    if (args[0] === this.failing) throw this.error();
    return super.stage(...args);
  }
}
