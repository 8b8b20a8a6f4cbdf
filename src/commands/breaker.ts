import type { TallyConfig } from '../config.js';
import type { Executor } from '../db/types.js';
import {
  breakerFailedSql,
  claimProbeSql,
  closeBreakerSql,
  type DownstreamRow,
  downstreamSql,
  downstreamsSql,
  dueProbesSql,
  probeFailedSql,
  wakePausedSql,
} from './breaker-sql.js';
import type { BreakerPolicy, Outcome, QueryAnswer, Reply } from './definition.js';

/**
 * Breakers per downstream (decision 0027). The state lives in the database, so every process and every
 * worker sees the same breaker; each process keeps a short-lived copy so that a call to a healthy
 * downstream costs no extra round trip.
 */

/** How long a process trusts its copy of a closed breaker before reading it again. */
const FRESH_MS = 1000;

interface Known {
  row: DownstreamRow | null;
  readAt: number;
}

const books = new WeakMap<TallyConfig, Map<string, Known>>();

function book(config: TallyConfig): Map<string, Known> {
  let b = books.get(config);
  if (!b) {
    b = new Map();
    books.set(config, b);
  }
  return b;
}

export function normalizeDownstream(r: Record<string, unknown>): DownstreamRow {
  const date = (v: unknown) =>
    v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v));
  return {
    ...(r as unknown as DownstreamRow),
    failures: Number(r.failures),
    probes: Number(r.probes),
    opened_at: date(r.opened_at),
    probe_at: date(r.probe_at),
    probe_until: date(r.probe_until),
    updated_at: date(r.updated_at)!,
  };
}

function remember(config: TallyConfig, name: string, row: DownstreamRow | null): void {
  // The injected clock, not Date.now(): under the simulator whether this cache is fresh must follow the
  // schedule's time, or a loaded machine changes what a replayed seed does (decision 0150).
  book(config).set(name, { row, readAt: config.clock().getTime() });
}

/** What a call that is due may do now. */
export type Gate =
  | { kind: 'send'; probe: false }
  | { kind: 'send'; probe: true }
  | { kind: 'pause'; probeAt: Date | null };

/**
 * Inside the call's locked transaction, before its send or query is recorded: a closed breaker lets it
 * through; an open one lets it through only as the probe (one at a time, when due), else it pauses.
 */
export async function gate(
  tx: Executor,
  config: TallyConfig,
  name: string,
  owner: string,
  leaseMs: number,
  now: Date,
): Promise<Gate> {
  const known = book(config).get(name);
  if (
    known &&
    config.clock().getTime() - known.readAt < FRESH_MS &&
    (known.row === null || known.row.state === 'closed')
  ) {
    return { kind: 'send', probe: false };
  }
  const [r] = await tx.query(downstreamSql(config.s, name));
  const row = r ? normalizeDownstream(r) : null;
  remember(config, name, row);
  if (!row || row.state === 'closed') return { kind: 'send', probe: false };
  const [claimed] = await tx.query(
    claimProbeSql(config.s, name, owner, now, new Date(now.getTime() + leaseMs)),
  );
  if (claimed) return { kind: 'send', probe: true };
  return { kind: 'pause', probeAt: row.probe_at };
}

