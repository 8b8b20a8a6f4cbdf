// Runs schedules: one from its seed (optionally with only some of its faults, to replay a shrunk
// schedule), many in a row with a summary, and the shrinker that finds the fewest faults that still
// break an invariant.
import type { Executor } from '../db/types.js';
import type { MutantName } from '../mutants.js';
import { describeFault, type Fault, faultLabel } from './faults.js';
import { Prng } from './prng.js';
import type { Scenario, Violation } from './scenario.js';
import { World } from './world.js';

/** An invariant of your own, checked after every schedule beside the scenario's (docs/simulator.md). */
export interface Invariant {
  name: string;
  /** A message when broken, null when it holds. */
  check(c: { db: Executor; world: World }): Promise<string | null> | string | null;
}

/** One schedule, as run. */
export interface ScheduleRun {
  seed: number;
  /** Every fault the seed drew (indexes are what `keep` and a shrunk schedule name). */
  drawn: Fault[];
  /** The indexes of the faults this run kept (all unless told). */
  kept: number[];
  violations: Violation[];
  trace: string[];
  /** Faults that took effect, by kind. */
  fired: Map<string, number>;
}

export interface ScheduleOptions {
  mutant?: MutantName;
  /** Keep only these of the drawn faults (a shrunk schedule). */
  keep?: readonly number[];
  invariants?: readonly Invariant[];
}

/**
 * Runs the schedule `seed` draws, on `db` (already prepared by the scenario), and checks its invariants.
 *
 * @example
 * const r = await runSchedule(pointsRedemption, db, 42);
 * if (r.violations.length) console.log(r.trace.join('\n'));
 */
export async function runSchedule(
  scenario: Scenario,
  db: Executor,
  seed: number,
  options: ScheduleOptions = {},
): Promise<ScheduleRun> {
  const { workload, faults: drawn } = scenario.draw(new Prng(seed, 1));
  const kept = options.keep
    ? drawn.map((_, i) => i).filter((i) => options.keep!.includes(i))
    : drawn.map((_, i) => i);
  const world = new World(
    seed,
    kept.map((i) => drawn[i]!),
  );
  world.log(`schedule ${scenario.name} seed ${seed}${options.mutant ? ` mutant ${options.mutant}` : ''}`);
  let violations: Violation[];
  try {
    violations = await scenario.run(world, db, workload, options.mutant ? { mutant: options.mutant } : {});
    for (const inv of options.invariants ?? []) {
      const m = await inv.check({ db, world });
      if (m) violations.push({ invariant: inv.name, message: m });
    }
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    violations = [
      {
        invariant: 'no-unexpected-error',
        message: `${e?.name ?? 'error'} ${e?.code ?? ''} ${e?.message ?? ''}`.trim(),
      },
    ];
  }
  for (const v of violations) world.log(`VIOLATION ${v.invariant}: ${v.message}`);
  return { seed, drawn, kept, violations, trace: world.trace, fired: world.faults.fired };
}

/**
 * Drops faults one at a time while the schedule still breaks the same invariant; returns the smallest
 * failing run found (every fault it keeps is needed for the failure).
 */
export async function shrink(
  scenario: Scenario,
  db: Executor,
  failing: ScheduleRun,
  options: ScheduleOptions = {},
): Promise<ScheduleRun> {
  const broken = failing.violations[0]?.invariant;
  let best = failing;
  for (let progress = true; progress; ) {
    progress = false;
    for (const i of best.kept) {
      const keep = best.kept.filter((k) => k !== i);
      const r = await runSchedule(scenario, db, failing.seed, { ...options, keep });
      if (r.violations.some((v) => v.invariant === broken)) {
        best = r;
        progress = true;
        break;
      }
    }
  }
  return best;
}

/** The faults of a run, one line each, with the index `--faults` takes. */
export function faultLines(run: ScheduleRun): string[] {
  return run.kept.map((i) => `#${i} ${describeFault(run.drawn[i]!)}`);
}

export { faultLabel };
