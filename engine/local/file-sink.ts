import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Sink, SinkWriter, Ticket } from '../plugin/types.ts';

/**
 * Stands in for a sink that has no local adapter yet (Redshift, PostgreSQL, search) during
 * `ingest run --local`: appends the records it would have loaded to a JSON-lines file, so the
 * run shows exactly what would reach the real sink.
 */
export class FileSink implements Sink {
  constructor(readonly path: string) {}

  open(): SinkWriter {
    let pending: { line: string; ticket: Ticket; item: number }[] = [];
    return {
      add: ({ record, ticket, item }) => {
        pending.push({ line: JSON.stringify(record), ticket, item: item.index });
      },
      // Nothing is appended before close, when every item is committed or aborted.
      commit: () => {},
      abort: (item) => {
        pending = pending.filter((entry) => entry.item !== item.index);
      },
      close: async () => {
        if (pending.length === 0) return;
        try {
          await mkdir(dirname(this.path), { recursive: true });
          await appendFile(this.path, pending.map((entry) => entry.line).join('\n') + '\n');
          for (const entry of pending) entry.ticket.written();
        } catch (error) {
          for (const entry of pending) entry.ticket.failed({ code: 'sink-error', message: (error as Error).message, retryable: true });
        }
      },
    };
  }
}
