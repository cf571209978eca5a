import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { KinesisMeta } from '../../../engine/pipeline/record.ts';
import type { ItemScope } from '../../../engine/plugin/types.ts';
import { recordIdentity } from '../../../engine/staging/record-identity.ts';
import { stagedFileId, stagedRowFormat } from '../../../engine/staging/staged-row.ts';
import { StagedWriter, settledRuns } from '../../../engine/staging/staged-writer.ts';
import type { StagedRowInput, StagingFile } from '../../../engine/staging/staged-writer.ts';

const FORMAT = stagedRowFormat('jsonl', ['id', 'text']);

function kinesisMeta(index: number, shard = 'shardId-000000000000'): KinesisMeta {
  const sequence = String(49590338271490256608559692538361571095921575989136588898n + BigInt(index));
  return { event: 'kinesis', source: 'orders', stream: 'orders', shard, sequence, partition_key: 'pk', arrival_time: '2026-11-27T10:00:00.000Z', position: `${shard}/${sequence}` };
}

/** Row `index` of item `item` (one row per input record unless `ordinal` says otherwise). */
function row(index: number, item: ItemScope, text = `row ${index}`, ordinal = 0): StagedRowInput<number> {
  const meta = kinesisMeta(index);
  return { record: { id: index, text }, meta, identity: recordIdentity(meta, { ordinal }), item, tag: index, rewritable: true };
}

function item(index: number): ItemScope {
  return { index, staged: false };
}

function writer(maxRecords = 1000, maxBytes = 1024 * 1024) {
  return new StagedWriter<number>({ sinkId: 'warehouse', format: FORMAT, maxRecords, maxBytes });
}

/** The uncompressed bytes of a closed file. */
async function bodyOf(file: StagingFile<number>): Promise<Buffer> {
  return gunzipSync(await file.compressedBody());
}

/** Every row of `files` parsed, with the file it is in. */
async function rowsOf(files: StagingFile<number>[]): Promise<{ file: number; id: number; fileId: string }[]> {
  const bodies = await Promise.all(files.map(bodyOf));
  return bodies.flatMap((body, fileIndex) => body.toString('utf8').trimEnd().split('\n').map((line) => {
    const parsed = JSON.parse(line) as { id: number; _ingest: string[] };
    return { file: fileIndex, id: parsed.id, fileId: parsed._ingest[5]! };
  }));
}

