import { gunzipSync } from 'node:zlib';
import { parseJsonValue } from '../parse-json-record.ts';

/** One log event of a CloudWatch Logs subscription payload, as CloudWatch Logs sends it. */
export interface CloudWatchLogEvent {
  id: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
  message: string;
  /** Present when the subscription filter pattern extracts fields. */
  extractedFields?: Record<string, string>;
}

/** A decompressed CloudWatch Logs subscription payload. */
export interface CloudWatchLogsPayload {
  messageType: 'DATA_MESSAGE' | 'CONTROL_MESSAGE';
  owner: string;
  logGroup: string;
  logStream: string;
  subscriptionFilters: string[];
  logEvents: CloudWatchLogEvent[];
}

export type ParsedCloudWatchLogs =
  | { ok: true; payload: CloudWatchLogsPayload }
  | { ok: false; code: 'invalid-cloudwatch-logs' | 'record-too-large'; message: string };

/**
 * Bound on a decompressed payload. CloudWatch Logs batches at most 1 MiB of events per delivery,
 * so anything far beyond it is not a genuine subscription payload (and may be a gzip bomb).
 */
export const MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the gzip-compressed JSON that a CloudWatch Logs subscription writes to Kinesis.
 * Never throws: corrupt gzip, invalid UTF-8, invalid JSON or a wrong shape give
 * `invalid-cloudwatch-logs`; a payload that inflates beyond `maxDecompressedBytes` gives
 * `record-too-large`. A control message is returned as such; its events are not checked.
 */
export function parseCloudWatchLogs(compressed: Uint8Array, maxDecompressedBytes = MAX_DECOMPRESSED_BYTES): ParsedCloudWatchLogs {
  let inflated: Buffer;
  try {
    inflated = gunzipSync(compressed, { maxOutputLength: maxDecompressedBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return { ok: false, code: 'record-too-large', message: `CloudWatch Logs payload inflates beyond ${maxDecompressedBytes} bytes` };
    }
    return invalid(`payload is not valid gzip: ${(error as Error).message}`);
  }

  let text: string;
  try {
    text = utf8.decode(inflated);
  } catch (error) {
    return invalid(`decompressed payload is not UTF-8 JSON: ${(error as Error).message}`);
  }
  // The record-value rules (bounded depth, exact numbers) hold for what extractedFields carries.
  const json = parseJsonValue(text);
  if (!json.ok) return invalid(`decompressed payload is not UTF-8 JSON: ${json.message}`);
  const parsed = json.value;
  if (!isObject(parsed)) return invalid('decompressed payload is not a JSON object');

  const { messageType } = parsed;
  if (messageType === 'CONTROL_MESSAGE') {
    return { ok: true, payload: parsed as unknown as CloudWatchLogsPayload };
  }
  if (messageType !== 'DATA_MESSAGE') return invalid(`unknown messageType ${JSON.stringify(messageType)}`);

  for (const field of ['owner', 'logGroup', 'logStream'] as const) {
    if (typeof parsed[field] !== 'string') return invalid(`${field} is not a string`);
  }
  const { subscriptionFilters, logEvents } = parsed;
  if (!Array.isArray(subscriptionFilters) || !subscriptionFilters.every((name) => typeof name === 'string')) {
    return invalid('subscriptionFilters is not a list of strings');
  }
  if (!Array.isArray(logEvents)) return invalid('logEvents is not a list');
  for (const [index, event] of logEvents.entries()) {
    const problem = logEventProblem(event);
    if (problem !== undefined) return invalid(`logEvents[${index}] ${problem}`);
  }
  return { ok: true, payload: parsed as unknown as CloudWatchLogsPayload };
}

function logEventProblem(event: unknown): string | undefined {
  if (!isObject(event)) return 'is not an object';
  if (typeof event.id !== 'string') return 'has no string id';
  if (typeof event.timestamp !== 'number' || !Number.isFinite(event.timestamp)) return 'has no numeric timestamp';
  if (typeof event.message !== 'string') return 'has no string message';
  if (event.extractedFields !== undefined && !isObject(event.extractedFields)) return 'has extractedFields that is not an object';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): ParsedCloudWatchLogs {
  return { ok: false, code: 'invalid-cloudwatch-logs', message };
}
