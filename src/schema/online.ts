import { sqlStateOf } from '../db/errors.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { dropIndexConcurrently, indexState, recordVersion, setLockTimeout } from './sql.js';
import { createIndexSql, type MigrationStep } from './steps.js';

/** How online steps wait for their locks (docs/migrations.md). */
export interface OnlineOptions {
  /** How long one DDL statement may wait for its lock before the step is rolled back and retried. */
  lockTimeoutMs?: number;
  /** The first pause between tries; it doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How long a step keeps retrying before migrate gives up (the lock holder is named in the error). */
  retryForMs?: number;
  /** Called on each retry (the CLI prints them). */
  onRetry?: (info: { version: number; step: number; attempt: number; waitMs: number }) => void;
}

type Timings = Required<Omit<OnlineOptions, 'onRetry'>>;

export const ONLINE_DEFAULTS: Timings = {
  lockTimeoutMs: 500,
  backoffMs: 200,
  maxBackoffMs: 5_000,
  retryForMs: 10 * 60_000,
};

const LOCK_NOT_AVAILABLE = '55P03';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Applies one migration's steps on `session`: ONE connection, outside any transaction (see withSession),
 * that holds the session-level migration lock. Each step commits on its own; `version` is recorded by the
 * last transaction step (or a transaction of its own after an index or batches).
 */
export async function applySteps(
  session: Executor,
  schemaName: string,
  s: string,
  version: number,
  name: string,
  steps: readonly MigrationStep[],
  options: OnlineOptions = {},
): Promise<void> {
  const o = { ...ONLINE_DEFAULTS, ...options };
  const last = steps.length - 1;
  const recordsInStep = steps[last]?.kind === 'transaction';
  for (const [i, step] of steps.entries()) {
    const record = i === last && recordsInStep;
    const run = async () => {
      if (step.kind === 'index') return buildIndex(session, schemaName, s, step);
      if (step.kind === 'batches') return runBatches(session, step.sql(s), o.lockTimeoutMs);
      await inTransaction(session, o.lockTimeoutMs, async () => {
        await session.exec(step.sql(s));
        if (record) await session.query(recordVersion(s, version, name));
      });
    };
    await withLockRetries(run, o, (attempt, waitMs) =>
      o.onRetry?.({ version, step: i + 1, attempt, waitMs }),
    );
  }
  if (!recordsInStep) {
    await inTransaction(session, o.lockTimeoutMs, async () => {
      await session.query(recordVersion(s, version, name));
    });
  }
}

/**
 * Runs `fn` with one connection of `db` to itself, outside any transaction (so a CONCURRENTLY build and
 * session-level locks can run on it): the connection of a transaction whose BEGIN is committed at once,
 * and reopened empty for the executor to close. One connection, so a pool of one is enough.
 */
export async function withSession<T>(db: Executor, fn: (session: Executor) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.exec('COMMIT');
    try {
      return await fn(tx);
    } finally {
      // An error inside a step's transaction left it open (or aborted): end it; outside one, a warning.
      await tx.exec('ROLLBACK');
      await tx.exec('BEGIN');
    }
  });
}

/** One transaction on the session under lock_timeout; rolled back when `fn` fails. */
async function inTransaction(
  session: Executor,
  lockTimeoutMs: number,
  fn: () => Promise<void>,
): Promise<void> {
  await session.exec('BEGIN');
  try {
    await session.exec(setLockTimeout(lockTimeoutMs));
    await fn();
    await session.exec('COMMIT');
  } catch (err) {
    await session.exec('ROLLBACK');
    throw err;
  }
}

async function buildIndex(
  db: Executor,
  schemaName: string,
  s: string,
  step: Extract<MigrationStep, { kind: 'index' }>,
): Promise<void> {
  const [found] = await db.query<{ valid: boolean }>(indexState(schemaName, step.name));
  if (found?.valid) return;
  // An invalid index is what an interrupted concurrent build leaves; IF NOT EXISTS would keep it.
  if (found) await db.exec(dropIndexConcurrently(s, step.name));
  await db.exec(createIndexSql(step, s, true));
}

async function runBatches(session: Executor, sql: string, lockTimeoutMs: number): Promise<void> {
  for (let n = -1; n !== 0; ) {
    await inTransaction(session, lockTimeoutMs, async () => {
      const [row] = await session.query<{ n: number | string }>({ text: sql });
      n = Number(row?.n ?? 0);
    });
  }
}

async function withLockRetries(
  run: () => Promise<void>,
  o: Timings,
  onRetry: (attempt: number, waitMs: number) => void,
): Promise<void> {
  const start = Date.now();
  let wait = o.backoffMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (sqlStateOf(err) !== LOCK_NOT_AVAILABLE) throw err;
      if (Date.now() - start + wait > o.retryForMs) {
        throw new TallyError(
          'DB_ERROR',
          `migration step could not take its lock within ${o.lockTimeoutMs} ms in ${attempt} tries over ${Math.round((Date.now() - start) / 1000)} s: a long transaction holds the table (see pg_stat_activity); end it, or retry later`,
          { cause: err, details: { sqlState: LOCK_NOT_AVAILABLE } },
        );
      }
      onRetry(attempt, wait);
      await sleep(wait);
      wait = Math.min(wait * 2, o.maxBackoffMs);
    }
  }
}
