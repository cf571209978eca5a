import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../cli/commands/run.ts';

// `ingest run --local` with a search sink: the real sink runs, and its bulk request bodies are
// written to files under .ingest/search/<sink>/ exactly as they would be sent.

const SPEC = [
  'version: 1',
  'name: users-local',
  'dead_letter: { bucket: local-errors }',
  'sources:',
  '  users: { type: dynamodb, stream_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026-03-01T10:00:00.000" }',
  'sinks:',
  '  profiles:',
  '    type: opensearch',
  '    inputs: [users]',
  '    endpoint: https://search-acme-abc.us-east-1.es.amazonaws.com',
  '    index: "users-{{lower record.region}}"',
  '    id: "{{record.user_id}}"',
  '    concurrency: 1',
  '    batch: { max_records: 2 }',
].join('\n');

describe('ingest run --local with a search sink', () => {
  it('writes each bulk request body to its own file and reports the records as written', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'ingest-search-local-'));
    await writeFile(join(cwd, 'spec.yaml'), SPEC);
    await writeFile(join(cwd, 'users.jsonl'), ['{"user_id":"u1","region":"EU"}', '{"user_id":"u2","region":"US"}', '{"user_id":"u3","region":"EU"}', '{"user_id":"","region":"EU"}'].join('\n'));
    const lines: string[] = [];

    const code = await runCommand([join(cwd, 'spec.yaml')], { local: true, inputs: [`users=${join(cwd, 'users.jsonl')}`], parameters: [], verbose: false, workdir: cwd }, (line) => lines.push(line));

    expect(code).toBe(0);
    expect(lines).toContain('records: 4 in, 3 written, 0 filtered, 1 dead-lettered, 0 failed');
    expect(lines).toContain('note: opensearch bulk requests written to .ingest/search/profiles/ (answered as accepted)');
    const directory = join(cwd, '.ingest', 'search', 'profiles');
    expect((await readdir(directory)).sort()).toEqual(['000001.ndjson', '000002.ndjson']);
    expect(await readFile(join(directory, '000001.ndjson'), 'utf8')).toBe(
      '{"index":{"_index":"users-eu","_id":"u1"}}\n{"user_id":"u1","region":"EU"}\n{"index":{"_index":"users-us","_id":"u2"}}\n{"user_id":"u2","region":"US"}\n',
    );
    expect(await readFile(join(directory, '000002.ndjson'), 'utf8')).toBe('{"index":{"_index":"users-eu","_id":"u3"}}\n{"user_id":"u3","region":"EU"}\n');
  });
});
