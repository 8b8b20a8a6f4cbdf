import type { Executor } from '../../../db/types.js';
import { ConsoleError } from '../problem.js';
import type { Query } from '../query.js';
import { reconcileResults, workerRounds } from './activity.js';
import { STATUSES } from './commands-sql.js';
import { feedView } from './feed.js';
import { iso } from './json.js';
import { jobJson } from './others.js';
import {
  activeJobsSql,
  countsByStatusSql,
  downstreamsSql,
  openAlertsCountSql,
  overTimeSql,
} from './reads-sql.js';

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
type Bucket = keyof typeof BUCKET_MS;

/**
 * GET /api/overview: what an operator looks at first. Worker rounds and reconcile results are read from
 * the small tables the workers and the reconciler keep (migration 16, decision 0146).
 *
 * @example
 * const o = await overview(db, '"tally"', new Query(url.searchParams), new Date());
 */
export async function overview(db: Executor, s: string, q: Query, now: Date) {
  const bucket = (q.oneOf('bucket', ['minute', 'hour', 'day'] as const)?.[0] ?? 'hour') as Bucket;
  if ((q.params.getAll('bucket').length ?? 0) > 1) {
    throw new ConsoleError('INVALID_QUERY', 'bucket must be one of minute, hour, day', { param: 'bucket' });
  }
  const n = q.int('buckets', 1, 168) ?? 24;
  const step = BUCKET_MS[bucket];
  const from = new Date(Math.floor(now.getTime() / step) * step - (n - 1) * step);

  const counts = await db.query<{ status: string; n: unknown }>(countsByStatusSql(s));
  const byStatus = Object.fromEntries(STATUSES.map((st) => [st, 0])) as Record<string, number>;
  for (const c of counts) byStatus[c.status] = Number(c.n);

  const series = new Map<number, Record<string, number | string>>();
  for (let i = 0; i < n; i++) {
    const t = from.getTime() + i * step;
    series.set(t, { at: new Date(t).toISOString(), ...Object.fromEntries(STATUSES.map((st) => [st, 0])) });
  }
  for (const r of await db.query<{ at: unknown; status: string; n: unknown }>(overTimeSql(s, bucket, from))) {
    const t = new Date(iso(r.at)!).getTime();
    const b = series.get(t);
    if (b) b[r.status] = Number(r.n);
  }
  const [alerts] = await db.query<{ n: unknown }>(openAlertsCountSql(s));
  const jobs = await db.query(activeJobsSql(s));
  const downstreams = await db.query(downstreamsSql(s));
  const feed = await feedView(db, s, now);
  const rounds = await workerRounds(db, s, bucket, from, [...series.keys()]);
  const reconcile = await reconcileResults(db, s);
  return {
    at: now.toISOString(),
    commands: {
      byStatus,
      needsAttention: byStatus.needs_attention ?? 0,
      overTime: { bucket, from: from.toISOString(), series: [...series.values()] },
    },
    alerts: { open: Number(alerts?.n ?? 0) },
    jobs: { running: jobs.map(jobJson) },
    feed: feed.map((c) => ({
      name: c.name,
      source: c.source,
      lagEntries: c.lagEntries,
      lagSeconds: c.lagSeconds,
      leaseOwner: c.leaseOwner,
      updatedAt: c.updatedAt,
    })),
    downstreams: downstreams.map((d) => ({
      name: String(d.name),
      state: String(d.state),
      failures: Number(d.failures),
      openedAt: iso(d.opened_at),
      probeAt: iso(d.probe_at),
      lastError: (d.last_error as string | null) ?? null,
    })),
    workerRounds: rounds,
    reconcile,
  };
}
