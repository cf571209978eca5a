import type { RecordValue } from '../pipeline/record.ts';
import type { Sink, SinkWriter, Ticket } from '../plugin/types.ts';

/**
 * A sink that keeps what it receives in memory and acknowledges every record. `ingest test`
 * puts one in place of each sink of a spec and compares `records` with the test's `expect`.
 */
export class CaptureSink implements Sink {
  readonly records: RecordValue[] = [];

  open(): SinkWriter {
    // Records of a staged item wait for its commit, as a real sink's output would.
    const held = new Map<number, { record: RecordValue; ticket: Ticket }[]>();
    return {
      add: ({ record, ticket, item }) => {
        // A JSON round trip: what a real sink would serialize, and immune to later mutation.
        const copy = JSON.parse(JSON.stringify(record)) as RecordValue;
        if (item.staged) {
          const records = held.get(item.index) ?? [];
          records.push({ record: copy, ticket });
          held.set(item.index, records);
          return;
        }
        this.records.push(copy);
        ticket.written();
      },
      commit: (item) => {
        for (const { record, ticket } of held.get(item.index) ?? []) {
          this.records.push(record);
          ticket.written();
        }
        held.delete(item.index);
      },
      abort: (item) => {
        held.delete(item.index);
      },
      close: async () => {},
    };
  }
}
