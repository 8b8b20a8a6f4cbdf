// `npm run bench -- sim [SCHEDULES]`: the simulator's speed (issue 18) — schedules per second of the
// points-redemption scenario, the same seeds on embedded PGlite and on PostgreSQL side by side, and the
// statements one schedule costs (the figure that does not depend on how loaded the machine is). CI's
// budget follows from it: 10,000 schedules at the PGlite rate.
import { loadavg } from 'node:os';
import pg from 'pg';
import { pglite } from '../src/db/pglite/index.js';
import { postgres } from '../src/db/postgres/index.js';
import type { Executor, Row, SqlQuery } from '../src/db/types.js';
import { pointsRedemption } from '../src/sim/index.js';
import { simulate } from '../src/sim/simulate.js';
import { dedicatedDatabase, masked, round } from './_shared.js';

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

async function measure(label: string, db: Executor) {
  const c = { n: 0 };
  const r = await simulate(pointsRedemption, { db: counted(db, c), seed: SEED, schedules: N });
  if (r.failure) {
    const v = r.failure.run.violations[0]!;
    console.log(`${label}: seed ${r.failure.run.seed} broke ${v.invariant}: ${v.message}`);
  }
  const perSchedule = round(c.n / Math.max(1, r.schedules), 1);
  console.log(
    `${label.padEnd(10)} ${String(r.schedulesPerS).padStart(6)} schedules/s  ${perSchedule} statements/schedule  violations ${r.violations}`,
  );
  return { schedulesPerS: r.schedulesPerS, statementsPerSchedule: perSchedule, violations: r.violations };
}

console.log(
  `sim bench: ${N} schedules of points-redemption from seed ${SEED}; load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
const lite = await pglite();
const out: Record<string, unknown> = { schedules: N, seed: SEED };
try {
  out.pglite = await measure('pglite', lite);
} finally {
  await lite.close();
}
try {
  const d = await dedicatedDatabase('tally_bench_sim');
  const pool = new pg.Pool({ connectionString: d.url, max: 4 });
  try {
    out.postgres = await measure('postgres', postgres(pool));
  } finally {
    await pool.end();
    await d.drop();
  }
} catch (err) {
  console.log(`postgres: skipped (${masked(String((err as Error).message))})`);
}
const rate = (out.pglite as { schedulesPerS: number }).schedulesPerS;
out.ci10k_minutes = round(10_000 / Math.max(rate, 0.001) / 60, 1);
console.log(`10,000 schedules on PGlite at this rate: ${out.ci10k_minutes} min`);
out.load = loadavg()[0];
console.log(JSON.stringify(out));
