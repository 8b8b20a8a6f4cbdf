import { isDeepStrictEqual } from 'node:util';
import type { Outcome, QueryAnswer, Reply } from '../../../src/commands/definition.js';

/** An HTTP-ish error from the prize platform (C). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface IssueRequest {
  user: string;
  prize: string;
  qty: number;
  ts: string;
  nonce: string;
}

type Issued = { request: IssueRequest; prizeId: string };

/**
 * An in-process fake of C, the prize platform: a party we do not own, so it may misbehave on purpose.
 * Idempotent by key (a different request under a known key is refused with 409, as the real C did),
 * limited stock, and fault switches.
 */
export class FakePrizes {
  readonly issued = new Map<string, Issued>();
  readonly refused = new Map<string, { request: IssueRequest; reason: string }>();
  readonly pending = new Map<string, { request: IssueRequest; recordAt: number }>();
  /** Every request that arrived, in order (what B actually sent). */
  readonly received: { key: string; request: IssueRequest }[] = [];
  readonly queries: { key: string; at: number }[] = [];
  /** Prizes handed out (must equal issued.size: nothing issued twice). */
  effects = 0;
  readonly faults = {
    /** The next n sends fail with 503 before anything is recorded. */
    crashNext: 0,
    /** The next n sends are recorded, then the reply is lost (connection reset). */
    loseReplyNext: 0,
    /** Sends are recorded this long after they arrive; until then queries say "not found". */
    slowRecordMs: 0,
    /** While set, sends wait for it (a C that hangs). */
    gate: null as Promise<void> | null,
    /** Every send takes this long (real time), widening race windows. */
    delayMs: 0,
    /** C is down: sends and queries fail to connect (ECONNREFUSED), nothing arrives. */
    down: false,
  };
  /** Connections refused while down (what B tried to send or ask). */
  refusedConnections = 0;

  private refuseIfDown(): void {
    if (!this.faults.down) return;
    this.refusedConnections++;
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4003'), { code: 'ECONNREFUSED' });
    throw new TypeError('fetch failed', { cause });
  }

  constructor(
    private readonly clock: () => Date,
    public stock: number,
  ) {}

  async issue(
    key: string,
    request: IssueRequest,
  ): Promise<{ status: string; prizeId?: string; reason?: string }> {
    this.refuseIfDown();
    this.received.push({ key, request: structuredClone(request) });
    if (this.faults.gate) await this.faults.gate;
    if (this.faults.delayMs > 0) await new Promise((r) => setTimeout(r, this.faults.delayMs));
    if (this.faults.crashNext > 0) {
      this.faults.crashNext--;
      throw new HttpError(503, 'prize platform crashed');
    }
    this.settle();
    const prior = this.issued.get(key) ?? this.refused.get(key) ?? this.pending.get(key);
    let reply: { status: string; prizeId?: string; reason?: string };
    if (prior) {
      if (!isDeepStrictEqual(prior.request, request))
        throw new HttpError(409, 'key reused with a different request');
      if (this.pending.has(key)) throw new HttpError(503, 'still recording');
      const i = this.issued.get(key);
      reply = i
        ? { status: 'issued', prizeId: i.prizeId }
        : { status: 'refused', reason: this.refused.get(key)!.reason };
    } else if (this.faults.slowRecordMs > 0) {
      this.pending.set(key, { request, recordAt: this.clock().getTime() + this.faults.slowRecordMs });
      throw Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
    } else {
      reply = this.record(key, request);
    }
    if (this.faults.loseReplyNext > 0) {
      this.faults.loseReplyNext--;
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    return reply;
  }

  async query(key: string): Promise<QueryAnswer> {
    this.refuseIfDown();
    this.queries.push({ key, at: this.clock().getTime() });
    this.settle();
    const i = this.issued.get(key);
    if (i) return { outcome: 'success', value: { prizeId: i.prizeId } };
    const r = this.refused.get(key);
    if (r) return { outcome: 'failure', reason: r.reason };
    return { outcome: 'not_found' };
  }

  /** Finishes slow recordings whose time has come. */
  settle(): void {
    for (const [key, p] of this.pending) {
      if (p.recordAt <= this.clock().getTime()) {
        this.pending.delete(key);
        this.record(key, p.request);
      }
    }
  }

  issuedQty(): number {
    let n = 0;
    for (const i of this.issued.values()) n += i.request.qty;
    return n;
  }

  private record(key: string, request: IssueRequest) {
    if (this.stock < request.qty) {
      this.refused.set(key, { request, reason: 'out_of_stock' });
      return { status: 'refused', reason: 'out_of_stock' };
    }
    this.stock -= request.qty;
    this.effects++;
    const prizeId = `P-${this.effects}`;
    this.issued.set(key, { request, prizeId });
    return { status: 'issued', prizeId };
  }
}

/** B's classifier for C's answers: 4xx is a definite refusal, 5xx and network errors are unknown. */
export function classifyPrizeReply(
  reply: Reply<{ status: string; prizeId?: string; reason?: string }>,
): Outcome {
  if (reply.ok) {
    if (reply.value.status === 'issued')
      return { outcome: 'success', value: { prizeId: reply.value.prizeId } };
    return { outcome: 'failure', reason: reply.value.reason ?? 'refused' };
  }
  const e = reply.error;
  if (e instanceof HttpError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
    return { outcome: 'failure', reason: `http_${e.status}` };
  }
  return { outcome: 'unknown', reason: e instanceof Error ? e.message : 'error' };
}
