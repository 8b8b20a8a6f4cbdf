// A's client for B: the idempotency key is created once, at the head, and every retry re-sends the same
// key and the same body — after a cut connection, a 5xx, a 409 (another attempt in flight) or a 202
// (outcome not known yet), no sooner than B's Retry-After says. It stops at a final answer: 200, or a 4xx
// such as 422.

export interface RedeemCall {
  key: string;
  user: string;
  prize: string;
  qty: number;
}

export interface Answer {
  status: number; // 0: no answer (the connection failed every time)
  body: any;
  tries: number;
  /** Every answer in order, for the page's log. */
  history: { status: number; note: string }[];
}

export interface RetryOptions {
  attempts?: number;
  /**
   * First pause between tries; doubles, capped at 2 s. B's Retry-After (the time until the command's next
   * scheduled attempt) is honoured as a minimum, up to 5 s: knocking sooner cannot change the answer.
   */
  baseMs?: number;
  timeoutMs?: number;
}

/**
 * Calls B's POST /redemptions until there is a final answer or the attempts run out.
 *
 * @example
 * const a = await redeemWithRetries('http://127.0.0.1:4002', { key: randomUUID(), user: 'alice', prize: 'mug', qty: 1 });
 */
export async function redeemWithRetries(
  bUrl: string,
  call: RedeemCall,
  o: RetryOptions = {},
): Promise<Answer> {
  const attempts = o.attempts ?? 30;
  const history: Answer['history'] = [];
  let last: { status: number; body: any } = { status: 0, body: null };
  for (let i = 1; i <= attempts; i++) {
    try {
      const res = await fetch(`${bUrl}/redemptions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': call.key, 'x-user': call.user },
        body: JSON.stringify({ prize: call.prize, qty: call.qty }),
        signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
      });
      const text = await res.text();
      last = { status: res.status, body: text ? JSON.parse(text) : null };
      history.push({ status: res.status, note: String(last.body?.code ?? last.body?.status ?? '') });
      const retry = res.status === 202 || res.status === 409 || res.status >= 500;
      if (!retry) return { ...last, tries: i, history };
      const after = Number(res.headers.get('retry-after') ?? 'NaN') * 1000;
      await pause(i, o.baseMs ?? 200, Number.isFinite(after) ? after : undefined);
    } catch (err) {
      history.push({ status: 0, note: (err as Error).name });
      await pause(i, o.baseMs ?? 200);
    }
  }
  return { ...last, tries: attempts, history };
}

function pause(attempt: number, baseMs: number, retryAfterMs?: number): Promise<void> {
  const backoff = Math.min(2000, baseMs * 2 ** (attempt - 1));
  const ms = retryAfterMs === undefined ? backoff : Math.min(5000, Math.max(backoff, retryAfterMs));
  return new Promise((r) => setTimeout(r, ms));
}