describe('StagedWriter', () => {
  it('cuts a file when it reaches maxRecords rows', () => {
    const staged = writer(3);

    const closed = Array.from({ length: 7 }, (_, index) => staged.add('shard', row(index, item(index)))).flat();
    const files = [...closed, ...staged.closeAll()];

    expect(files.map((file) => file.records)).toEqual([3, 3, 1]);
    expect(files.flatMap((file) => file.tags)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('starts a new file with a row that would take the open one past maxBytes, and stamps it with its own id', async () => {
    const oneRow = Buffer.byteLength(FORMAT.begin()({ id: 0, text: 'x'.repeat(100) }, row(0, item(0)).identity, stagedFileId(row(0, item(0)).identity)));
    const staged = writer(1000, oneRow * 2 + 10);

    const closed = [0, 1, 2].flatMap((index) => staged.add('shard', row(index, item(index), 'x'.repeat(100))));
    const files = [...closed, ...staged.closeAll()];

    expect(files.map((file) => file.records)).toEqual([2, 1]);
    const rows = await rowsOf(files);
    expect(rows.map((entry) => entry.fileId)).toEqual([files[0]!.id, files[0]!.id, files[1]!.id]);
    expect(files[1]!.id).toBe(stagedFileId(row(2, item(2)).identity));
  });

  it('cuts files of multi-byte rows at the same rows and sizes whether or not they are kept rewritable', async () => {
    const text = (index: number) => 'é✓😀'.repeat(10 + (index % 7));
    const cut = async (rewritable: boolean) => {
      const staged = writer(1000, 700);
      const closed = Array.from({ length: 40 }, (_, index) => staged.add('object', { ...row(index, item(0), text(index)), rewritable })).flat();
      const files = [...closed, ...staged.closeAll()];
      const bodies = await Promise.all(files.map(bodyOf));
      return files.map((file, index) => ({ records: file.records, dataBytes: file.dataBytes, bytes: bodies[index]!.byteLength }));
    };

    const kept = await cut(true);
    const deferred = await cut(false);

    expect(deferred).toEqual(kept);
    expect(kept.length).toBeGreaterThan(5);
    for (const file of deferred) {
      expect(file.dataBytes).toBe(file.bytes);
      expect(file.bytes).toBeLessThanOrEqual(700);
    }
  });

  it('puts a single row larger than maxBytes in a file of its own', () => {
    const staged = writer(1000, 200);

    const closed = [staged.add('shard', row(0, item(0))), staged.add('shard', row(1, item(1), 'y'.repeat(500))), staged.add('shard', row(2, item(2)))].flat();
    const files = [...closed, ...staged.closeAll()];

    expect(files.map((file) => file.tags)).toEqual([[0], [1], [2]]);
  });

  it('keeps groups in separate files, each stamped with its own first row', async () => {
    const staged = writer();

    staged.add('a', row(0, item(0)));
    staged.add('b', row(1, item(1)));
    staged.add('a', row(2, item(2)));
    const files = staged.closeAll();

    expect(files.map((file) => [file.group, file.tags])).toEqual([['a', [0, 2]], ['b', [1]]]);
    expect((await rowsOf(files)).map((entry) => entry.fileId)).toEqual([files[0]!.id, files[0]!.id, files[1]!.id]);
  });

  it('records consecutive rows of one item as one segment', () => {
    const staged = writer();

    for (const [index, owner] of [[0, 0], [1, 0], [2, 1], [3, 2], [4, 2]] as const) staged.add('shard', row(index, item(owner)));
    const [file] = staged.closeAll();

    expect(file!.segments.map((segment) => [segment.item.index, segment.start, segment.records])).toEqual([[0, 0, 2], [1, 2, 1], [2, 3, 2]]);
  });

  it('names and fills a file the same way for the same rows', async () => {
    const build = async () => {
      const staged = writer();
      for (let index = 0; index < 5; index++) staged.add('shard', row(index, item(index)));
      const [file] = staged.closeAll();
      return { name: file!.name('.jsonl.gz'), body: (await bodyOf(file!)).toString('utf8') };
    };

    expect(await build()).toEqual(await build());
  });

  it('names apart files that hold different records of one input record (explode, fan-out)', () => {
    const staged = writer(1);

    const files = [0, 1, 2].flatMap((ordinal) => staged.add('shard', row(0, item(0), `copy ${ordinal}`, ordinal)));

    expect(files).toHaveLength(3);
    expect(new Set(files.map((file) => file.name('.jsonl.gz'))).size).toBe(3);
  });

  it('gives a file a different name when it holds different rows', () => {
    const names = [5, 4].map((count) => {
      const staged = writer();
      for (let index = 0; index < count; index++) staged.add('shard', row(index, item(index)));
      return staged.closeAll()[0]!.name('.jsonl.gz');
    });

    expect(names[0]).not.toBe(names[1]);
  });
});

describe('settledRuns', () => {
  function fileOfItems(owners: number[]): StagingFile<number> {
    const staged = writer();
    owners.forEach((owner, index) => staged.add('shard', row(index, item(owner))));
    return staged.closeAll()[0]!;
  }

  const cases: { name: string; redelivered: number[]; runs: number[][]; whole: boolean[] }[] = [
    { name: 'the whole file when nothing comes again', redelivered: [], runs: [[0, 1, 2]], whole: [true] },
    { name: 'the settled head of a file straddling the checkpoint', redelivered: [2], runs: [[0, 1]], whole: [false] },
    { name: 'nothing when every item comes again', redelivered: [0, 1, 2], runs: [], whole: [] },
    { name: 'two runs around an item that comes again', redelivered: [1], runs: [[0], [2]], whole: [false, false] },
  ];

  it.each(cases)('gives $name', ({ redelivered, runs, whole }) => {
    const file = fileOfItems([0, 0, 1, 2]);

    const result = settledRuns(file, (scope) => !redelivered.includes(scope.index));

    expect(result.map((run) => run.segments.map((segment) => segment.item.index))).toEqual(runs);
    expect(result.map((run) => run.whole)).toEqual(whole);
  });

  it('rewrites a settled head with its rows unchanged, under a name of its own', async () => {
    const file = fileOfItems([0, 1, 2]);
    const name = file.name('.jsonl.gz');
    const body = await bodyOf(file);
    const [run] = settledRuns(file, (scope) => scope.index < 2);

    const part = file.runObject(run!, body, '.jsonl.gz');

    const lines = body.toString('utf8').split('\n');
    expect(part.body.toString('utf8')).toBe(`${lines[0]}\n${lines[1]}\n`);
    expect(part.records).toBe(2);
    expect(part.name).not.toBe(name);
  });

  it('rewrites a later run with every row moved to the id of the run\'s first row', async () => {
    const file = fileOfItems([0, 1, 2]);
    const body = await bodyOf(file);
    const runs = settledRuns(file, (scope) => scope.index !== 1);

    const tail = file.runObject(runs[1]!, body, '.jsonl.gz');

    const parsed = tail.body.toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { id: number; _ingest: string[] });
    expect(parsed.map((entry) => entry.id)).toEqual([2]);
    expect(parsed[0]!._ingest[5]).toBe(stagedFileId(row(2, item(2)).identity));
  });

  it('names a rewritten part as a file staged with the same rows directly would be named', async () => {
    const file = fileOfItems([0, 1, 2]);
    const body = await bodyOf(file);
    const [head] = settledRuns(file, (scope) => scope.index < 2);
    const direct = fileOfItems([0, 1]);

    const part = file.runObject(head!, body, '.jsonl.gz');

    expect(part.name).toBe(direct.name('.jsonl.gz'));
    expect(part.body).toEqual(await bodyOf(direct));
  });

  it('refuses to rewrite a file that was not kept rewritable', async () => {
    const staged = writer();
    staged.add('object', { ...row(0, { index: 0, staged: true }), rewritable: false });
    const [file] = staged.closeAll();
    const body = await bodyOf(file!);

    expect(() => file!.runObject(settledRuns(file!, () => true)[0]!, body, '.jsonl.gz')).toThrow(TypeError);
  });
});
