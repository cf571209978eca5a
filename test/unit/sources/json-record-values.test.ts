import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Decoded } from '../../../engine/pipeline/record.ts';
import { RecordError } from '../../../engine/plugin/types.ts';
import { MemoryObjectStore } from '../../../engine/ports/memory-object-store.ts';
import { decodeKinesisRecord } from '../../../engine/sources/kinesis/decode.ts';
import { parseCloudWatchLogs } from '../../../engine/sources/kinesis/parse-cloudwatch-logs.ts';
import { readObjectRecords } from '../../../engine/sources/s3/read.ts';
import { parseJsonStep } from '../../../engine/transforms/parse_json/step.ts';
import { resolvedSource } from '../../support/resolved-config.ts';
import { compile, run } from '../transforms/factories.ts';
import { config as kinesisConfig, kinesisRecord } from './kinesis/factories.ts';
import { collect, objectRef } from './s3/fixtures.ts';

// Every path from JSON text to a record reads numbers and nesting the same way
// (docs/decisions/0022-json-record-values.md). Each path decodes one bad or odd record between
// two good ones, so the table also holds that a record's problem never reaches its neighbours.

/** What one path made of the middle record: its value, or the code it failed with. */
type Outcome = { value: unknown } | { code: string };

interface DecoderPath {
  name: string;
  /** Decodes `[first, text, last]` as three records and returns the three outcomes. */
  decode(text: string, maxDepth: number): Promise<Outcome[]>;
}

const FIRST = '{"id":"first"}';
const LAST = '{"id":"last"}';

function outcome(item: Decoded): Outcome {
  if (item.outcome === 'record') return { value: item.value };
  if (item.outcome === 'dead_letter') return { code: item.code };
  return { code: `filtered: ${item.reason}` };
}

async function readS3(format: 'jsonl' | 'json', body: string, maxDepth: number): Promise<Outcome[]> {
  const store = new MemoryObjectStore({ chunkBytes: 997 });
  store.set('raw', 'in/object', body);
  const items = await collect(readObjectRecords(store, objectRef('in/object'), 'objects', resolvedSource({ type: 's3', bucket: 'raw', format, compression: 'none', max_depth: maxDepth })));
  return items.map(outcome);
}

const PATHS: DecoderPath[] = [
  {
    name: 'a Kinesis json record',
    async decode(text, maxDepth) {
      return [FIRST, text, LAST].flatMap((payload, index) =>
        decodeKinesisRecord(kinesisRecord(payload, { sequence: `4959033827149025660855969253836157109592157598913658889${index}` }), 'orders', kinesisConfig({ max_depth: maxDepth })).map(outcome),
      );
    },
  },
  { name: 'an S3 jsonl line', decode: (text, maxDepth) => readS3('jsonl', `${FIRST}\n${text}\n${LAST}\n`, maxDepth) },
  { name: 'an element of an S3 json array', decode: (text, maxDepth) => readS3('json', `[${FIRST},\n${text},\n${LAST}]`, maxDepth) },
  {
    name: 'a parse_json field',
    async decode(text) {
      // parse_json has no setting: its bound is the default, 256.
      const step = compile(parseJsonStep, 'payload');
      return [FIRST, text, LAST].map((payload) => {
        try {
          const record = run(step, { payload }) as { payload: unknown };
          return { value: record.payload };
        } catch (error) {
          if (error instanceof RecordError) return { code: error.code };
          throw error;
        }
      });
    },
  },
];