// Connection-level failures that mean the request never reached the downstream. A reset (ECONNRESET,
// EPIPE) is not among them: it may come after the downstream took the request in (a lost reply).
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** True when an error (or one of its causes) says the connection was never made. */
export function neverConnected(err: unknown, depth = 0): boolean {
  if (depth > 5 || err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  if (err instanceof AggregateError && err.errors.some((e) => neverConnected(e, depth + 1))) return true;
  return neverConnected((err as { cause?: unknown }).cause, depth + 1);
}

/** True when a call's answer says the downstream could not be reached at all. */
export function unreachableAnswer(
  reply: Reply | null,
  answer: Outcome | QueryAnswer | { outcome: 'error'; error: unknown },
): boolean {
  if (answer && typeof answer === 'object' && (answer as { unreachable?: unknown }).unreachable === true)
    return true;
  if (answer?.outcome === 'error') return neverConnected((answer as { error: unknown }).error);
  return reply !== null && !reply.ok && answer?.outcome === 'unknown' && neverConnected(reply.error);
}

/**
 * True when recording this answer changes nothing on the breaker (it was reached, no probe, and this
 * process saw the breaker closed with no failures a moment ago): no statement needed.
 */
function quiet(config: TallyConfig, name: string, probeOwner: string | null, unreachable: boolean): boolean {
  if (unreachable || probeOwner !== null) return false;
  const known = book(config).get(name);
  return Boolean(
    known &&
      config.clock().getTime() - known.readAt < FRESH_MS &&
      (known.row === null || (known.row.state === 'closed' && known.row.failures === 0)),
  );
}

/** recordReach would write nothing for this call's answer. */
export function breakerQuiet(
  config: TallyConfig,
  name: string,
  reach: { unreachable: boolean; probe: boolean },
): boolean {
  return quiet(config, name, reach.probe ? 'probe' : null, reach.unreachable);
}

/** What the breaker made of a call's answer, for the command that made the call. */
export type Verdict = 'reachable' | 'counted' | 'open';

/**
 * Records a call's answer on its downstream's breaker, inside the transaction that records the answer.
 * `open` means the breaker is (now) open: the command pauses and spends no attempt.
 */
export async function recordReach(
  tx: Executor,
  config: TallyConfig,
  name: string,
  policy: BreakerPolicy,
  probeOwner: string | null,
  unreachable: boolean,
  error: string,
  now: Date,
): Promise<{ verdict: Verdict; opened: boolean; closed: boolean; row: DownstreamRow | null }> {
  if (!unreachable) {
    if (quiet(config, name, probeOwner, unreachable)) {
      return { verdict: 'reachable', opened: false, closed: false, row: null };
    }
    const [c] = await tx.query<{ n: number; closed: boolean }>(closeBreakerSql(config.s, name, now));
    remember(config, name, null);
    return { verdict: 'reachable', opened: false, closed: Boolean(c?.closed) && Number(c?.n) > 0, row: null };
  }
  if (probeOwner !== null) {
    const [p] = await tx.query(
      probeFailedSql(config.s, {
        name,
        owner: probeOwner,
        at: now,
        probeMs: policy.probeMs,
        maxProbeMs: policy.maxProbeMs,
        error,
      }),
    );
    const row = p ? normalizeDownstream(p) : null;
    if (row) {
      remember(config, name, row);
      return { verdict: 'open', opened: false, closed: false, row };
    }
  }
  const [f] = await tx.query(
    breakerFailedSql(config.s, { name, at: now, after: policy.after, probeMs: policy.probeMs, error }),
  );
  const row = normalizeDownstream(f!);
  remember(config, name, row);
  const opened = Boolean((f as { opened?: unknown }).opened);
  return { verdict: row.state === 'open' && !opened ? 'open' : 'counted', opened, closed: false, row };
}

/**
 * Wakes the commands paused on breakers that are no longer open, in batches (after a breaker closed,
 * and on every worker round as a safety net). Returns how many woke.
 */
export async function wakePaused(config: TallyConfig, name: string | null = null): Promise<number> {
  let total = 0;
  for (;;) {
    const [r] = await config.db.query<{ n: number }>(wakePausedSql(config.s, config.clock(), name, 500));
    const n = Number(r?.n ?? 0);
    total += n;
    if (n < 500) return total;
  }
}

/** Makes one paused command per open breaker whose probe is due ready to be driven (it becomes the probe). */
export async function dueProbes(config: TallyConfig): Promise<number> {
  return (await config.db.query(dueProbesSql(config.s, config.clock()))).length;
}

/** A breaker as the API shows it. */
export interface DownstreamState {
  name: string;
  state: 'closed' | 'open';
  /** Consecutive calls that could not reach it. */
  failures: number;
  openedAt: Date | null;
  /** When the next probe may go out (while open). */
  nextProbeAt: Date | null;
  probes: number;
  /** What the last unreachable call threw (a name and code, never parameters). */
  lastError: string | null;
  /** Commands waiting for this breaker to close. */
  paused: number;
  updatedAt: Date;
}

/** Every downstream that has a breaker record, with how many commands it holds paused. */
export async function listDownstreams(config: TallyConfig): Promise<DownstreamState[]> {
  const rows = await config.db.query(downstreamsSql(config.s));
  return rows.map((r) => {
    const d = normalizeDownstream(r);
    return {
      name: d.name,
      state: d.state,
      failures: d.failures,
      openedAt: d.opened_at,
      nextProbeAt: d.state === 'open' ? d.probe_at : null,
      probes: d.probes,
      lastError: d.last_error,
      paused: Number((r as { paused?: unknown }).paused ?? 0),
      updatedAt: d.updated_at,
    };
  });
}

/** The probe time this process last saw for a downstream (for a paused command's Retry-After). */
export function knownProbeAt(config: TallyConfig, name: string): Date | null {
  return book(config).get(name)?.row?.probe_at ?? null;
}
