import { canonicalJson } from '../commands/canonical.js';
import type { Outcome } from '../commands/definition.js';

/** The one request a `jsonSend` makes per send: the stored snapshot's JSON text and the recorded key. */
export interface OutboundRequest {
  url: string;
  method: string;
  /**
   * `content-type: application/json`, `idempotency-key: <the recorded downstream key>`, `traceparent` when
   * tracing is on, and yours.
   */
  headers: Record<string, string>;
  /**
   * The stored request's canonical JSON (keys sorted, one number spelling): the same text on every send.
   * Not `JSON.stringify`: the first send gets the request as built, a re-send as the database gave it back
   * (jsonb orders keys its own way), so their `JSON.stringify` texts differ in key order.
   */
  body: string;
}

/** What the client answered: its status and its body, parsed if it was JSON. */
export interface OutboundAnswer {
  status: number;
  body: unknown;
}

/** Sends one request and answers with the status and body (got, ky, axios, undici, a test double...). */
export type OutboundClient = (request: OutboundRequest) => Promise<OutboundAnswer>;

export interface JsonSendOptions {
  url: string;
  /** Default POST. */
  method?: string;
  /** Fixed headers (auth). Must not vary per attempt: the downstream may fingerprint them. */
  headers?: Record<string, string>;
  /** Default: the global `fetch` (undici on Node). */
  client?: OutboundClient;
  /** Milliseconds before the default client gives up (the outcome is then unknown). Default 10 s. */
  timeoutMs?: number;
}

/**
 * A call step's `send` for a JSON API: every send of the call (first and re-sends) carries the stored
 * request as its exact JSON text and the recorded downstream key as `Idempotency-Key`, through the global
 * `fetch` or the injected `client`. 2xx → success with the body; 4xx other than 408/409/425/429 → a definite
 * failure (`http_<status>`); anything else, or a throw → unknown (the command re-sends with the same key,
 * or queries, as its schedule says).
 *
 * @example
 * steps: [{ name: 'issue', call: {
 *   request: (ctx) => ({ user: ctx.input.user, prize: ctx.input.prize }),
 *   send: jsonSend({ url: 'https://prizes.example/issue' }),
 * } }]
 */
export function jsonSend(options: JsonSendOptions) {
  const client = options.client ?? fetchClient(options.timeoutMs ?? 10_000);
  return async function send(
    request: unknown,
    meta: { key: string; traceparent?: string },
  ): Promise<Outcome> {
    const answer = await client({
      url: options.url,
      method: options.method ?? 'POST',
      headers: {
        ...options.headers,
        'content-type': 'application/json',
        'idempotency-key': meta.key,
        // With tracing on, the send's span (decision 0140): per attempt, and not part of the request's identity.
        ...(meta.traceparent ? { traceparent: meta.traceparent } : {}),
      },
      body: canonicalJson(request, UNLIMITED),
    });
    if (answer.status >= 200 && answer.status < 300) return { outcome: 'success', value: answer.body };
    if (answer.status >= 400 && answer.status < 500 && ![408, 409, 425, 429].includes(answer.status)) {
      return { outcome: 'failure', reason: `http_${answer.status}`, details: { status: answer.status } };
    }
    return { outcome: 'unknown', reason: `http_${answer.status}` };
  };
}

/** The stored request is already bounded by the database; only hostile nesting is refused. */
const UNLIMITED = { depth: 512, size: Number.MAX_SAFE_INTEGER };

function fetchClient(timeoutMs: number): OutboundClient {
  return async (r) => {
    const res = await fetch(r.url, {
      method: r.method,
      headers: r.headers,
      body: r.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: unknown = text;
    if (/json/i.test(res.headers.get('content-type') ?? '')) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.status, body };
  };
}
