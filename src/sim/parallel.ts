// Many schedules on several threads, each with its own PGlite (decision 0154). A schedule's trace
// depends only on its seed (each starts from emptied tables), so which thread runs it changes nothing;
// the seeds are dealt out in turn (thread k runs seed + k, seed + k + n, ...) and the answer is the one
// a single thread gives: the lowest failing seed, the schedules up to it, their faults.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ScheduleRun } from './run.js';
import type { Scenario } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import type { SimulateOptions, SimulateResult } from './simulate.js';
import type { ThreadReport, ThreadTask } from './thread.js';

/** Threads for a run of `schedules`: one per core, at most 4, and one for a short run. */
export function defaultThreads(schedules: number): number {
  return schedules < 200 ? 1 : Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * Starts a thread on thread.js beside this file; from the .ts sources (tests, tsx) it first registers
 * tsx's loader in the thread, as a thread does not inherit the parent's module hooks.
 */
function startThread(task: ThreadTask): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./thread.js', import.meta.url), { workerData: task });
  const source = JSON.stringify(new URL('./thread.ts', import.meta.url).href);
  const code = `import('tsx/esm/api').then((t) => t.register()).then(() => import(${source}))`;
  return new Worker(code, { eval: true, workerData: task });
}

/**
 * Runs a built-in scenario's schedules `seed` .. `seed + total - 1` on `threads` threads and answers as
 * `simulate` does in one.
 */
export async function simulateInThreads(
  scenario: Scenario,
  options: SimulateOptions & { seed: number; schedules: number },
  threads: number,
): Promise<SimulateResult> {
  if (SCENARIOS[scenario.name] !== scenario)
    throw new TypeError('simulate: threads run built-in scenarios only (pass threads: 1 for your own)');
  const { seed, schedules: total } = options;
  const n = Math.max(1, Math.min(threads, total));
  const fired = new Map<number, [string, number][]>();
  let lowest = Number.POSITIVE_INFINITY;
  let failure: { seed: number; run: ScheduleRun; minimal: ScheduleRun } | null = null;
  let done = 0;
  const workers: Worker[] = [];
  for (let k = 0; k < n; k++) {
    const seeds: number[] = [];
    for (let i = k; i < total; i += n) seeds.push(seed + i);
    const task: ThreadTask = {
      scenario: scenario.name,
      seeds,
      ...(options.mutant ? { mutant: options.mutant } : {}),
    };
    workers.push(startThread(task));
  }
  let started = 0;
  const finished = workers.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        w.on('error', reject);
        w.on('exit', (code) => reject(new Error(`sim thread exited with ${code} before it finished`)));
        w.on('message', (m: ThreadReport) => {
          if (m.type === 'ready') {
            if (++started === n) {
              t0 = performance.now();
              for (const x of workers) x.postMessage({ type: 'go' });
            }
          } else if (m.type === 'schedule') {
            fired.set(m.seed, m.fired);
            options.onProgress?.(++done, total);
            if (m.failed && m.seed < lowest) {
              lowest = m.seed;
              for (const x of workers) x.postMessage({ type: 'stop-above', seed: m.seed });
            }
          } else if (m.type === 'failure') {
            if (!failure || m.seed < failure.seed)
              failure = { seed: m.seed, run: m.run as ScheduleRun, minimal: m.minimal as ScheduleRun };
          } else {
            resolve();
          }
        });
      }),
  );
  let t0 = performance.now();
  try {
    await Promise.all(finished);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const seconds = (performance.now() - t0) / 1000;
  const ran = failure ? (failure as { seed: number }).seed - seed + 1 : total;
  const faults: Record<string, number> = {};
  for (const [s, list] of fired) {
    if (s >= seed + ran) continue;
    for (const [k, c] of list) faults[k] = (faults[k] ?? 0) + c;
  }
  const f = failure as { run: ScheduleRun; minimal: ScheduleRun } | null;
  return {
    sim: scenario.name,
    seed,
    schedules: ran,
    violations: f ? f.run.violations.length : 0,
    schedulesPerS: Math.round((fired.size / Math.max(seconds, 1e-9)) * 10) / 10,
    faults: Object.fromEntries(Object.entries(faults).sort(([a], [b]) => (a < b ? -1 : 1))),
    invariants: scenario.invariants,
    failure: f ? { run: f.run, minimal: f.minimal } : null,
    last: null,
  };
}
