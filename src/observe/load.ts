import type * as Otel from '@opentelemetry/api';
import type * as Prom from 'prom-client';
import { loadDriver } from '../db/driver.js';
import type { Executor } from '../db/types.js';
import { Metrics } from './metrics.js';
import type {
  CounterName,
  GaugeName,
  HistogramName,
  Observer,
  SpanEnd,
  SpanHandle,
  SpanOptions,
} from './observer.js';
import type { MetricsRegistry, ObserveOptions } from './options.js';
import { Tracing } from './tracing.js';

/**
 * Builds the observer `createTally({ observe })` asked for, loading prom-client and/or
 * @opentelemetry/api now (DRIVER_MISSING when one is not installed). Never called when nothing is on.
 */
export async function loadObserver(o: ObserveOptions, db: Executor, s: string): Promise<LiveObserver> {
  let metrics: Metrics | null = null;
  let tracing: Tracing | null = null;
  if (o.metrics) {
    const prom = await loadDriver('prom-client', () => import('prom-client'));
    const given = o.metrics === true ? null : (o.metrics as unknown as Prom.Registry);
    metrics = new Metrics(prom, given, db, s, o.cache ?? null);
  }
  if (o.tracing) {
    const api = await loadDriver('@opentelemetry/api', () => import('@opentelemetry/api'));
    tracing = new Tracing(api, o.tracing === true ? null : (o.tracing as unknown as Otel.Tracer));
  }
  return new LiveObserver(metrics, tracing);
}

/** The observer when metrics, tracing or both are on. */
export class LiveObserver implements Observer {
  readonly on = true;
  readonly tracing: boolean;
  readonly #m: Metrics | null;
  readonly #t: Tracing | null;

  constructor(metrics: Metrics | null, tracing: Tracing | null) {
    this.#m = metrics;
    this.#t = tracing;
    this.tracing = tracing !== null;
  }

  /** The prom-client registry (null when metrics are off). */
  get registry(): MetricsRegistry | null {
    return (this.#m?.registry as unknown as MetricsRegistry | undefined) ?? null;
  }

  count(name: CounterName, a?: string, b?: string, c?: string, n = 1): void {
    this.#m?.count(name, n, a, b, c);
  }

  start(): number {
    return this.#m ? performance.now() : 0;
  }

  seconds(name: HistogramName, start: number, a?: string, b?: string, c?: string): void {
    this.#m?.seconds(name, (performance.now() - start) / 1000, a, b, c);
  }

  gauge(name: GaugeName, value: number, a?: string): void {
    this.#m?.gauge(name, value, a);
  }

  span<T>(
    name: string,
    options: SpanOptions,
    fn: (span: SpanHandle) => Promise<T>,
    end?: SpanEnd<T>,
  ): Promise<T> {
    if (this.#t) return this.#t.span(name, options, fn, end);
    return end ? runThenEnd(fn, end) : fn(OFF_SPAN);
  }

  traceparent(): string | null {
    return this.#t?.traceparent() ?? null;
  }
}

const OFF_SPAN: SpanHandle = { set() {}, traceparent: () => null };

/** Metrics without tracing: the work, then its hook's `end` as it settles (one `then`, as the span path). */
function runThenEnd<T>(fn: (span: SpanHandle) => Promise<T>, end: SpanEnd<T>): Promise<T> {
  let work: Promise<T>;
  try {
    work = Promise.resolve(fn(OFF_SPAN));
  } catch (err) {
    end.ended(OFF_SPAN, undefined, true);
    return Promise.reject(err);
  }
  return work.then(
    (value) => {
      end.ended(OFF_SPAN, value, false);
      return value;
    },
    (err: unknown) => {
      end.ended(OFF_SPAN, undefined, true);
      throw err;
    },
  );
}
