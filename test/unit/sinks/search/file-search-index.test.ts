import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSearchIndex } from '../../../../engine/local/file-search-index.ts';

describe('the local stand-in for a search cluster', () => {
  it('writes each body to the next numbered file, after those of earlier runs, and accepts every operation', async () => {
    const directory = join(await mkdtemp(join(tmpdir(), 'ingest-file-index-')), 'search', 'profiles');
    const body = Buffer.from('{"index":{"_index":"a","_id":"1"}}\n{"n":1}\n{"delete":{"_index":"a","_id":"2"}}\n{"update":{"_index":"a","_id":"3"}}\n{"doc":{"n":3},"doc_as_upsert":true}\n');
    await new FileSearchIndex(directory).bulk(body);

    const index = new FileSearchIndex(directory);
    const [first, second] = await Promise.all([index.bulk(body), index.bulk(body)]);

    expect((await readdir(directory)).sort()).toEqual(['000001.ndjson', '000002.ndjson', '000003.ndjson']);
    expect(await readFile(join(directory, '000003.ndjson'))).toEqual(body);
    expect(first!.status).toBe(200);
    expect(JSON.parse(second!.body)).toEqual({
      took: 0,
      errors: false,
      items: [{ index: { status: 201, result: 'created' } }, { delete: { status: 200, result: 'deleted' } }, { update: { status: 201, result: 'created' } }],
    });
  });
});
