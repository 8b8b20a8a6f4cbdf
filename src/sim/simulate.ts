// Many schedules in a row: the summary (schedules/s, faults injected by kind, violations) and, for the
// first schedule that breaks an invariant, its seed and minimal trace.
import type { Executor } from '../db/types.js';
import type { MutantName } from '../mutants.js';
import { simDatabase, unlogTables } from './database.js';
import { simulateInThreads } from './parallel.js';
import { type Invariant, runSchedule, type ScheduleRun, shrink } from './run.js';
import type { Scenario } from './scenario.js';

/**
 * The budget within which the mutation check must find each deliberate bug (schedules from one seed);
 * test/sim/mutants.test.ts holds the simulator to it.
 */
export const DEFAULT_MUTANT_BUDGET = 200;

export interface SimulateOptions {
  /** Schedules to run (seeds `seed`, `seed + 1`, ...). Default 1,000. */
  schedules?: number;
  /** The first schedule's seed. Default: drawn from the time (the summary says which). */
  seed?: number;
  mutant?: MutantName;
  /** The database (prepared here). Default: a new in-memory PGlite (`simDatabase()`), closed at the end. */
  db?: Executor;
  /** Keep only these fault indexes (replaying a shrunk schedule; with one schedule). */
  keep?: readonly number[];
  /** Shrink the first failing schedule. Default true. */
  shrink?: boolean;
  invariants?: readonly Invariant[];
  /**
   * Threads to run the schedules on, each with its own in-memory PGlite (built-in scenarios only, without
   * `db`, `keep` or `invariants`). Default 1. The answer is the same as on one thread (decision 0154).
   */
  threads?: number;
  /** Called after each schedule. */
  onProgress?: (done: number, total: number) => void;
}

export interface SimulateResult {
  sim: string;
  seed: number;
  schedules: number;
  violations: number;
  schedulesPerS: number;
  faults: Record<string, number>;
  invariants: readonly string[];
  /** The first failing schedule, and its shrunk form. */
  failure: { run: ScheduleRun; minimal: ScheduleRun } | null;
  /** The last schedule's run (its trace is what `--seed` prints). */
  last: ScheduleRun | null;
}

/**
 * Runs `schedules` schedules of a scenario and stops at the first that breaks an invariant.
 *
 * @example
 * const r = await simulate(pointsRedemption, { schedules: 1000, seed: 1 });
 * if (r.failure) console.log(r.failure.minimal.trace.join('\n'));
 */
export async function simulate(scenario: Scenario, options: SimulateOptions = {}): Promise<SimulateResult> {
  const total = options.schedules ?? 1000;
  const seed = options.seed ?? Date.now() % 1_000_000_007;
  const threads = options.threads ?? 1;
  if (threads > 1 && !options.db && !options.keep && !options.invariants && options.shrink !== false)
    return simulateInThreads(scenario, { ...options, seed, schedules: total }, threads);
  const db = options.db ?? (await simDatabase());
  const faults: Record<string, number> = {};
  let done = 0;
  let failure: SimulateResult['failure'] = null;
  let last: ScheduleRun | null = null;
  const o = {
    ...(options.mutant ? { mutant: options.mutant } : {}),
    ...(options.invariants ? { invariants: options.invariants } : {}),
  };
  let started = performance.now();
  try {
    await scenario.prepare(db);
    if (!options.db) await unlogTables(db);
    started = performance.now(); // schedules per second: the schedules' own time, not the database's start
    for (let i = 0; i < total; i++) {
      const run = await runSchedule(scenario, db, seed + i, {
        ...o,
        ...(options.keep ? { keep: options.keep } : {}),
      });
      done++;
      last = run;
      for (const [k, n] of run.fired) faults[k] = (faults[k] ?? 0) + n;
      options.onProgress?.(done, total);
      if (run.violations.length > 0) {
        const minimal = options.shrink === false ? run : await shrink(scenario, db, run, o);
        failure = { run, minimal };
        break;
      }
    }
  } finally {
    if (!options.db) await db.close();
  }
  const s = (performance.now() - started) / 1000;
  const sorted = Object.fromEntries(Object.entries(faults).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    sim: scenario.name,
    seed,
    schedules: done,
    violations: failure ? failure.run.violations.length : 0,
    schedulesPerS: Math.round((done / Math.max(s, 1e-9)) * 10) / 10,
    faults: sorted,
    invariants: scenario.invariants,
    failure,
    last,
  };
}
