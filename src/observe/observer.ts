/**
 * The one hook surface Tally's code paths call (decision 0140). Off — nothing configured — it is
 * NOOP_OBSERVER: `on` is false and every hook site tests it before doing anything, so the hot path pays a
 * property read; prom-client and @opentelemetry/api are never loaded. On, load.ts builds one over them.
 */

/** The counters Tally keeps, with their label names in the order hook sites pass the values. */
export const COUNTERS = {
  tally_commands_total: ['type', 'outcome'],
  tally_command_submits_total: ['type', 'outcome'],
  tally_command_calls_total: ['type', 'step', 'outcome'],
  tally_worker_rounds_total: [],
  tally_worker_claims_total: [],
  tally_worker_errors_total: [],
  tally_feed_batches_total: ['consumer'],
  tally_feed_entries_total: ['consumer'],
  tally_relay_publishes_total: ['relay'],
  tally_relay_entries_total: ['relay'],
  tally_reconcile_runs_total: ['entity'],
  tally_reconcile_drift_found_total: ['entity'],
  tally_reconcile_drift_repaired_total: ['entity'],
} as const satisfies Record<string, readonly string[]>;

/** Latency histograms (seconds). */
export const HISTOGRAMS = {
  tally_command_submit_seconds: ['type'],
  tally_command_step_seconds: ['type', 'step', 'kind'],
  tally_worker_round_seconds: [],
  tally_feed_batch_seconds: ['consumer'],
} as const satisfies Record<string, readonly string[]>;

/** Gauges set by the code paths (the database-backed ones are read at scrape time, metrics.ts). */
export const GAUGES = {
  tally_feed_lag_seconds: ['consumer'],
} as const satisfies Record<string, readonly string[]>;

export type CounterName = keyof typeof COUNTERS;
export type HistogramName = keyof typeof HISTOGRAMS;
export type GaugeName = keyof typeof GAUGES;
export type SpanAttributes = Record<string, string | number | boolean>;

/** What a span wrapper hands to the code it wraps. */
export interface SpanHandle {
  /** Sets attributes (semantic-convention names where one exists). */
  set(attributes: SpanAttributes): void;
  /** The span's W3C `traceparent`, or null when tracing is off. */
  traceparent(): string | null;
}

export interface SpanOptions {
  kind?: 'internal' | 'client' | 'server' | 'producer' | 'consumer';
  attributes?: SpanAttributes;
  /** W3C traceparents this span links to (a worker retry links to the request that started it). */
  links?: readonly string[];
}

/**
 * What a hook site records when its span's work settles, before the span ends (metrics, late attributes):
 * one object per call instead of an async wrapper and closures around the work. `value` is undefined when
 * `failed`. NOOP_OBSERVER never calls it (nothing is recorded when off).
 */
export interface SpanEnd<T> {
  ended(span: SpanHandle, value: T | undefined, failed: boolean): void;
}

/** The hook surface. Label values are positional, in the order COUNTERS/HISTOGRAMS/GAUGES name them. */
export interface Observer {
  /** False on NOOP_OBSERVER: hook sites skip all work (and allocation) when it is. */
  readonly on: boolean;
  /** True when spans are recorded (tracing configured). */
  readonly tracing: boolean;
  count(name: CounterName, a?: string, b?: string, c?: string, n?: number): void;
  /** A start mark for `seconds` (0 when metrics are off). */
  start(): number;
  seconds(name: HistogramName, start: number, a?: string, b?: string, c?: string): void;
  gauge(name: GaugeName, value: number, a?: string): void;
  /**
   * Runs `fn` inside a span (ended when `fn` settles; a throw is recorded as the span's error); `end`, when
   * given, runs as it settles, before the span ends.
   */
  span<T>(
    name: string,
    options: SpanOptions,
    fn: (span: SpanHandle) => Promise<T>,
    end?: SpanEnd<T>,
  ): Promise<T>;
  /** The active span's W3C `traceparent` (null when none or off). */
  traceparent(): string | null;
}

const NOOP_SPAN: SpanHandle = { set() {}, traceparent: () => null };

/** Nothing configured: every hook is a no-op. */
export const NOOP_OBSERVER: Observer = Object.freeze({
  on: false,
  tracing: false,
  count() {},
  start: () => 0,
  seconds() {},
  gauge() {},
  span: <T>(_n: string, _o: SpanOptions, fn: (span: SpanHandle) => Promise<T>) => fn(NOOP_SPAN),
  traceparent: () => null,
});
