import { performance } from 'node:perf_hooks';
import type { MysqlExecutor } from '../db/mysql/join.js';
import type { Executor, Row, SqlQuery, TransactionOptions } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { Classification } from './classify.js';
import { readsDialect } from './dialect/index.js';
import type { ReadsDialect } from './dialect/types.js';
import { HealthMonitor, type ReplicaHealth } from './health.js';
import type { Lsn } from './lsn.js';
import { type ReadRouterOptions, resolveRouterOptions } from './options.js';
import { type Attempt, isConnectionError, retryableOnPrimary } from './run.js';
import { isPrimaryForced } from './scope.js';
import { Counters, type RouteDecision, type RouteReason, type RouterStats } from './stats.js';
import { type CausalToken, makeToken, tokenPosition } from './token.js';
import { ReplayWaiter } from './wait.js';

export interface ExecuteOptions {
  /** What the caller has written (from a write result, a header, a cookie): the read must see it. */
  token?: CausalToken | null;
  /** Also report `version`, a position (WAL, or GTID seq on MySQL) the result is at least as new as (for the cache). */
  version?: boolean;
}

export interface Routed<R extends Row = Row> {
  readonly rows: R[];
  readonly route: RouteDecision;
  /** For statements that ran on the primary as possible writes: the position to read your writes at. */
  readonly token: CausalToken | null;
  /**
   * With `{ version: true }`: the result reflects every write whose token position (on this shard) is
   * at most this. Pass it to the cache as the fill version.
   */
  readonly version: Lsn | null;
}

