import type { QueryableLike } from '../db/types.js';
import { TallyError } from '../errors.js';
import { DEFAULT_SAFE_FUNCTIONS } from './classify.js';
import type { PrimaryPool } from './dialect/index.js';
import type { ReplicaPool } from './dialect/types.js';
import type { RouteDecision } from './stats.js';
import { checkShardName } from './token.js';

export interface ReplicaOptions {
  /** A short name for metrics and decisions: `r1`, `eu-west-2b`. */
  name: string;
  /**
   * A pool on the replica of the primary's kind: a `pg` Pool (give it a `query_timeout`: a hung replica
   * hangs its reads) or a mysql2 promise Pool. Only `query` is used.
   */
  pool: ReplicaPool;
}

export interface ReadRouterOptions {
  /** The shard this primary serves; the key for its position inside causal tokens. Default `main`. */
  shard?: string;
  /** A `pg` Pool or a mysql2 promise Pool on the primary: it decides the dialect (decision 0136). */
  primary: PrimaryPool;
  replicas?: readonly ReplicaOptions[];
  /** A replica further behind than this leaves rotation (and rejoins under half of it). Default 5,000 ms. */
  maxLagMs?: number;
  /** The same bound in WAL bytes (PostgreSQL) or transactions (MySQL/MariaDB). Default 64 Mi. */
  maxLagBytes?: number;
  /** How often replicas are probed. Default 250 ms. */
  pollIntervalMs?: number;
  /** A probe not answered within this marks the replica down. Default 1,000 ms. */
  pollTimeoutMs?: number;
  /** How long a read with a token waits for a replica to replay it before using the primary. Default 100 ms; 0 = never wait. */
  tokenWaitMs?: number;
  /** How often a waiting read re-checks the replica's position. Default 10 ms. */
  waitPollMs?: number;
  /** Your own read-only functions that may run on a replica (added to the built-in list). */
  safeFunctions?: readonly string[];
  /** Called with every routing decision (logging, tracing). Must not throw. */
  onDecision?: (decision: RouteDecision) => void;
  /** Injected time source in ms for lag measurement. Default `Date.now`. */
  clock?: () => number;
}

export interface ResolvedRouterOptions {
  readonly shard: string;
  readonly primary: PrimaryPool;
  readonly replicas: readonly ReplicaOptions[];
  readonly maxLagMs: number;
  readonly maxLagBytes: number;
  readonly pollIntervalMs: number;
  readonly pollTimeoutMs: number;
  readonly tokenWaitMs: number;
  readonly waitPollMs: number;
  readonly safeFunctions: ReadonlySet<string>;
  readonly onDecision: ((decision: RouteDecision) => void) | null;
  readonly clock: () => number;
}

const fail = (message: string): never => {
  throw new TallyError('INVALID_ROUTER_OPTIONS', message);
};

function int(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max}`);
  }
  return value as number;
}

const isQueryable = (x: unknown): boolean =>
  typeof x === 'object' && x !== null && typeof (x as QueryableLike).query === 'function';

/** Validates router options once, with exact messages, and freezes the result. */
export function resolveRouterOptions(o: ReadRouterOptions): ResolvedRouterOptions {
  if (!o || typeof o !== 'object') fail('createReadRouter needs options');
  const pool = o.primary as { connect?: unknown; getConnection?: unknown } | undefined;
  if (
    !isQueryable(o.primary) ||
    (typeof pool?.connect !== 'function' && typeof pool?.getConnection !== 'function')
  ) {
    fail('options.primary must be a pg Pool (query and connect) or a mysql2 Pool (query and getConnection)');
  }
  const replicas = o.replicas ?? [];
  if (!Array.isArray(replicas)) fail('options.replicas must be an array of { name, pool }');
  const names = new Set<string>();
  for (const [i, r] of replicas.entries()) {
    checkShardName(r?.name, `options.replicas[${i}].name`);
    if (r.name === 'primary') fail(`options.replicas[${i}].name must not be "primary"`);
    if (names.has(r.name)) fail(`options.replicas[${i}].name "${r.name}" is used twice`);
    names.add(r.name);
    if (!isQueryable(r.pool)) fail(`options.replicas[${i}].pool must be a pg or mysql2 Pool`);
  }
  const safe = new Set(DEFAULT_SAFE_FUNCTIONS);
  for (const f of o.safeFunctions ?? []) {
    if (typeof f !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(f)) {
      fail('options.safeFunctions must hold lowercase unqualified function names');
    }
    safe.add(f);
  }
  if (o.onDecision !== undefined && typeof o.onDecision !== 'function')
    fail('options.onDecision must be a function');
  if (o.clock !== undefined && typeof o.clock !== 'function')
    fail('options.clock must return epoch milliseconds');
  return Object.freeze({
    shard: checkShardName(o.shard ?? 'main', 'options.shard'),
    primary: o.primary,
    replicas: Object.freeze([...replicas]),
    maxLagMs: int(o.maxLagMs, 'options.maxLagMs', 5_000, 1, 86_400_000),
    maxLagBytes: int(o.maxLagBytes, 'options.maxLagBytes', 64 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    pollIntervalMs: int(o.pollIntervalMs, 'options.pollIntervalMs', 250, 5, 600_000),
    pollTimeoutMs: int(o.pollTimeoutMs, 'options.pollTimeoutMs', 1_000, 10, 600_000),
    tokenWaitMs: int(o.tokenWaitMs, 'options.tokenWaitMs', 100, 0, 60_000),
    waitPollMs: int(o.waitPollMs, 'options.waitPollMs', 10, 1, 10_000),
    safeFunctions: safe,
    onDecision: o.onDecision ?? null,
    clock: o.clock ?? Date.now,
  });
}
