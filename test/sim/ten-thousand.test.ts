// CI's run of the simulator (issue 18, decision 0157): 10,000 schedules of points-redemption on two
// threads, none may break an invariant. About 4.8 CPU-minutes: 3 min 23 s of the 2-core machine at load
// 2-4 (docs/simulator.md "Speed and CI's budget"). The seeds are fixed: a failure here is a
// failure on every run, and replays with `tally sim --scenario points-redemption --seed S`.
import { expect, it } from 'vitest';
import { pointsRedemption, simulate } from '../../src/sim/index.js';

it(
  'runs 10,000 schedules of points-redemption without a violation',
  async () => {
    const started = performance.now();
    const r = await simulate(pointsRedemption, { seed: 1, schedules: 10_000, threads: 2 });
    const minutes = (performance.now() - started) / 60_000;
    console.log(`sim: 10,000 schedules in ${minutes.toFixed(1)} min (${r.schedulesPerS}/s)`);
    const f = r.failure?.minimal;
    expect(
      f ? `seed ${f.seed}: ${f.violations.map((v) => `${v.invariant} ${v.message}`).join('; ')}` : null,
    ).toBeNull();
    expect(r.schedules).toBe(10_000);
  },
  45 * 60_000,
);