/** A routing Executor over one primary and its replicas. Pass it wherever Tally takes an Executor. */
export interface ReadRouter extends Executor {
  readonly shard: string;
  /** Whose servers these are, read once from the primary: `postgres`, `mariadb` or `mysql` (8.0). */
  readonly serverKind: ReadsDialect['name'];
  /** Classifies and routes one statement; returns rows, the decision, and a token for writes. */
  execute<R extends Row = Row>(q: SqlQuery, options?: ExecuteOptions): Promise<Routed<R>>;
  /** A transaction on the primary, and the token that reads its commit. */
  transactionWithToken<T>(
    fn: (tx: Executor) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<{ result: T; token: CausalToken }>;
  /** The primary's position now, as a token (for writes made outside the router). */
  position(): Promise<CausalToken>;
  /** Probes every replica now (also runs every `pollIntervalMs` on its own). */
  poll(): Promise<void>;
  health(): ReplicaHealth[];
  stats(): RouterStats;
  resetStats(): void;
}

/**
 * Routes reads to replicas and everything else to the primary: writes, locking reads, data-modifying
 * CTEs, calls of unknown functions, unparseable text and whole transactions. Reads with a causal token
 * only use a replica that has replayed it (waiting up to `tokenWaitMs`), else the primary. Replicas are
 * probed for lag; one past the bound or not answering is skipped. The pools stay yours: close() only
 * stops polling. The primary pool decides the dialect: a `pg` Pool (WAL positions) or a mysql2 Pool
 * (MariaDB or MySQL 8.0: GTID positions, `?` placeholders; decision 0136).
 *
 * @example
 * const reads = await createReadRouter({
 *   primary: new pg.Pool({ connectionString: PRIMARY_URL }),
 *   replicas: [{ name: 'r1', pool: new pg.Pool({ connectionString: REPLICA_URL, query_timeout: 2000 }) }],
 * });
 * const w = await reads.execute({ text: 'UPDATE members SET level = $1 WHERE id = $2', values: [3, id] });
 * const r = await reads.execute({ text: 'SELECT level FROM members WHERE id = $1', values: [id] }, { token: w.token });
 * r.rows[0].level // 3, from a replica that has replayed the update, or from the primary
 */
export async function createReadRouter(options: ReadRouterOptions): Promise<ReadRouter> {
  const o = resolveRouterOptions(options);
  const d = await readsDialect(o.primary, o.waitPollMs);
  const primary = d.primary;
  const monitor = new HealthMonitor({ ...o, dialect: d });
  const counters = new Counters();
  const waiters = new Map(
    o.replicas.map((r) => [
      r.name,
      new ReplayWaiter(
        r.pool,
        d,
        (lsn) => monitor.observeReplay(r.name, lsn),
        (err) => monitor.markDown(r.name, err),
      ),
    ]),
  );
  const classes = new Map<string, Classification>();
  let closed = false;
  let polling: Promise<void> | null = null;
  let turn = 0;

  const poll = () => {
    polling ??= monitor.poll().finally(() => {
      polling = null;
    });
    return polling;
  };
  await poll();
  const timer = setInterval(() => void poll(), o.pollIntervalMs);
  timer.unref();

  const classify = (text: string): Classification => {
    let c = classes.get(text);
    if (!c) {
      if (classes.size >= 5_000) classes.clear();
      c = d.classify(text, o.safeFunctions);
      classes.set(text, c);
    }
    return c;
  };

  const decide = (
    a: Attempt,
    reason: RouteReason,
    cls: Classification,
    waitedMs: number,
    waited: boolean,
  ) => {
    const route: RouteDecision = Object.freeze({ target: a.target, reason, statement: cls.reason, waitedMs });
    counters.record(route, waited);
    try {
      o.onDecision?.(route);
    } catch {
      // A logging hook must never break a read.
    }
    return route;
  };

  const primaryToken = async (): Promise<CausalToken> => makeToken(o.shard, await d.primaryPosition());

  const onPrimary = async <R extends Row>(q: SqlQuery, withVersion: boolean): Promise<Attempt<R>> => {
    const r = await d.readOnPrimary<R>(q, withVersion);
    return { target: 'primary', rows: r.rows, version: r.version };
  };

  // The replica a read may use, the reason, and how long it waited for one.
  async function choose(
    need: Lsn | null,
  ): Promise<{ name: string | null; reason: RouteReason; waitedMs: number }> {
    if (o.replicas.length === 0) return { name: null, reason: 'NO_REPLICAS', waitedMs: 0 };
    const live = monitor.inRotation();
    if (live.length === 0) return { name: null, reason: 'NO_HEALTHY_REPLICA', waitedMs: 0 };
    const start = turn++;
    const pick = <T>(list: T[]) => list[start % list.length]!;
    if (need === null) return { name: pick(live).name, reason: 'REPLICA', waitedMs: 0 };
    const ready = live.filter((r) => d.reached(r.replayLsn, need));
    if (ready.length > 0) return { name: pick(ready).name, reason: 'TOKEN_SATISFIED', waitedMs: 0 };
    if (o.tokenWaitMs === 0) return { name: null, reason: 'TOKEN_TIMEOUT', waitedMs: 0 };
    const t0 = performance.now();
    const name = await firstToReplay(
      live.map((r) => r.name),
      need,
    );
    const waitedMs = performance.now() - t0;
    return name
      ? { name, reason: 'TOKEN_WAITED', waitedMs }
      : { name: null, reason: 'TOKEN_TIMEOUT', waitedMs };
  }

  function firstToReplay(names: string[], need: Lsn): Promise<string | null> {
    return new Promise((resolve) => {
      let pending = names.length;
      for (const n of names) {
        void waiters
          .get(n)!
          .waitFor(need, o.tokenWaitMs)
          .then((ok) => {
            if (ok) resolve(n);
            else if (--pending === 0) resolve(null);
          });
      }
    });
  }

  async function execute<R extends Row = Row>(q: SqlQuery, opts: ExecuteOptions = {}): Promise<Routed<R>> {
    if (closed) throw new TallyError('ROUTER_CLOSED', 'the read router is closed');
    checkStatement(q);
    const cls = classify(q.text);
    const version = opts.version === true;
    if (!cls.replicaSafe) {
      const w = await d.writeOnPrimary<R>(q);
      const a: Attempt<R> = { target: 'primary', rows: w.rows, version: null };
      return {
        rows: a.rows,
        route: decide(a, cls.reason as RouteReason, cls, 0, false),
        token: makeToken(o.shard, w.position),
        version: null,
      };
    }
    if (isPrimaryForced()) {
      const a = await onPrimary<R>(q, version);
      return {
        rows: a.rows,
        route: decide(a, 'FORCED_PRIMARY', cls, 0, false),
        token: null,
        version: a.version,
      };
    }
    const need = tokenPosition(opts.token, o.shard);
    const c = await choose(need);
    const waited = c.reason === 'TOKEN_WAITED' || (c.reason === 'TOKEN_TIMEOUT' && o.tokenWaitMs > 0);
    if (c.name !== null) {
      try {
        const r = await d.readOnReplica<R>(monitor.pool(c.name)!, q, version);
        const a: Attempt<R> = { target: c.name, rows: r.rows, version: r.version };
        return {
          rows: a.rows,
          route: decide(a, c.reason, cls, c.waitedMs, waited),
          token: null,
          version: a.version,
        };
      } catch (err) {
        counters.replicaError();
        if (isConnectionError(err)) monitor.markDown(c.name, err);
        if (!retryableOnPrimary(err)) throw err;
        const a = await onPrimary<R>(q, version);
        return {
          rows: a.rows,
          route: decide(a, 'REPLICA_FAILED', cls, c.waitedMs, waited),
          token: null,
          version: a.version,
        };
      }
    }
    const a = await onPrimary<R>(q, version);
    return {
      rows: a.rows,
      route: decide(a, c.reason, cls, c.waitedMs, waited),
      token: null,
      version: a.version,
    };
  }

  const txDecision = () =>
    decide({ target: 'primary', rows: [], version: null }, 'TRANSACTION', TX_CLASS, 0, false);

  const router: ReadRouter = {
    dialect: primary.dialect,
    inTransaction: false,
    shard: o.shard,
    serverKind: d.name,
    // MySQL executors also answer what their server can do (Tally's MySQL modules ask it).
    ...('server' in primary ? { server: (primary as MysqlExecutor).server } : {}),
    execute,
    async query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      return (await execute<R>(q)).rows;
    },
    async exec(text: string): Promise<void> {
      if (closed) throw new TallyError('ROUTER_CLOSED', 'the read router is closed');
      decide({ target: 'primary', rows: [], version: null }, 'UNCLASSIFIED', UNCLASSIFIED, 0, false);
      await primary.exec(text);
    },
    async transaction<T>(fn: (tx: Executor) => Promise<T>, txOptions?: TransactionOptions): Promise<T> {
      if (closed) throw new TallyError('ROUTER_CLOSED', 'the read router is closed');
      txDecision();
      return primary.transaction(fn, txOptions);
    },
    async transactionWithToken(fn, txOptions) {
      const result = await router.transaction(fn, txOptions);
      return { result, token: await primaryToken() };
    },
    position: primaryToken,
    poll,
    health: () => monitor.snapshot(),
    stats: () => counters.snapshot(),
    resetStats: () => counters.reset(),
    async close() {
      closed = true;
      clearInterval(timer);
      for (const w of waiters.values()) w.settleAll(false);
      await polling;
    },
  };
  return Object.freeze(router);
}

const TX_CLASS: Classification = Object.freeze({ replicaSafe: false, reason: 'UNCLASSIFIED' });
const UNCLASSIFIED = TX_CLASS;

function checkStatement(q: SqlQuery): void {
  if (!q || typeof q !== 'object' || typeof q.text !== 'string' || q.text.trim() === '') {
    throw new TallyError('INVALID_STATEMENT', 'a statement is { text, values? } with non-empty text');
  }
  if (q.values !== undefined && !Array.isArray(q.values)) {
    throw new TallyError('INVALID_STATEMENT', 'statement values must be an array');
  }
}
