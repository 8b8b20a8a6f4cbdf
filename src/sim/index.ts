// tally/sim: the deterministic fault simulator (issue 18, decisions 0150-0152; docs/simulator.md).

export { MUTANTS, type MutantName } from '../mutants.js';
export { SIM_EPOCH_MS, SimClock } from './clock.js';
export { crashable, Incarnation, SimCrash } from './crash.js';
export { simDatabase, unlogTables } from './database.js';
export {
  describeFault,
  drawFaults,
  type Fault,
  FaultBook,
  type FaultSpace,
  faultLabel,
  type MessageFault,
  type SendFault,
} from './faults.js';
export { type PartySpec, SimParty, SimTimeout, SimUnreachable } from './party.js';
export { Prng } from './prng.js';
export {
  faultLines,
  type Invariant,
  runSchedule,
  type ScheduleOptions,
  type ScheduleRun,
  shrink,
} from './run.js';
export type { RunOptions, Scenario, Schedule, Violation } from './scenario.js';
export { SCENARIOS } from './scenarios/index.js';
export { pointsRedemption } from './scenarios/points-redemption.js';
export { resourceFreeze } from './scenarios/resource-freeze.js';
export { DEFAULT_MUTANT_BUDGET, type SimulateOptions, type SimulateResult, simulate } from './simulate.js';
export { type EventOptions, World } from './world.js';
