// HTTP load for `npm run bench -- chain`: autocannon against one redemption endpoint, every request under a
// key of its own (and a user in turn), remembering what each key was answered; then the client's retries
// of every key that did not get a final answer, and the check that each key took effect once.
import autocannon from 'autocannon';

export interface Sent {
  user: string;
  /** The last status this key was answered with (absent: no answer, e.g. cut off at the end of the run). */
  status?: number;
  prizeId?: string;
}

export interface Load {
  /** Every key sent, in this run and its warm-up. */
  readonly keys: Map<string, Sent>;
  /** Runs autocannon for `seconds`; figures of the run. */
  run(seconds: number): Promise<{
    ok: number;
    other: Record<string, number>;
    perS: number;
    p50: number;
    p99: number;
    errors: number;
    s: number;
  }>;
  /** The client's retries: each key without a final answer is sent again (same key, same body) until it has one. */
  settle(timeoutMs: number): Promise<{ retried: number; unsettled: number }>;
}

const BODY = JSON.stringify({ prize: 'mug', qty: 1 });

/**
 * Load on `url` + `path`: 32 connections (or `connections`), one key per request (`keyed: false`: no key,
 * for the naive endpoint), users `u0` … `u{users-1}` in turn.
 *
 * @example
 * const load = chainLoad({ url: b.url, path: '/redemptions', users: 256, tag: 'tally' });
 * const fig = await load.run(15);
 */
export function chainLoad(o: {
  url: string;
  path: string;
  users: number;
  tag: string;
  keyed?: boolean;
  connections?: number;
}): Load {
  const keys = new Map<string, Sent>();
  const keyed = o.keyed ?? true;
  let n = 0;
  const note = (key: string, status: number, body: string) => {
    const sent = keys.get(key);
    if (!sent) return;
    sent.status = status;
    if (status === 200) sent.prizeId = prizeOf(body);
  };
  return {
    keys,
    async run(seconds) {
      const other: Record<string, number> = {};
      let ok = 0;
      const result = await autocannon({
        url: o.url,
        connections: o.connections ?? 32,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: o.path,
            setupRequest(req, context) {
              const i = n++;
              const key = `${o.tag}-${i}`;
              const user = `u${i % o.users}`;
              keys.set(key, { user });
              (context as { key?: string }).key = key;
              req.headers = {
                'content-type': 'application/json',
                'x-user': user,
                ...(keyed ? { 'idempotency-key': key } : {}),
              };
              req.body = BODY;
              return req;
            },
            onResponse(status, body, context) {
              if (status >= 200 && status < 300) ok++;
              else other[status] = (other[status] ?? 0) + 1;
              note((context as { key: string }).key, status, body);
            },
          },
        ],
      });
      return {
        ok,
        other,
        perS: ok / result.duration,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors,
        s: result.duration,
      };
    },
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let retried = 0;
      let open = [...keys].filter(([, s]) => s.status !== 200 && s.status !== 422);
      while (open.length > 0 && Date.now() < deadline) {
        for (const [key, s] of open) {
          retried++;
          try {
            const res = await fetch(`${o.url}${o.path}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-user': s.user, 'idempotency-key': key },
              body: BODY,
              signal: AbortSignal.timeout(10_000),
            });
            note(key, res.status, await res.text());
          } catch {}
        }
        open = open.filter(([, s]) => s.status !== 200 && s.status !== 422);
        if (open.length > 0) await new Promise((r) => setTimeout(r, 500));
      }
      return { retried, unsettled: open.length };
    },
  };
}

function prizeOf(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { result?: { prize?: { prizeId?: unknown } } }).result?.prize?.prizeId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
