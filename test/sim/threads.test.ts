// Threads change nothing but the speed (decision 0154): the same seeds on one thread and on several give
// the same first failure (the lowest failing seed), the same shrunk trace, the same schedule count and
// the same faults by kind.
import { describe, expect, it } from 'vitest';
import { pointsRedemption, simulate } from '../../src/sim/index.js';

describe('sim threads', () => {
  it('finds the same first failure on three threads as on one', async () => {
    const o = { seed: 1, schedules: 40, mutant: 'compensate-on-unknown' } as const;
    const one = await simulate(pointsRedemption, { ...o, threads: 1 });
    const three = await simulate(pointsRedemption, { ...o, threads: 3 });
    expect(one.failure).not.toBeNull();
    expect(three.failure?.run.seed).toBe(one.failure!.run.seed);
    expect(three.failure!.minimal.trace).toEqual(one.failure!.minimal.trace);
    expect(three.failure!.minimal.kept).toEqual(one.failure!.minimal.kept);
    expect(three.schedules).toBe(one.schedules);
    expect(three.faults).toEqual(one.faults);
  });

  it('sums the faults of every schedule when nothing breaks', async () => {
    const one = await simulate(pointsRedemption, { seed: 500, schedules: 12, threads: 1 });
    const two = await simulate(pointsRedemption, { seed: 500, schedules: 12, threads: 2 });
    expect(one.violations).toBe(0);
    expect(two.schedules).toBe(12);
    expect(two.faults).toEqual(one.faults);
  });
});
