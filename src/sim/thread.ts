// One thread of a parallel run (src/sim/parallel.ts): its own in-memory PGlite, the scenario prepared
// once, then every seed of its share in order. It reports each schedule's faults and, on its first
// failing schedule, the run and its shrunk form; it stops at seeds above the lowest failure any thread
// has reported, so the run's first failure is the lowest failing seed, as in one thread.
import { parentPort, workerData } from 'node:worker_threads';
import type { MutantName } from '../mutants.js';
import { simDatabase, unlogTables } from './database.js';
import { runSchedule, shrink } from './run.js';
import { SCENARIOS } from './scenarios/index.js';

/** What the parent tells a thread when it starts. */
export interface ThreadTask {
  scenario: string;
  seeds: number[];
  mutant?: MutantName;
}

/** What a thread says: ready, one schedule done, its failure, or finished. */
export type ThreadReport =
  | { type: 'ready' }
  | { type: 'schedule'; seed: number; fired: [string, number][]; failed: boolean }
  | { type: 'failure'; seed: number; run: unknown; minimal: unknown }
  | { type: 'done' };

async function main(port: NonNullable<typeof parentPort>, task: ThreadTask): Promise<void> {
  const scenario = SCENARIOS[task.scenario]!;
  const o = task.mutant ? { mutant: task.mutant } : {};
  let stopAbove = Number.POSITIVE_INFINITY;
  let go!: () => void;
  const started = new Promise<void>((resolve) => {
    go = resolve;
  });
  port.on('message', (m: { type: 'go' } | { type: 'stop-above'; seed: number }) => {
    if (m.type === 'go') go();
    else stopAbove = Math.min(stopAbove, m.seed);
  });
  const db = await simDatabase();
  try {
    await scenario.prepare(db);
    await unlogTables(db);
    port.postMessage({ type: 'ready' } satisfies ThreadReport);
    await started;
    for (const seed of task.seeds) {
      if (seed > stopAbove) break;
      const run = await runSchedule(scenario, db, seed, o);
      const failed = run.violations.length > 0;
      port.postMessage({ type: 'schedule', seed, fired: [...run.fired], failed } satisfies ThreadReport);
      if (failed) {
        const minimal = await shrink(scenario, db, run, o);
        port.postMessage({ type: 'failure', seed, run, minimal } satisfies ThreadReport);
        break;
      }
      // Let the parent's stop-above reach this thread between schedules.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await db.close();
  }
  port.postMessage({ type: 'done' } satisfies ThreadReport);
}

if (parentPort) await main(parentPort, workerData as ThreadTask);
