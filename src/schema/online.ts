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
 * Applies one migration's steps on a pool (each step on whatever connection the pool gives it), and
 * records `version` with the last transaction step. The caller holds the migration lock for the whole
 * run, in a transaction of its own on another connection.
 */
export async function applySteps(
  db: Executor,
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
      if (step.kind === 'index') return buildIndex(db, schemaName, s, step);
      if (step.kind === 'batches') return runBatches(db, step.sql(s), o.lockTimeoutMs);
      await db.transaction(async (tx) => {
        await tx.exec(setLockTimeout(o.lockTimeoutMs));
        await tx.exec(step.sql(s));
        if (record) await tx.query(recordVersion(s, version, name));
      });
    };
    await withLockRetries(run, o, (attempt, waitMs) =>
      o.onRetry?.({ version, step: i + 1, attempt, waitMs }),
    );
  }
  if (!recordsInStep) await db.transaction((tx) => tx.query(recordVersion(s, version, name)));
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

async function runBatches(db: Executor, sql: string, lockTimeoutMs: number): Promise<void> {
  for (;;) {
    const n = await db.transaction(async (tx) => {
      await tx.exec(setLockTimeout(lockTimeoutMs));
      const [row] = await tx.query<{ n: number | string }>({ text: sql });
      return Number(row?.n ?? 0);
    });
    if (n === 0) return;
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
