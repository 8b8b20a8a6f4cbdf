import type * as Prom from 'prom-client';
import type { Executor } from '../db/types.js';
import {
  COUNTERS,
  type CounterName,
  GAUGES,
  type GaugeName,
  HISTOGRAMS,
  type HistogramName,
} from './observer.js';
import { needsAttentionSql, openAlertsSql } from './sql.js';

type PromModule = typeof Prom;
type Labels = Record<string, string>;

const HELP: Record<string, string> = {
  tally_commands_total:
    'Commands driven to an end state (succeeded, failed, needs_attention), by type and outcome',
  tally_command_submits_total: 'submit() calls by type and what they answered (a status, replayed, or error)',
  tally_command_calls_total: 'Outbound sends and queries by command type, step and answer',
  tally_command_submit_seconds: 'Latency of submit(), recording and driving as far as it goes',
  tally_command_step_seconds:
    'Latency of one step: a local step run, or an outbound call and its recorded answer',
  tally_worker_rounds_total: 'Worker rounds run',
  tally_worker_claims_total: 'Commands claimed by worker rounds',
  tally_worker_errors_total: 'Commands a worker round could not drive (retried after the lease)',
  tally_worker_round_seconds: 'Latency of one worker round',
  tally_feed_batches_total: 'Feed batches handled, by consumer',
  tally_feed_entries_total: 'Feed entries handled, by consumer',
  tally_feed_batch_seconds: 'Latency of one feed batch, read to checkpoint',
  tally_feed_lag_seconds: 'Age of the last handled entry when its batch was checkpointed, by consumer',
  tally_relay_publishes_total: 'NATS relay publish batches, by relay',
  tally_relay_entries_total: 'Entries published by NATS relays, by relay',
  tally_reconcile_runs_total: 'Reconcile runs, by entity type',
  tally_reconcile_drift_found_total: 'Entities whose state the log does not explain, found by reconcile runs',
  tally_reconcile_drift_repaired_total: 'Entities repaired (applied, not dry run)',
};

/** Prometheus metrics over a prom-client registry; label values arrive positionally (observer.ts). */
export class Metrics {
  readonly registry: Prom.Registry;
  readonly #counters = new Map<string, { m: Prom.Counter; names: readonly string[] }>();
  readonly #histograms = new Map<string, { m: Prom.Histogram; names: readonly string[] }>();
  readonly #gauges = new Map<string, { m: Prom.Gauge; names: readonly string[] }>();

  constructor(
    prom: PromModule,
    registry: Prom.Registry | null,
    db: Executor,
    s: string,
    cache: CacheStatsSource | null,
  ) {
    this.registry = registry ?? new prom.Registry();
    const registers = [this.registry];
    for (const [name, labelNames] of Object.entries(COUNTERS)) {
      const m = new prom.Counter({ name, help: HELP[name]!, labelNames, registers });
      this.#counters.set(name, { m, names: labelNames });
    }
    for (const [name, labelNames] of Object.entries(HISTOGRAMS)) {
      const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
      const m = new prom.Histogram({ name, help: HELP[name]!, labelNames, buckets, registers });
      this.#histograms.set(name, { m, names: labelNames });
    }
    for (const [name, labelNames] of Object.entries(GAUGES)) {
      const m = new prom.Gauge({ name, help: HELP[name]!, labelNames, registers });
      this.#gauges.set(name, { m, names: labelNames });
    }
    // Read from the database when scraped, not kept in step: another process may have changed them.
    const fromDb = (name: string, help: string, sql: typeof needsAttentionSql) =>
      new prom.Gauge({
        name,
        help,
        labelNames: ['type'],
        registers,
        async collect() {
          this.reset();
          const rows = await db.query<{ type: string; n: number }>(sql(s));
          for (const r of rows) this.set({ type: r.type }, Number(r.n));
        },
      });
    fromDb('tally_commands_needs_attention', 'Commands waiting for a person, by type', needsAttentionSql);
    fromDb('tally_alerts_open', 'Open (unresolved) command alerts, by type', openAlertsSql);
    // The read router and the cache keep their own counts (stats()); copied at scrape, so reads pay nothing.
    const router = routerOf(db);
    if (router) {
      new prom.Counter({
        name: 'tally_read_routes_total',
        help: 'Replica-safe reads by routing decision: replica, waited (for a replica to replay a token), primary',
        labelNames: ['decision'],
        registers,
        collect() {
          this.reset();
          for (const [decision, n] of Object.entries(routeDecisions(router.stats().reasons))) {
            this.inc({ decision }, n);
          }
        },
      });
    }
    if (cache) {
      new prom.Counter({
        name: 'tally_read_cache_fills_refused_total',
        help: 'Cache fills refused: the value read was older than a write the cache had seen (the stale-set guard)',
        registers,
        collect() {
          this.reset();
          this.inc(cache.stats().refusedFills);
        },
      });
    }
  }

  count(name: CounterName, n: number, a?: string, b?: string, c?: string): void {
    const x = this.#counters.get(name)!;
    x.m.inc(labels(x.names, a, b, c), n);
  }

  seconds(name: HistogramName, s: number, a?: string, b?: string, c?: string): void {
    const x = this.#histograms.get(name)!;
    x.m.observe(labels(x.names, a, b, c), s);
  }

  gauge(name: GaugeName, value: number, a?: string): void {
    const x = this.#gauges.get(name)!;
    x.m.set(labels(x.names, a), value);
  }
}

/** What a read router's stats() gives (src/reads/stats.ts), read structurally: observe/ sits below reads/. */
interface RouterStatsSource {
  stats(): { reasons: Partial<Record<string, number>> };
}

/** A read-through cache (`tally/cache`): its stats() count refused fills. */
export interface CacheStatsSource {
  stats(): { refusedFills: number };
}

function routerOf(db: Executor): RouterStatsSource | null {
  const r = db as Partial<RouterStatsSource>;
  return typeof r.stats === 'function' ? (r as RouterStatsSource) : null;
}

const ON_REPLICA = new Set(['REPLICA', 'TOKEN_SATISFIED']);
const READ_FALLBACKS = new Set([
  'TOKEN_TIMEOUT',
  'NO_REPLICAS',
  'NO_HEALTHY_REPLICA',
  'FORCED_PRIMARY',
  'REPLICA_FAILED',
]);

/** Route reasons folded into the three decisions the issue names (writes and transactions left out). */
export function routeDecisions(
  reasons: Partial<Record<string, number>>,
): Record<'replica' | 'waited' | 'primary', number> {
  const out = { replica: 0, waited: 0, primary: 0 };
  for (const [reason, n] of Object.entries(reasons)) {
    if (ON_REPLICA.has(reason)) out.replica += n ?? 0;
    else if (reason === 'TOKEN_WAITED') out.waited += n ?? 0;
    else if (READ_FALLBACKS.has(reason)) out.primary += n ?? 0;
  }
  return out;
}

// Called for every counter and histogram update of every command: no array of the values per call.
function labels(names: readonly string[], a?: string, b?: string, c?: string): Labels {
  const out: Labels = {};
  const n = names.length;
  if (n > 0) out[names[0]!] = a ?? '';
  if (n > 1) out[names[1]!] = b ?? '';
  if (n > 2) out[names[2]!] = c ?? '';
  return out;
}
