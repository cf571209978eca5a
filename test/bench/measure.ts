/**
 * What the benchmark parts share: medians, how a spread of samples is printed, paired process
 * timings, and the summary rows a part hands to the runner (`all.bench.ts`).
 *
 * A part run alone prints its own lines and nothing else. Under the runner, the environment
 * variable `INGEST_BENCH_ROWS` names a file to which each part appends its summary rows, one JSON
 * object per line; the runner prints them as one table at the end.
 */
import { spawn } from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { kinesisEvent } from '../../engine/local/events.ts';

/** The variable naming the file a part appends its summary rows to. */
export const ROWS_VARIABLE = 'INGEST_BENCH_ROWS';

/** One line of the summary table: a figure of issue 10's table, Ingest against its baseline. */
export interface SummaryRow {
  case: string;
  /** Ingest's figure, with its unit ("41.2 ms", "612 KiB"). */
  ingest: string;
  /** The baseline's figure, in the same unit. */
  baseline: string;
  /** Ingest over baseline (for throughputs, baseline over Ingest, so that above 1 is always slower). */
  ratio: number;
  /** What the ratio is of, and related ratios ("wall, cpu 1.52x"). */
  detail?: string;
  /** The goal, as the issue states it. */
  goal: string;
  /** Whether this run met the goal. */
  met: boolean;
}

export function summaryRow(row: SummaryRow): void {
  const file = process.env[ROWS_VARIABLE];
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** `median ms (min–max)`. */
export function spread(values: readonly number[], digits = 1): string {
  return `${median(values).toFixed(digits).padStart(6)} ms (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
}

/** The median of each round's ratio: the two samples of a round run back to back, so load that drifts over seconds mostly cancels. */
export function pairedRatio(ingest: readonly number[], baseline: readonly number[]): number {
  return median(ingest.map((value, index) => value / baseline[index]!));
}

export function positiveInteger(option: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${option} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

/** Wall time of a whole process, spawn to exit, in ms; rejects with its stderr when it exits with a status other than 0. */
export function timeProcess(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => {
      const elapsed = performance.now() - started;
      if (status === 0) resolve(elapsed);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${status}: ${stderr}`));
    });
  });
}

/**
 * The order event the throughput and S3 object cases read (about 380 bytes of JSON), so that their
 * main case does the same work per record. Records are 30 s apart: 10,000 span four UTC days, so
 * the heavy case's dated key makes four objects.
 */
export function orderRecord(index: number) {
  return {
    event_id: `evt-${index.toString().padStart(8, '0')}`,
    uid: `user-${index % 997}`,
    status: index % 50 === 0 ? 'test' : 'paid',
    amount: (index % 1000) / 7,
    currency: 'EUR',
    ts: 1764237600000 + index * 30_000,
    page: `/products/${index % 311}/details`,
    referrer: 'https://www.example.com/search?q=shoes',
    session_id: `s-${(index * 7919) % 100_003}`,
    email: `customer-${index % 4099}@example.com`,
    client: { ip: `10.0.${index % 256}.${(index * 13) % 256}`, agent: { name: 'Firefox', version: `${100 + (index % 30)}` } },
    debug: { trace: `t-${index}`, host: 'web-03' },
  };
}

/**
 * A Kinesis event of `records` order records (`orderRecord`), as Lambda hands it to a handler:
 * parsed from JSON, so its strings are flat rather than concatenations.
 */
export function orderEvent(records: number): KinesisStreamEvent {
  const built = kinesisEvent('orders', Array.from({ length: records }, (_, index) => Buffer.from(JSON.stringify(orderRecord(index)))));
  return JSON.parse(JSON.stringify(built)) as KinesisStreamEvent;
}
