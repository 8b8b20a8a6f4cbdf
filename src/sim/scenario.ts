// What a built-in or user scenario provides to the simulator.
import type { Executor } from '../db/types.js';
import type { MutantName } from '../mutants.js';
import type { Fault } from './faults.js';
import type { Prng } from './prng.js';
import type { World } from './world.js';

/** A broken invariant: which one, and what was found (ids and numbers, no user data beyond the schedule's). */
export interface Violation {
  invariant: string;
  message: string;
}

/** One schedule as drawn from its seed: the workload and the faults. */
export interface Schedule<W = unknown> {
  seed: number;
  workload: W;
  faults: Fault[];
}

/** Options of one run of a scenario. */
export interface RunOptions {
  mutant?: MutantName;
}

/**
 * A chain to simulate: how to prepare the database once, draw a schedule from a seed, and run one
 * schedule in a world (returning what its invariants found).
 */
export interface Scenario<W = unknown> {
  readonly name: string;
  /** Names of the invariants it checks after every schedule (docs/simulator.md). */
  readonly invariants: readonly string[];
  /** Once per run of many schedules: tables, migrations. */
  prepare(db: Executor): Promise<void>;
  /** Draws one schedule's workload and faults. */
  draw(rng: Prng): { workload: W; faults: Fault[] };
  /** Runs one schedule on a database `prepare` set up (the scenario empties what the last one left). */
  run(world: World, db: Executor, workload: W, options: RunOptions): Promise<Violation[]>;
}
