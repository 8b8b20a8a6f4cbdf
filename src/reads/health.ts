import type { ReadsDialect, ReplicaPool } from './dialect/types.js';
import type { Lsn } from './lsn.js';

export type ReplicaStatus = 'unknown' | 'healthy' | 'lagging' | 'down' | 'not_standby';

/** What the router knows about one replica (a copy: reading it never changes routing). */
export interface ReplicaHealth {
  readonly name: string;
  readonly status: ReplicaStatus;
  readonly inRotation: boolean;
  /** How far it has replayed, as of the last probe or wait. */
  readonly replayLsn: Lsn | null;
  /** The primary's position minus the replay position at the last poll (WAL bytes; transactions on MySQL). */
  readonly lagBytes: number | null;
  /** How long ago the primary was at the oldest position this replica has not replayed yet. */
  readonly lagMs: number | null;
  readonly lastPolledAt: number | null;
  /** The last probe error, if the replica is down (message only: no parameters). */
  readonly lastError: string | null;
}

export interface HealthOptions {
  /** Where positions come from and how they compare (the router's reads dialect). */
  dialect: Pick<ReadsDialect, 'primaryPosition' | 'probe' | 'reached' | 'distance'>;
  replicas: readonly { name: string; pool: ReplicaPool }[];
  maxLagMs: number;
  maxLagBytes: number;
  pollTimeoutMs: number;
  clock: () => number;
}

interface Mutable {
  name: string;
  pool: ReplicaPool;
  status: ReplicaStatus;
  replayLsn: Lsn | null;
  lagBytes: number | null;
  lagMs: number | null;
  lastPolledAt: number | null;
  lastError: string | null;
}

/**
 * Polls replicas for their replay position and decides which are in rotation. Time lag is measured
 * against samples of the primary's position, not against `pg_last_xact_replay_timestamp()`: that one
 * grows while the primary is idle and would throw a perfectly current replica out.
 */
export class HealthMonitor {
  private readonly replicas: Mutable[];
  /** (primary position, when seen), oldest first; trimmed once every live replica has passed them. */
  private samples: { lsn: Lsn; at: number }[] = [];

  constructor(private readonly o: HealthOptions) {
    this.replicas = o.replicas.map((r) => ({
      name: r.name,
      pool: r.pool,
      status: 'unknown',
      replayLsn: null,
      lagBytes: null,
      lagMs: null,
      lastPolledAt: null,
      lastError: null,
    }));
  }

  /** One round: the primary's position, then every replica in parallel. Never throws. */
  async poll(): Promise<void> {
    let primaryLsn: Lsn | null = null;
    try {
      primaryLsn = await withTimeout(this.o.dialect.primaryPosition(), this.o.pollTimeoutMs);
    } catch {
      // Without the primary's position lag cannot be measured: keep the previous verdicts.
    }
    const now = this.o.clock();
    if (primaryLsn !== null) this.samples.push({ lsn: primaryLsn, at: now });
    await Promise.all(this.replicas.map((r) => this.probe(r, primaryLsn)));
    this.trim();
  }

  private async probe(r: Mutable, primaryLsn: Lsn | null): Promise<void> {
    try {
      const row = await withTimeout(this.o.dialect.probe(r.pool), this.o.pollTimeoutMs);
      r.lastPolledAt = this.o.clock();
      r.lastError = null;
      if (!row.standby) {
        // A promoted or misconfigured node is not replaying our primary: its data says nothing about tokens.
        r.status = 'not_standby';
        return;
      }
      const replay = row.replay;
      if (replay !== null && (r.replayLsn === null || replay > r.replayLsn)) r.replayLsn = replay;
      if (primaryLsn === null) return;
      r.lagBytes = r.replayLsn === null ? null : this.o.dialect.distance(primaryLsn, r.replayLsn);
      r.lagMs = this.lagMs(r.replayLsn);
      r.status = this.verdict(r);
    } catch (err) {
      this.markDown(r.name, err);
    }
  }

  private lagMs(replay: Lsn | null): number | null {
    if (replay === null) return null;
    const oldest = this.samples.find((s) => !this.o.dialect.reached(replay, s.lsn));
    return oldest ? Math.max(0, this.o.clock() - oldest.at) : 0;
  }

  // Hysteresis: a replica leaves past the bound and comes back only under half of it, so one hovering
  // at the bound does not flap in and out of rotation.
  private verdict(r: Mutable): ReplicaStatus {
    if (r.lagBytes === null || r.lagMs === null) return 'lagging';
    const wasIn = r.status === 'healthy';
    const f = wasIn ? 1 : 0.5;
    return r.lagBytes <= this.o.maxLagBytes * f && r.lagMs <= this.o.maxLagMs * f ? 'healthy' : 'lagging';
  }

  private trim(): void {
    const live = this.replicas.filter((r) => r.status === 'healthy' || r.status === 'lagging');
    const floor = live.reduce<Lsn | null>(
      (m, r) => (r.replayLsn === null ? m : m === null || r.replayLsn < m ? r.replayLsn : m),
      null,
    );
    // Keep the newest sample whatever happens; drop the ones every live replica has passed.
    while (this.samples.length > 1 && floor !== null && this.samples[0]!.lsn <= floor) this.samples.shift();
    if (this.samples.length > 10_000) this.samples.splice(0, this.samples.length - 10_000);
  }

  /** Takes a replica out of rotation at once (a read just failed on it); the next good poll brings it back. */
  markDown(name: string, err: unknown): void {
    const r = this.replicas.find((x) => x.name === name);
    if (!r) return;
    r.status = 'down';
    r.lastError = err instanceof Error ? err.message : String(err);
  }

  /** Records a replay position seen outside a poll (while a read waited for its token). */
  observeReplay(name: string, lsn: Lsn): void {
    const r = this.replicas.find((x) => x.name === name);
    if (r && (r.replayLsn === null || lsn > r.replayLsn)) r.replayLsn = lsn;
  }

  /** Replicas a read may use now, in configuration order. */
  inRotation(): { name: string; pool: ReplicaPool; replayLsn: Lsn | null }[] {
    return this.replicas.filter((r) => r.status === 'healthy');
  }

  pool(name: string): ReplicaPool | undefined {
    return this.replicas.find((r) => r.name === name)?.pool;
  }

  snapshot(): ReplicaHealth[] {
    return this.replicas.map(({ pool: _pool, ...r }) => ({ ...r, inRotation: r.status === 'healthy' }));
  }
}

/** Rejects when `p` has not settled within `ms` (a replica that hangs must not hang the poll). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  p.catch(() => {}); // a late failure after the timeout must not become an unhandled rejection
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
