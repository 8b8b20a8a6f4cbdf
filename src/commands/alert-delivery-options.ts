import type { NatsConnection } from 'nats';
import type { DialectName } from '../db/types.js';
import { TallyError } from '../errors.js';

/** Where alerts are sent (decision 0144): a webhook, a NATS subject, or both. Configured once, on createTally. */
export interface AlertDeliveryOptions {
  /** An HTTP endpoint: each alert is POSTed as JSON; any 2xx answer acknowledges it. */
  webhook?: {
    url: string;
    /** Extra request headers (e.g. an Authorization token). Never recorded. */
    headers?: Readonly<Record<string, string>>;
    /** How long one POST may take before it counts as failed. Default 10 s. */
    timeoutMs?: number;
  };
  /** A NATS subject each alert is published on. */
  nats?: {
    subject: string;
    /** A connection of your own (not closed by Tally) ... */
    connection?: NatsConnection;
    /** ... or the servers Tally connects to itself (host:port, comma-separated or a list). */
    servers?: string | readonly string[];
    /**
     * true (default): publish through JetStream — acknowledged once a stream stored it, the delivery id
     * as `Nats-Msg-Id` so the stream drops a re-send inside its duplicate window. false: core NATS,
     * acknowledged once the server took it (flush); no subscriber is guaranteed to have seen it.
     */
    jetstream?: boolean;
    /** How long a publish may wait for its acknowledgement. Default 5 s. */
    timeoutMs?: number;
  };
  /** Backoff between attempts of one alert's delivery: doubling from `initialMs` up to `maxMs`. */
  retry?: { initialMs?: number; maxMs?: number };
  /** Alerts claimed per delivery pass. Default 16. */
  batchSize?: number;
  /** How long a claimed delivery is held before another worker may take it over. Default 60 s. */
  leaseMs?: number;
}

export type AlertChannel = 'webhook' | 'nats';

/** The options, checked and frozen. */
export interface ResolvedAlertDelivery {
  readonly webhook: { url: string; headers: Readonly<Record<string, string>>; timeoutMs: number } | null;
  readonly nats: {
    subject: string;
    connection: NatsConnection | null;
    servers: readonly string[];
    jetstream: boolean;
    timeoutMs: number;
  } | null;
  /** The configured channels, in a fixed order. */
  readonly channels: readonly AlertChannel[];
  readonly initialMs: number;
  readonly maxMs: number;
  readonly batchSize: number;
  readonly leaseMs: number;
}

const bad = (what: string): never => {
  throw new TallyError('INVALID_CONFIG', `options.alerts: ${what}`);
};

function int(v: unknown, what: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(`${what} must be an integer from ${min} to ${max}`);
  }
  return v as number;
}

// A NATS subject to publish on: tokens of visible characters, no wildcards.
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

/**
 * Checks `options.alerts` once, at construction (INVALID_CONFIG with the field at fault); null when
 * delivery is not configured.
 *
 * @example
 * const d = checkAlertDelivery({ webhook: { url: 'https://ops.example/hooks/tally' } });
 */
export function checkAlertDelivery(
  o: AlertDeliveryOptions | undefined,
  dialect: DialectName = 'postgres',
): ResolvedAlertDelivery | null {
  if (o === undefined) return null;
  if (!o || typeof o !== 'object') bad('must be an object with webhook and/or nats');
  // The outbox is a PostgreSQL trigger and table (migration 14); the MySQL list has neither yet.
  if (dialect === 'mysql') bad('alert delivery needs PostgreSQL or PGlite');
  let webhook: ResolvedAlertDelivery['webhook'] = null;
  if (o.webhook !== undefined) {
    const w = o.webhook;
    let url: URL | null = null;
    try {
      url = new URL(String(w?.url));
    } catch {
      bad('webhook.url must be an absolute http(s) URL');
    }
    if (url!.protocol !== 'http:' && url!.protocol !== 'https:') bad('webhook.url must be http(s)');
    const headers = w.headers ?? {};
    if (typeof headers !== 'object' || headers === null) bad('webhook.headers must be an object');
    for (const [k, v] of Object.entries(headers)) {
      if (!HEADER.test(k) || typeof v !== 'string' || /[\r\n]/.test(v)) {
        bad('webhook.headers must map header names to single-line strings');
      }
    }
    webhook = Object.freeze({
      url: url!.href,
      headers: Object.freeze({ ...headers }),
      timeoutMs: int(w.timeoutMs, 'webhook.timeoutMs', 10_000, 1, 600_000),
    });
  }
  let nats: ResolvedAlertDelivery['nats'] = null;
  if (o.nats !== undefined) {
    const n = o.nats;
    if (typeof n?.subject !== 'string' || !SUBJECT.test(n.subject) || n.subject.length > 200) {
      bad('nats.subject must be a NATS subject without wildcards');
    }
    const list =
      n.servers === undefined ? [] : typeof n.servers === 'string' ? n.servers.split(',') : [...n.servers];
    const servers = list.map((x) => String(x).trim());
    if (servers.some((x) => x === '' || /\s/.test(x))) bad('nats.servers must be host:port entries');
    if ((n.connection === undefined) === (servers.length === 0)) {
      bad('nats needs exactly one of connection or servers');
    }
    if (n.connection !== undefined && typeof n.connection?.publish !== 'function') {
      bad('nats.connection must be a NATS connection');
    }
    if (n.jetstream !== undefined && typeof n.jetstream !== 'boolean')
      bad('nats.jetstream must be a boolean');
    nats = Object.freeze({
      subject: n.subject,
      connection: n.connection ?? null,
      servers: Object.freeze(servers),
      jetstream: n.jetstream ?? true,
      timeoutMs: int(n.timeoutMs, 'nats.timeoutMs', 5000, 1, 600_000),
    });
  }
  if (!webhook && !nats) bad('name a webhook, a nats subject, or both');
  const initialMs = int(o.retry?.initialMs, 'retry.initialMs', 1000, 1, 86_400_000);
  const maxMs = int(o.retry?.maxMs, 'retry.maxMs', 300_000, 1, 86_400_000);
  if (maxMs < initialMs) bad('retry.maxMs must be at least retry.initialMs');
  const leaseMs = int(o.leaseMs, 'leaseMs', 60_000, 100, 86_400_000);
  if (leaseMs <= Math.max(webhook?.timeoutMs ?? 0, nats?.timeoutMs ?? 0)) {
    bad("leaseMs must be longer than the channels' timeoutMs (a send must end while it is held)");
  }
  const channels: AlertChannel[] = [];
  if (webhook) channels.push('webhook');
  if (nats) channels.push('nats');
  return Object.freeze({
    webhook,
    nats,
    channels: Object.freeze(channels),
    initialMs,
    maxMs,
    batchSize: int(o.batchSize, 'batchSize', 16, 1, 1000),
    leaseMs,
  });
}

/** The wait after the n-th failed attempt (n >= 1): initialMs doubling, capped at maxMs. */
export function alertBackoffMs(d: Pick<ResolvedAlertDelivery, 'initialMs' | 'maxMs'>, n: number): number {
  return Math.min(d.maxMs, d.initialMs * 2 ** Math.min(Math.max(n - 1, 0), 30));
}
