import type * as Otel from '@opentelemetry/api';
import type { SpanHandle, SpanOptions } from './observer.js';

type OtelModule = typeof Otel;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C `traceparent` of a span context (version 00). */
export function formatTraceparent(c: Otel.SpanContext): string {
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A remote span context from a W3C `traceparent`; null when it is not one. */
export function parseTraceparent(tp: string): Otel.SpanContext | null {
  const m = TRACEPARENT.exec(tp);
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return null;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true };
}

/** Spans through @opentelemetry/api: the active context carries parents (the SDK's context manager). */
export class Tracing {
  readonly #api: OtelModule;
  readonly #tracer: Otel.Tracer;

  constructor(api: OtelModule, tracer: Otel.Tracer | null) {
    this.#api = api;
    this.#tracer = tracer ?? api.trace.getTracer('tally');
  }

  async span<T>(name: string, o: SpanOptions, fn: (span: SpanHandle) => Promise<T>): Promise<T> {
    const api = this.#api;
    const links: Otel.Link[] = [];
    for (const tp of o.links ?? []) {
      const context = parseTraceparent(tp);
      if (context) links.push({ context });
    }
    const kind = KINDS[o.kind ?? 'internal'];
    const options: Otel.SpanOptions = { kind, ...(o.attributes ? { attributes: o.attributes } : {}), links };
    return this.#tracer.startActiveSpan(name, options, async (span) => {
      const handle: SpanHandle = {
        set: (a) => span.setAttributes(a),
        traceparent: () => formatTraceparent(span.spanContext()),
      };
      try {
        return await fn(handle);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: String((err as Error)?.message ?? err) });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  traceparent(): string | null {
    const span = this.#api.trace.getActiveSpan();
    if (!span) return null;
    const c = span.spanContext();
    return this.#api.isSpanContextValid(c) ? formatTraceparent(c) : null;
  }
}

// Values of @opentelemetry/api's SpanKind (a const enum in its types: the numbers are its contract).
const KINDS = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 } as const;
