import { describe, expect, it } from 'vitest';
import type { Decoded } from '../../../../engine/pipeline/record.ts';
import { decodeKinesisRecord } from '../../../../engine/sources/kinesis/decode.ts';
import { config, kinesisRecord, kplAggregate } from './factories.ts';

// A Kinesis `text` record is read as an S3 `text` object is: one `{ message }` record per line,
// each with its own position, so that a producer batching log lines into one record loses none.

const SEQUENCE = '49590338271490256608559692538361571095921575989136588898';
const text = config({ format: 'text' });

function view(items: Decoded[]) {
  return items.map((item) => ({
    outcome: item.outcome,
    value: item.outcome === 'record' ? item.value : undefined,
    position: item.meta.position,
    sub_sequence: item.meta.event === 'kinesis' ? item.meta.sub_sequence : undefined,
    raw: Buffer.from(item.raw).toString('utf8'),
  }));
}

describe('decodeKinesisRecord with format text', () => {
  it('gives one record per line, each positioned by its line index', () => {
    const items = decodeKinesisRecord(kinesisRecord('GET / 200\r\nGET /pricing 200\n'), 'logs', text);

    expect(view(items)).toEqual([
      { outcome: 'record', value: { message: 'GET / 200' }, position: `shardId-000000000006/${SEQUENCE}:0`, sub_sequence: 0, raw: 'GET / 200' },
      { outcome: 'record', value: { message: 'GET /pricing 200' }, position: `shardId-000000000006/${SEQUENCE}:1`, sub_sequence: 1, raw: 'GET /pricing 200' },
    ]);
  });

  it('skips empty lines but counts them, so a line keeps its position', () => {
    const items = decodeKinesisRecord(kinesisRecord('first\n\n  third \n'), 'logs', text);

    expect(view(items).map((item) => [item.value, item.position.split(':').at(-1)])).toEqual([
      [{ message: 'first' }, '0'],
      [{ message: '  third ' }, '2'],
    ]);
  });

  it('reads a last line without a line break', () => {
    const items = decodeKinesisRecord(kinesisRecord('one\ntwo'), 'logs', text);

    expect(view(items).map((item) => item.value)).toEqual([{ message: 'one' }, { message: 'two' }]);
  });

  it.each([[''], ['\n'], ['\r\n\n']])('filters a record holding no line (%j), so that it is still counted', (payload) => {
    const items = decodeKinesisRecord(kinesisRecord(payload), 'logs', text);

    expect(items).toEqual([expect.objectContaining({ outcome: 'filtered', reason: 'text record holds no non-empty line' })]);
  });

  it('dead-letters a record that is not UTF-8 whole, not line by line', () => {
    const items = decodeKinesisRecord(kinesisRecord(Uint8Array.of(0x61, 0x0a, 0xff, 0x0a, 0x62)), 'logs', text);

    expect(items).toEqual([expect.objectContaining({ outcome: 'dead_letter', code: 'invalid-utf8' })]);
    expect(Buffer.from(items[0]!.raw)).toEqual(Buffer.from([0x61, 0x0a, 0xff, 0x0a, 0x62]));
  });

  it('keeps the user record index of a KPL aggregate as sub_sequence, the position carrying both', () => {
    const aggregate = kplAggregate(['k'], [{ partition_key_index: 0, data: 'a\nb' }, { partition_key_index: 0, data: 'c' }]);

    const items = decodeKinesisRecord(kinesisRecord(aggregate), 'logs', text);

    expect(view(items).map((item) => [item.value, item.sub_sequence, item.position.slice(item.position.indexOf(SEQUENCE) + SEQUENCE.length)])).toEqual([
      [{ message: 'a' }, 0, ':0:0'],
      [{ message: 'b' }, 0, ':0:1'],
      [{ message: 'c' }, 1, ':1:0'],
    ]);
  });
});
