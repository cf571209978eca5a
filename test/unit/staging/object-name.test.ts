import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RecordMeta } from '../../../engine/pipeline/record.ts';
import { ObjectIdentity } from '../../../engine/staging/object-name.ts';

function meta(line: number): RecordMeta {
  return { event: 's3', source: 'orders', arrival_time: '2026-11-27T10:00:00Z', position: `raw/orders/day.jsonl.gz@v1:${line}`, bucket: 'raw', key: 'orders/day.jsonl.gz', line };
}

/** The digest as ADR 0007 defines it: the sink id, then every record's source and position (with its fan-out ordinal), `\0`-separated. */
function expectedDigest(sinkId: string, identities: string[]): string {
  return createHash('sha256').update(`${sinkId}\0${identities.join('\0')}`).digest('hex').slice(0, 16);
}

describe('ObjectIdentity', () => {
  it('names an object of many records (hashed in chunks) with the digest of all their identities', () => {
    const identity = new ObjectIdentity('archive');
    const identities: string[] = [];
    for (let line = 1; line <= 20_000; line++) {
      const ordinal = line % 3 === 0 ? 1 : 0;
      identity.add(meta(line), ordinal);
      identities.push('orders', ordinal === 0 ? meta(line).position : `${meta(line).position}#1`);
    }

    expect(identity.name('.jsonl.gz')).toBe(`orders-raw_orders_day_jsonl_gz_v1_1-${expectedDigest('archive', identities)}-20000.jsonl.gz`);
  });

  it('names an object of one record with the digest of its identity', () => {
    const identity = new ObjectIdentity('archive');
    identity.add(meta(7), 0);

    expect(identity.name('.jsonl')).toBe(`orders-raw_orders_day_jsonl_gz_v1_7-${expectedDigest('archive', ['orders', meta(7).position])}-1.jsonl`);
  });
});
