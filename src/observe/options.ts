import { TallyError } from '../errors.js';

/** A prom-client `Registry` (structural, so Tally's types do not need prom-client installed). */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

/** An @opentelemetry/api `Tracer` (structural, for the same reason). */
export interface TracerLike {
  startSpan(...args: never[]): unknown;
  startActiveSpan(...args: never[]): unknown;
}

/** `createTally({ observe })`: metrics through prom-client, traces through @opentelemetry/api. */
export interface ObserveOptions {
  /** `true`: a new prom-client Registry (`tally.metrics()` returns it); or your own Registry. */
  metrics?: boolean | MetricsRegistry;
  /** `true`: the global tracer provider's `tally` tracer; or a Tracer of yours. */
  tracing?: boolean | TracerLike;
  /** A read-through cache (`tally/cache`) whose refused fills to count (read from its stats() at scrape). */
  cache?: { stats(): { refusedFills: number } };
}

/** Checks `options.observe` at construction; null when nothing is turned on. */
export function checkObserveOptions(o: unknown): ObserveOptions | null {
  if (o === undefined || o === null) return null;
  if (typeof o !== 'object') throw new TallyError('INVALID_CONFIG', 'options.observe must be an object');
  const { metrics, tracing } = o as ObserveOptions;
  if (metrics !== undefined && typeof metrics !== 'boolean' && typeof metrics?.metrics !== 'function') {
    throw new TallyError(
      'INVALID_CONFIG',
      'options.observe.metrics must be true, false or a prom-client Registry',
    );
  }
  if (tracing !== undefined && typeof tracing !== 'boolean' && typeof tracing?.startSpan !== 'function') {
    throw new TallyError(
      'INVALID_CONFIG',
      'options.observe.tracing must be true, false or an OpenTelemetry Tracer',
    );
  }
  if (!metrics && !tracing) return null;
  const cache = (o as ObserveOptions).cache;
  if (cache !== undefined && typeof cache?.stats !== 'function') {
    throw new TallyError('INVALID_CONFIG', 'options.observe.cache must be a cache (createCache(...))');
  }
  return { ...(metrics ? { metrics } : {}), ...(tracing ? { tracing } : {}), ...(cache ? { cache } : {}) };
}
