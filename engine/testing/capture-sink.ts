import type { RecordValue } from '../pipeline/record.ts';
import type { Sink, SinkWriter } from '../plugin/types.ts';

/**
 * A sink that keeps what it receives in memory and acknowledges every record. `ingest test`
 * puts one in place of each sink of a spec and compares `records` with the test's `expect`.
 */
export class CaptureSink implements Sink {
  readonly records: RecordValue[] = [];

  open(): SinkWriter {
    return {
      add: ({ record, ticket }) => {
        // A JSON round trip: what a real sink would serialize, and immune to later mutation.
        this.records.push(JSON.parse(JSON.stringify(record)) as RecordValue);
        ticket.written();
      },
      close: async () => {},
    };
  }
}
