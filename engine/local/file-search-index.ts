import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sink } from '../plugin/types.ts';
import type { BulkAnswer, SearchIndex } from '../ports/search-index.ts';
import { createSearchSink } from '../sinks/search/sink.ts';
import type { SearchSinkConfig } from '../sinks/search/sink.ts';

/**
 * Stands in for an Elasticsearch or OpenSearch cluster during `ingest run --local`: each `_bulk`
 * request body is written, byte for byte as it would be sent, to its own file in `directory`
 * (`000001.ndjson`, `000002.ndjson`... continuing after files of earlier runs), and every
 * operation is answered as a success (201, or 200 for a delete), so the sink settles as it would
 * against a cluster that accepted everything.
 */
export class FileSearchIndex implements SearchIndex {
  private next: Promise<number> | undefined;
  /** Paths of the files written, in order. */
  readonly written: string[] = [];

  constructor(readonly directory: string) {}

  async bulk(body: Buffer): Promise<BulkAnswer> {
    const number = await this.claimNumber();
    const path = join(this.directory, `${String(number).padStart(6, '0')}.ndjson`);
    await writeFile(path, body);
    this.written.push(path);
    return { status: 200, body: JSON.stringify({ took: 0, errors: false, items: acceptedItems(body.toString('utf8')) }) };
  }

  private claimNumber(): Promise<number> {
    this.next = (this.next ?? this.firstNumber()).then((number) => number + 1);
    return this.next.then((number) => number - 1);
  }

  private async firstNumber(): Promise<number> {
    await mkdir(this.directory, { recursive: true });
    const numbers = (await readdir(this.directory)).map((name) => /^(\d+)\.ndjson$/.exec(name)?.[1]).filter((digits) => digits !== undefined).map(Number);
    return numbers.length === 0 ? 1 : Math.max(...numbers) + 1;
  }
}

/** One successful item per operation of an NDJSON bulk body: action lines are followed by a source line except for deletes. */
function acceptedItems(text: string): Record<string, { status: number; result: string }>[] {
  const lines = text.split('\n');
  const items: Record<string, { status: number; result: string }>[] = [];
  for (let line = 0; line < lines.length; line++) {
    if (lines[line] === '') continue;
    const action = Object.keys(JSON.parse(lines[line]!) as object)[0] ?? 'index';
    items.push({ [action]: action === 'delete' ? { status: 200, result: 'deleted' } : { status: 201, result: 'created' } });
    if (action !== 'delete') line++;
  }
  return items;
}

/**
 * The sink `ingest run --local` runs for an `elasticsearch` or `opensearch` sink: the real sink,
 * with its requests going to a `FileSearchIndex` in `directory` instead of the cluster. Returns
 * `undefined` for other sink types.
 */
export function localSearchSink(id: string, config: { type: string }, directory: string): Sink | undefined {
  if (config.type !== 'elasticsearch' && config.type !== 'opensearch') return undefined;
  return createSearchSink(id, config as SearchSinkConfig, { index: new FileSearchIndex(directory) });
}
