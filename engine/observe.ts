/**
 * Logs and metrics. Plugins do not log: the pipeline observes around them and reports here.
 * Logs are one JSON object per line with the Lambda request id; metrics are CloudWatch Embedded
 * Metric Format documents, which CloudWatch turns into metrics without any API call.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/** A structured JSON logger writing one line per entry to `write` (stdout in Lambda). */
export function jsonLogger(options: { level: LogLevel; requestId: string; pipeline: string; write?: (line: string) => void }): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const threshold = LEVELS[options.level];
  return {
    log(level, message, fields) {
      if (LEVELS[level] < threshold) return;
      write(JSON.stringify({ level, time: new Date().toISOString(), pipeline: options.pipeline, request_id: options.requestId, message, ...fields }));
    },
  };
}

/** Counters every component reports per invocation. */
export const COUNTERS = ['records_in', 'records_out', 'filtered', 'dead_lettered', 'failed', 'bytes'] as const;
export type Counter = (typeof COUNTERS)[number];

const METRIC_NAMES: Record<Counter | 'duration_ms', { name: string; unit: string }> = {
  records_in: { name: 'RecordsIn', unit: 'Count' },
  records_out: { name: 'RecordsOut', unit: 'Count' },
  filtered: { name: 'RecordsFiltered', unit: 'Count' },
  dead_lettered: { name: 'RecordsDeadLettered', unit: 'Count' },
  failed: { name: 'RecordsFailed', unit: 'Count' },
  bytes: { name: 'Bytes', unit: 'Bytes' },
  duration_ms: { name: 'Duration', unit: 'Milliseconds' },
};

/**
 * Figures a sink reports of its own work through `Invocation.measure`, beside the counters the
 * pipeline keeps: requests sent, records sent again after a retryable answer, and the time of each
 * request (emitted as a list of values, at most EMF's 100 per document, so CloudWatch computes
 * percentiles).
 */
export const MEASURES = {
  requests: { name: 'Requests', unit: 'Count' },
  retried: { name: 'RecordsRetried', unit: 'Count' },
  request_ms: { name: 'RequestLatency', unit: 'Milliseconds' },
  // Warehouse loads (docs/decisions/0031): what a batch wrote, what it found loaded already, how
  // long its transaction took and how long its oldest staged file waited.
  rows_loaded: { name: 'RowsLoaded', unit: 'Count' },
  duplicate_rows: { name: 'DuplicateRows', unit: 'Count' },
  load_ms: { name: 'LoadLatency', unit: 'Milliseconds' },
  batch_age_s: { name: 'BatchAge', unit: 'Seconds' },
} as const;
export type Measure = keyof typeof MEASURES;
const MAX_EMF_VALUES = 100;

/** The counters of one component, to add to. */
export type ComponentCounters = Record<Counter | 'duration_ms', number>;

/** Per-invocation metrics, keyed by component id. */
export class InvocationMetrics {
  private readonly components = new Map<string, ComponentCounters>();
  private readonly measures = new Map<string, Map<Measure, number[]>>();

  /** Records a figure of `component`'s own work: counts add up, latencies are kept as values. */
  measure(component: string, measure: Measure, value: number): void {
    let figures = this.measures.get(component);
    if (!figures) this.measures.set(component, (figures = new Map()));
    const values = figures.get(measure);
    if (values === undefined) figures.set(measure, [value]);
    else if (MEASURES[measure].unit === 'Count') values[0]! += value;
    else if (values.length < MAX_EMF_VALUES) values.push(value);
  }

  /** What `measure` recorded: the total of a count, the values of a latency (empty when none). */
  measured(component: string, measure: Measure): number[] {
    return this.measures.get(component)?.get(measure) ?? [];
  }

  count(component: string, counter: Counter | 'duration_ms', amount = 1): void {
    this.counters(component)[counter] += amount;
  }

  /**
   * The counters of `component`, to add to directly: the pipeline looks them up once per record
   * and component instead of once per count. A component reports from its first lookup on.
   */
  counters(component: string): ComponentCounters {
    let counters = this.components.get(component);
    if (!counters) {
      counters = { records_in: 0, records_out: 0, filtered: 0, dead_lettered: 0, failed: 0, bytes: 0, duration_ms: 0 };
      this.components.set(component, counters);
    }
    return counters;
  }

  get(component: string, counter: Counter | 'duration_ms'): number {
    return this.components.get(component)?.[counter] ?? 0;
  }

  /** The components that reported, with their counters (read only). */
  entries(): IterableIterator<[string, Readonly<ComponentCounters>]> {
    return this.components.entries();
  }

  /** Adds every counter of `other` to this one's: a committed item's counts join the invocation's. */
  merge(other: InvocationMetrics): void {
    for (const [component, counters] of other.components) {
      const into = this.counters(component);
      for (const name of Object.keys(counters) as (Counter | 'duration_ms')[]) into[name] += counters[name];
    }
  }

  /** One EMF document per component, namespace `Ingest`, dimensions Pipeline and Component. */
  toEmbeddedMetricFormat(pipeline: string, timestamp: number): string[] {
    return [...this.components].map(([component, counters]) => {
      const names = Object.keys(counters) as (Counter | 'duration_ms')[];
      const document: Record<string, unknown> = {
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [
            {
              Namespace: 'Ingest',
              Dimensions: [['Pipeline', 'Component']],
              Metrics: names.map((name) => ({ Name: METRIC_NAMES[name].name, Unit: METRIC_NAMES[name].unit })),
            },
          ],
        },
        Pipeline: pipeline,
        Component: component,
      };
      for (const name of names) document[METRIC_NAMES[name].name] = counters[name];
      const figures = this.measures.get(component);
      if (figures) {
        const metrics = (document._aws as { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] }).CloudWatchMetrics[0]!.Metrics;
        for (const [measure, values] of figures) {
          const { name, unit } = MEASURES[measure];
          metrics.push({ Name: name, Unit: unit });
          document[name] = unit === 'Count' ? values[0] : values;
        }
      }
      return JSON.stringify(document);
    });
  }
}
