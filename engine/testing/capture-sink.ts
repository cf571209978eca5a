import type { RecordValue } from '../pipeline/record.ts';
import type { Sink, SinkWriter } from '../plugin/types.ts';

/**
 * A sink that keeps what it receives in memory and acknowledges every record. `ingest test`
 * puts one in place of each sink of a spec and compares `records` with the test's `expect`.
 */
export class CaptureSink implements Sink {
  readonly records: RecordValue[] = [];

  open(): SinkWriter {
    // Records of a staged item wait for its commit, as a real sink's output would; their tickets
    // settle on arrival, as real sinks settle a staged item's (docs/decisions/0055-staged-items-hold-no-records.md).
    const held = new Map<number, RecordValue[]>();
    return {
      add: ({ record, ticket, item }) => {
        // A JSON round trip: what a real sink would serialize, and immune to later mutation.
        const copy = JSON.parse(JSON.stringify(record)) as RecordValue;
        if (item.staged) {
          const records = held.get(item.index) ?? [];
          records.push(copy);
          held.set(item.index, records);
        } else {
          this.records.push(copy);
        }
        ticket.written();
      },
      commit: (item) => {
        for (const record of held.get(item.index) ?? []) this.records.push(record);
        held.delete(item.index);
      },
      abort: (item) => {
        held.delete(item.index);
      },
      close: async () => {},
    };
  }
}