function nested(levels: number): string {
  // {"x":[[...]]}: one object and levels − 1 lists, `levels` deep.
  return `{"x":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
}

const CASES: Array<{ name: string; text: string; maxDepth?: number; expected: Outcome }> = [
  { name: 'keeps an integer beyond 2^53 as its exact digits', text: '{"id":12345678901234567890}', expected: { value: { id: '12345678901234567890' } } },
  { name: 'keeps 2^53 + 1 exact', text: '{"id": 9007199254740993}', expected: { value: { id: '9007199254740993' } } },
  { name: 'keeps a negative long integer exact', text: '{"n":[-12345678901234567890]}', expected: { value: { n: ['-12345678901234567890'] } } },
  { name: 'keeps an integer of 400 digits exact instead of making it infinite', text: `{"n":1${'0'.repeat(400)}}`, expected: { value: { n: `1${'0'.repeat(400)}` } } },
  { name: 'reads a decimal with more digits than a double as the nearest double, as JSON means it', text: '{"d":0.12345678901234567890123}', expected: { value: { d: 0.12345678901234568 } } },
  { name: 'reads a double printed with 17 digits (%.17g) as that double, not as text', text: '{"d":0.10000000000000001,"e":142.85714285714286}', expected: { value: { d: 0.1, e: 142.85714285714286 } } },
  { name: 'keeps 2^53 + 1 exact', text: '{"n":9007199254740993,"m":-9007199254740993}', expected: { value: { n: '9007199254740993', m: '-9007199254740993' } } },
  { name: 'reads 2^53 − 1 as a number', text: '{"n":9007199254740991}', expected: { value: { n: 9007199254740991 } } },
  { name: 'reads short decimals and exponents as numbers', text: '{"a":0.1,"b":1.5e3,"c":-2,"d":19.99}', expected: { value: { a: 0.1, b: 1500, c: -2, d: 19.99 } } },
  { name: 'reads a double printed in full by another program as that double', text: '{"x":0.30000000000000004}', expected: { value: { x: 0.30000000000000004 } } },
  { name: 'leaves long digit runs inside strings alone', text: '{"s":"12345678901234567890","t":"1e400"}', expected: { value: { s: '12345678901234567890', t: '1e400' } } },
  { name: 'keeps the last of repeated keys, as JSON.parse does', text: '{"a":1,"a":12345678901234567890}', expected: { value: { a: '12345678901234567890' } } },
  { name: 'refuses a number beyond the double range', text: '{"f":1e400}', expected: { code: 'non-finite-number' } },
  { name: 'refuses a negative number beyond the double range', text: '{"f":[1, -2.5E+308]}', expected: { code: 'non-finite-number' } },
  { name: 'refuses the 5,000-level nesting of the regression report', text: nested(5000), expected: { code: 'too-deep' } },
  { name: 'accepts nesting exactly at max_depth', text: nested(3), maxDepth: 3, expected: { value: { x: [[]] } } },
  { name: 'refuses nesting one level beyond max_depth', text: nested(4), maxDepth: 3, expected: { code: 'too-deep' } },
];

describe('JSON record values on every decoder path', () => {
  for (const path of PATHS) {
    describe(path.name, () => {
      for (const { name, text, maxDepth, expected } of CASES) {
        // parse_json has the fixed default bound; cases about a configured bound do not apply.
        if (maxDepth !== undefined && path.name === 'a parse_json field') continue;

        it(name, async () => {
          const outcomes = await path.decode(text, maxDepth ?? 256);

          expect(outcomes).toEqual([{ value: { id: 'first' } }, expected, { value: { id: 'last' } }]);
        });
      }
    });
  }
});

describe('CloudWatch Logs payloads', () => {
  function payload(extractedFields: string): Uint8Array {
    const event = `{"id":"1","timestamp":1772360000000,"message":"m","extractedFields":${extractedFields}}`;
    return gzipSync(`{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[${event}]}`);
  }

  it('are read with the same depth bound, so no log event carries a structure too deep to write', () => {
    const parsed = parseCloudWatchLogs(payload(nested(5000)));

    expect(parsed).toMatchObject({ ok: false, code: 'invalid-cloudwatch-logs', message: expect.stringContaining('max_depth') });
  });

  it('are read as before within the bound', () => {
    expect(parseCloudWatchLogs(payload('{"a":"b"}'))).toMatchObject({ ok: true });
  });
});
