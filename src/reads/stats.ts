import type { StatementClass } from './classify.js';

/**
 * Why a statement went where it went. Statements that are not replica-safe carry their statement class
 * (WRITE, LOCKING_READ, WRITE_CTE, ...); replica-safe reads carry how a target was chosen.
 */
export type RouteReason =
  | Exclude<StatementClass, 'READ'>
  /** A read without a token, on a healthy replica. */
  | 'REPLICA'
  /** A read with a token, on a replica that had already replayed it. */
  | 'TOKEN_SATISFIED'
  /** A read with a token, on a replica that replayed it while the read waited. */
  | 'TOKEN_WAITED'
  /** A read with a token that no replica replayed within `tokenWaitMs`: the primary. */
  | 'TOKEN_TIMEOUT'
  /** No replicas configured. */
  | 'NO_REPLICAS'
  /** Every replica is lagging past the bound or not answering. */
  | 'NO_HEALTHY_REPLICA'
  /** Inside `forcePrimary(...)`. */
  | 'FORCED_PRIMARY'
  /** Inside a transaction (all of it runs on the primary). */
  | 'TRANSACTION'
  /** The chosen replica failed the read; it was re-run on the primary. */
  | 'REPLICA_FAILED';

export interface RouteDecision {
  /** `'primary'` or the replica's name. */
  readonly target: string;
  readonly reason: RouteReason;
  readonly statement: StatementClass;
  /** How long the read waited for a replica to replay its token. */
  readonly waitedMs: number;
}

export interface RouterStats {
  /** Statements per target: `primary` and each replica name. */
  readonly targets: Record<string, number>;
  /** Decisions per reason code. */
  readonly reasons: Partial<Record<RouteReason, number>>;
  /** Replica-safe reads that ended on the primary anyway (no replica, timeout, failure, forced). */
  readonly fallbacks: number;
  /** Token reads that had to wait, how many got a replica in time, and the total wait. */
  readonly waits: {
    readonly count: number;
    readonly satisfied: number;
    readonly timedOut: number;
    readonly totalMs: number;
  };
  /** Reads a replica failed (each was re-run on the primary). */
  readonly replicaErrors: number;
}

const FALLBACK_REASONS = new Set<RouteReason>([
  'TOKEN_TIMEOUT',
  'NO_REPLICAS',
  'NO_HEALTHY_REPLICA',
  'FORCED_PRIMARY',
  'REPLICA_FAILED',
]);

/** Mutable counters behind `router.stats()`. */
export class Counters {
  private targets: Record<string, number> = {};
  private reasons: Partial<Record<RouteReason, number>> = {};
  private fallbacks = 0;
  private waits = { count: 0, satisfied: 0, timedOut: 0, totalMs: 0 };
  private replicaErrors = 0;

  record(d: RouteDecision, waited: boolean): void {
    this.targets[d.target] = (this.targets[d.target] ?? 0) + 1;
    this.reasons[d.reason] = (this.reasons[d.reason] ?? 0) + 1;
    if (d.statement === 'READ' && FALLBACK_REASONS.has(d.reason)) this.fallbacks++;
    if (waited) {
      this.waits.count++;
      this.waits.totalMs += d.waitedMs;
      if (d.reason === 'TOKEN_WAITED') this.waits.satisfied++;
      else this.waits.timedOut++;
    }
  }

  replicaError(): void {
    this.replicaErrors++;
  }

  snapshot(): RouterStats {
    return {
      targets: { ...this.targets },
      reasons: { ...this.reasons },
      fallbacks: this.fallbacks,
      waits: { ...this.waits },
      replicaErrors: this.replicaErrors,
    };
  }

  reset(): void {
    this.targets = {};
    this.reasons = {};
    this.fallbacks = 0;
    this.waits = { count: 0, satisfied: 0, timedOut: 0, totalMs: 0 };
    this.replicaErrors = 0;
  }
}
