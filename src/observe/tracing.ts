import type * as Otel from '@opentelemetry/api';
import type { SpanAttributes, SpanEnd, SpanHandle, SpanOptions } from './observer.js';

type OtelModule = typeof Otel;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C `traceparent` of a span context (version 00). */
export function formatTraceparent(c: Otel.SpanContext): string {
  const f = c.traceFlags & 0xff;
  return `00-${c.traceId}-${c.spanId}-${f === 1 ? '01' : f.toString(16).padStart(2, '0')}`;
}

/** A remote span context from a W3C `traceparent`; null when it is not one. */
export function parseTraceparent(tp: string): Otel.SpanContext | null {
  const m = TRACEPARENT.exec(tp);
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return null;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true };
}

/**
 * Spans through @opentelemetry/api: the active context carries parents (the SDK's context manager).
 * Per span this is the tracer's startSpan and one `context.with` (what `startActiveSpan` does), one `then`
 * on the work and one small handle object — no async wrappers, no options spread, no empty links array
 * (issue 15: the tracing path is a fixed cost per command).
 */
export class Tracing {
  readonly #api: OtelModule;
  readonly #tracer: Otel.Tracer;

  constructor(api: OtelModule, tracer: Otel.Tracer | null) {
    this.#api = api;
    this.#tracer = tracer ?? api.trace.getTracer('tally');
  }

  span<T>(name: string, o: SpanOptions, fn: (span: SpanHandle) => Promise<T>, end?: SpanEnd<T>): Promise<T> {
    const api = this.#api;
    const options: Otel.SpanOptions = { kind: KINDS[o.kind ?? 'internal'], attributes: o.attributes };
    if (o.links && o.links.length > 0) options.links = linksOf(o.links);
    // startActiveSpan, written out so the work and its handle are passed as arguments, not captured.
    const parent = api.context.active();
    const span = this.#tracer.startSpan(name, options, parent);
    const active = api.trace.setSpan(parent, span);
    return api.context.with(active, runInSpan<T>, undefined, span, new Handle(span), fn, end);
  }

  traceparent(): string | null {
    const span = this.#api.trace.getActiveSpan();
    if (!span) return null;
    const c = span.spanContext();
    return this.#api.isSpanContextValid(c) ? formatTraceparent(c) : null;
  }
}

/**
 * The span's work, under its span: a throw (or rejection) is the span's error; `end` runs as it settles,
 * before the span ends. One `then` on the work's promise (an async wrapper would cost two more promises,
 * each seen by every AsyncLocalStorage's hooks).
 */
function runInSpan<T>(
  span: Otel.Span,
  handle: Handle,
  fn: (span: SpanHandle) => Promise<T>,
  end: SpanEnd<T> | undefined,
): Promise<T> {
  let work: Promise<T>;
  try {
    work = Promise.resolve(fn(handle));
  } catch (err) {
    settled(span, handle, end, undefined, err, true);
    return Promise.reject(err);
  }
  return work.then(
    (value) => {
      settled(span, handle, end, value, undefined, false);
      return value;
    },
    (err: unknown) => {
      settled(span, handle, end, undefined, err, true);
      throw err;
    },
  );
}

function settled<T>(
  span: Otel.Span,
  handle: Handle,
  end: SpanEnd<T> | undefined,
  value: T | undefined,
  err: unknown,
  failed: boolean,
): void {
  if (failed) {
    span.recordException(err as Error);
    span.setStatus({ code: STATUS_ERROR, message: String((err as Error)?.message ?? err) });
  }
  try {
    end?.ended(handle, value, failed);
  } finally {
    span.end();
  }
}

/** What the wrapped code holds of its span (methods on a class: nothing allocated per call but this). */
class Handle implements SpanHandle {
  readonly #span: Otel.Span;
  constructor(span: Otel.Span) {
    this.#span = span;
  }
  set(attributes: SpanAttributes): void {
    this.#span.setAttributes(attributes);
  }
  traceparent(): string {
    return formatTraceparent(this.#span.spanContext());
  }
}

function linksOf(traceparents: readonly string[]): Otel.Link[] {
  const links: Otel.Link[] = [];
  for (const tp of traceparents) {
    const context = parseTraceparent(tp);
    if (context) links.push({ context });
  }
  return links;
}

// Values of @opentelemetry/api's SpanKind and SpanStatusCode.ERROR (const enums in its types: the numbers
// are its contract).
const KINDS = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 } as const;
const STATUS_ERROR = 2;
