import type { NatsConnection } from 'nats';
import { loadDriver } from '../db/driver.js';
import type { ResolvedAlertDelivery } from './alert-delivery-options.js';

/** What a receiver gets for one alert: the same body on every attempt but `attempt`. */
export interface AlertMessage {
  /** Stable across attempts and channels: what a receiver dedupes on. */
  deliveryId: string;
  /** 1 on the first attempt. */
  attempt: number;
  alert: {
    id: string;
    commandId: string | null;
    commandType: string;
    kind: string;
    message: string;
    data: unknown;
    at: string;
  };
}

/**
 * Sends one alert on one channel; resolves when the receiver acknowledged it, rejects with a short
 * description (never the URL, headers or body: they may hold secrets) when it did not.
 */
export type AlertSender = (m: AlertMessage) => Promise<void>;

class SendFailed extends Error {}

/** Why a send failed, in a few words fit for `last_error` (no URLs, no values). */
export function describeSendError(err: unknown): string {
  if (err instanceof SendFailed) return err.message;
  const e = err as { name?: string; code?: string; cause?: { code?: string } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  const code = e?.cause?.code ?? e?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return `failed: ${code}`;
  return `failed: ${String(e?.name ?? 'error').slice(0, 40)}`;
}

/**
 * The webhook: POST the message as JSON with `Idempotency-Key: <deliveryId>`; any 2xx acknowledges it,
 * anything else (another status, a timeout, a refused connection) is a failed attempt.
 */
export function webhookSender(w: NonNullable<ResolvedAlertDelivery['webhook']>): AlertSender {
  return async (m) => {
    const res = await fetch(w.url, {
      method: 'POST',
      headers: {
        ...w.headers,
        'content-type': 'application/json',
        'idempotency-key': m.deliveryId,
        'tally-delivery-attempt': String(m.attempt),
      },
      body: JSON.stringify(m),
      redirect: 'manual',
      signal: AbortSignal.timeout(w.timeoutMs),
    });
    // The body is read (and dropped) so the connection goes back to the pool.
    await res.arrayBuffer().catch(() => {});
    if (res.status < 200 || res.status > 299) throw new SendFailed(`HTTP ${res.status}`);
  };
}

function within(p: Promise<void>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new SendFailed('timed out')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** The NATS subject, on a connection of the caller's or one this opens (and `close` closes). */
export function natsSender(n: NonNullable<ResolvedAlertDelivery['nats']>): {
  send: AlertSender;
  close: () => Promise<void>;
} {
  let conn: Promise<NatsConnection> | null = null;
  const connection = (): Promise<NatsConnection> => {
    if (n.connection) return Promise.resolve(n.connection);
    conn ??= loadDriver('nats', () => import('nats'))
      .then((mod) =>
        mod.connect({
          servers: [...n.servers],
          timeout: n.timeoutMs,
          name: 'tally-alerts',
          maxReconnectAttempts: -1,
        }),
      )
      .catch((err) => {
        conn = null;
        throw err;
      });
    return conn;
  };
  const encoder = new TextEncoder();
  return {
    async send(m) {
      const nc = await connection();
      const data = encoder.encode(JSON.stringify(m));
      if (n.jetstream) {
        // Acknowledged once a stream stored it; the stream drops a re-send with the same id.
        await nc.jetstream({ timeout: n.timeoutMs }).publish(n.subject, data, {
          msgID: m.deliveryId,
          timeout: n.timeoutMs,
        });
      } else {
        nc.publish(n.subject, data);
        await within(nc.flush(), n.timeoutMs);
      }
    },
    async close() {
      const c = conn;
      conn = null;
      if (c) await (await c.catch(() => null))?.close();
    },
  };
}
