import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseCloudWatchLogs } from '../../../../engine/sources/kinesis/parse-cloudwatch-logs.ts';
import { cloudWatchLogsPayload, dataMessage } from './factories.ts';

describe('parseCloudWatchLogs', () => {
  it('reports a payload that inflates beyond the bound as record-too-large', () => {
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));

    const parsed = parseCloudWatchLogs(bomb, 64 * 1024);

    expect(parsed).toMatchObject({ ok: false, code: 'record-too-large' });
  });

  it('reads a payload within the bound', () => {
    const payload = cloudWatchLogsPayload(dataMessage([{ id: '1', timestamp: 0, message: 'hello' }]));

    const parsed = parseCloudWatchLogs(payload, 64 * 1024);

    expect(parsed).toMatchObject({ ok: true, payload: { logEvents: [{ message: 'hello' }] } });
  });

  it('rejects a log event without a message', () => {
    const payload = cloudWatchLogsPayload(dataMessage([{ id: '1', timestamp: 0 } as never]));

    const parsed = parseCloudWatchLogs(payload);

    expect(parsed).toMatchObject({ ok: false, code: 'invalid-cloudwatch-logs', message: 'logEvents[0] has no string message' });
  });

  it('rejects payload bytes that are not UTF-8', () => {
    const parsed = parseCloudWatchLogs(gzipSync(Buffer.from([0x7b, 0xff, 0x7d])));

    expect(parsed).toMatchObject({ ok: false, code: 'invalid-cloudwatch-logs' });
  });
});
