import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingestInProcess as ingest } from '../../support/ingest-in-process.ts';

// `ingest test` run in-process, as `ingest validate` is in validate.test.ts: main() resolves to
// the exit code; stdout and stderr are captured.


describe('ingest test', () => {
  it('exits 2 on a folder without specs, as validate does, instead of reporting 0 passed', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'ingest-no-specs-'));
    writeFileSync(join(folder, 'notes.txt'), 'not a spec');

    const run = await ingest('test', folder);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no *.yaml or *.yml files found');
    expect(run.stdout).not.toContain('0 passed');
  });

  it('fails, exit 1, a case whose event file is not JSON, saying where without printing the file', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'ingest-bad-event-'));
    writeFileSync(join(folder, 'event.json'), 'password=hunter2\n');
    writeFileSync(join(folder, 'spec.yaml'), `version: 1
name: orders
sources:
  orders: { type: kinesis, stream: orders }
sinks:
  archive: { type: s3, inputs: [orders], bucket: archive, key: "all/" }
tests:
  - name: captured event
    given:
      orders: { event: event.json }
`);

    const run = await ingest('test', folder);

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/`given.orders`: the event file event.json is not JSON: .* at line 1, column 1/);
    expect(run.stdout).not.toContain('hunter2');
  });
});
