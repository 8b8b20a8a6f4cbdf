// `npm run bench -- sim [SCHEDULES]`: the simulator's speed (issue 18, decisions 0153-0154) — per
// scenario, the CPU and the statements one schedule costs on the simulator's PGlite (the figures that do
// not depend on how loaded the machine is), how they grow with the chain's length (the redemptions or
// operations in a schedule), and schedules per second on one thread and on two. CI's budget follows
// from the two-thread rate: 10,000 schedules of points-redemption.
import { loadavg } from 'node:os';
import type { Executor, Row, SqlQuery } from '../src/db/types.js';
import {
  Prng,
  pointsRedemption,
  resourceFreeze,
  runSchedule,
  type Scenario,
  simDatabase,
  simulate,
  unlogTables,
} from '../src/sim/index.js';
import { round } from './_shared.js';

const N = Number(process.argv[3] ?? process.argv[2] ?? 200) || 200;
const SEED = 7_000;

/** Counts statements on their way to the database. */
function counted(db: Executor, c: { n: number }): Executor {
  const wrap = (x: Executor): Executor => ({
    dialect: x.dialect,
    inTransaction: x.inTransaction,
    query<R extends Row = Row>(q: SqlQuery) {
      c.n++;
      return x.query<R>(q);
    },
    exec(text: string) {
      c.n++;
      return x.exec(text);
    },
    transaction: (fn, o) => x.transaction((tx) => fn(wrap(tx)), o),
    close: () => x.close(),
  });
  return wrap(db);
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The chain's length in a schedule: its redemptions, or its operations. */
function lengthOf(scenario: Scenario<any>, seed: number): number {
  const w = scenario.draw(new Prng(seed, 1)).workload as { requests?: unknown[]; ops?: unknown[] };
  return (w.requests ?? w.ops ?? []).length;
}

async function perSchedule(scenario: Scenario<any>) {
  const raw = await simDatabase();
  const c = { n: 0 };
  const db = counted(raw, c);
  const byLength = new Map<number, { n: number; cpu: number; statements: number }>();
  let violations = 0;
  try {
    await scenario.prepare(raw);
    await unlogTables(raw);
    for (let i = 0; i < 20; i++) await runSchedule(scenario, raw, 90_000 + i); // warm: statements prepared
    for (let i = 0; i < N; i++) {
      const seed = SEED + i;
      const [t, s] = [cpuMs(), c.n];
      const r = await runSchedule(scenario, db, seed);
      violations += r.violations.length;
      const len = lengthOf(scenario, seed);
      const b = byLength.get(len) ?? { n: 0, cpu: 0, statements: 0 };
      b.n++;
      b.cpu += cpuMs() - t;
      b.statements += c.n - s;
      byLength.set(len, b);
    }
  } finally {
    await raw.close();
  }
  let cpu = 0;
  let statements = 0;
  const growth: Record<string, { cpuMs: number; statements: number; schedules: number }> = {};
  for (const [len, b] of [...byLength].sort(([a], [b]) => a - b)) {
    cpu += b.cpu;
    statements += b.statements;
    growth[len] = { cpuMs: round(b.cpu / b.n, 1), statements: round(b.statements / b.n, 1), schedules: b.n };
  }
  return {
    cpuMsPerSchedule: round(cpu / N, 1),
    statementsPerSchedule: round(statements / N, 1),
    growth,
    violations,
  };
}

console.log(
  `sim bench: ${N} schedules per scenario from seed ${SEED}; load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
const out: Record<string, unknown> = { schedules: N, seed: SEED };
for (const scenario of [pointsRedemption, resourceFreeze] as Scenario<any>[]) {
  const p = await perSchedule(scenario);
  const one = await simulate(scenario, { seed: SEED, schedules: N, threads: 1 });
  const two = await simulate(scenario, { seed: SEED, schedules: N, threads: 2 });
  console.log(
    `${scenario.name.padEnd(18)} ${p.cpuMsPerSchedule} ms CPU, ${p.statementsPerSchedule} statements a schedule; ` +
      `${one.schedulesPerS}/s on one thread, ${two.schedulesPerS}/s on two; violations ${p.violations + one.violations + two.violations}`,
  );
  for (const [len, g] of Object.entries(p.growth))
    console.log(`  length ${len}: ${g.cpuMs} ms CPU, ${g.statements} statements (${g.schedules} schedules)`);
  out[scenario.name] = { ...p, oneThreadPerS: one.schedulesPerS, twoThreadsPerS: two.schedulesPerS };
}
const rate = (out['points-redemption'] as { twoThreadsPerS: number }).twoThreadsPerS;
out.ci10k_minutes = round(10_000 / Math.max(rate, 0.001) / 60, 1);
console.log(`10,000 schedules of points-redemption on two threads at this rate: ${out.ci10k_minutes} min`);
out.load = loadavg()[0];
console.log(JSON.stringify(out));
