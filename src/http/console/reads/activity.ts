import type { Executor } from '../../../db/types.js';
import { ROUNDS_KEPT_MS } from '../../../worker/rounds.js';
import { reconcileRunsSql, roundsByWorkerSql, roundsOverTimeSql } from './activity-sql.js';
import { iso } from './json.js';

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const ROUND_FIELDS = [
  'rounds',
  'claimed',
  'succeeded',
  'failed',
  'needsAttention',
  'waiting',
  'errors',
] as const;

/**
 * The Overview's worker rounds: what the workers claimed and drove per bucket (rounds that found nothing
 * due are not recorded), and each worker's last busy round. worker_rounds keeps a day.
 */
export async function workerRounds(
  db: Executor,
  s: string,
  bucket: 'minute' | 'hour' | 'day',
  from: Date,
  starts: readonly number[],
) {
  const zero = () => Object.fromEntries(ROUND_FIELDS.map((f) => [f, 0])) as Record<string, number>;
  const series = new Map(starts.map((t) => [t, { at: new Date(t).toISOString(), ...zero(), busyMs: 0 }]));
  for (const r of await db.query(roundsOverTimeSql(s, bucket, from))) {
    const b = series.get(new Date(iso(r.at)!).getTime());
    if (!b) continue;
    Object.assign(b, {
      rounds: Number(r.rounds),
      claimed: Number(r.claimed),
      succeeded: Number(r.succeeded),
      failed: Number(r.failed),
      needsAttention: Number(r.needs_attention),
      waiting: Number(r.waiting),
      errors: Number(r.errors),
      busyMs: Number(r.busy_ms),
    });
  }
  const workers = (await db.query(roundsByWorkerSql(s, from))).map((w) => ({
    worker: String(w.worker),
    lastAt: iso(w.last_at),
    rounds: Number(w.rounds),
    claimed: Number(w.claimed),
    errors: Number(w.errors),
  }));
  return {
    bucket,
    from: from.toISOString(),
    keptHours: ROUNDS_KEPT_MS / 3_600_000,
    series: [...series.values()],
    workers,
  };
}

/** How many of an entity type's last checks the Overview charts. */
export const RECENT_CHECKS = 20;

/**
 * The Overview's reconcile results, per entity type that has one: the last check (rows checked, log
 * entries, findings), the last repair (entries written), and the findings of its recent checks, oldest
 * first, for a small chart.
 */
export async function reconcileResults(db: Executor, s: string) {
  const byType = new Map<
    string,
    {
      entityType: string;
      last: Record<string, unknown> | null;
      lastRepair: { at: string | null; repaired: number | null; durationMs: number } | null;
      recent: { at: string | null; checked: number | null; findings: number | null }[];
    }
  >();
  for (const r of await db.query(reconcileRunsSql(s, RECENT_CHECKS))) {
    const type = String(r.entity_type);
    const e = byType.get(type) ?? { entityType: type, last: null, lastRepair: null, recent: [] };
    byType.set(type, e);
    if (r.kind === 'repair') {
      e.lastRepair = { at: iso(r.at), repaired: num(r.repaired), durationMs: Number(r.duration_ms) };
      continue;
    }
    e.last ??= {
      at: iso(r.at),
      checked: num(r.checked),
      logEntries: num(r.log_entries),
      findings: num(r.findings),
      durationMs: Number(r.duration_ms),
    };
    e.recent.unshift({ at: iso(r.at), checked: num(r.checked), findings: num(r.findings) });
  }
  return [...byType.values()];
}
