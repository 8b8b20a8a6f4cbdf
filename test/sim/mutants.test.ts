// Proof that the simulator finds things (decision 0152): each deliberate bug the points-redemption chain
// reaches breaks one of its invariants within the default budget, the failure shrinks to the faults it
// needs, and the same schedules without a mutant break nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { DEFAULT_MUTANT_BUDGET, faultLabel, pointsRedemption, simulate } from '../../src/sim/index.js';

let db: Executor;
beforeAll(async () => {
  db = await pglite();
});
afterAll(() => db?.close());

// `needs`: the shrunk schedule's faults exactly; null: one fault that leaves an outcome unknown (a lost
// reply, a drop, ...); `including`: faults among which this one (a crash inside the consumer's batch).
const cases = [
  { mutant: 'skip-fingerprint', invariant: 'exactly-once-on-success', needs: ['key-reuse'] },
  { mutant: 'compensate-on-unknown', invariant: 'compensation-once-never-after-success', needs: null },
  { mutant: 'state-without-log', invariant: 'state-has-log', needs: [] },
  {
    mutant: 'checkpoint-before-ack',
    invariant: 'feed-no-miss-no-reorder',
    needs: { including: 'crash:consumer:mid-batch' },
  },
] as const;

describe('sim mutants', () => {
  for (const c of cases) {
    it(`finds ${c.mutant} within the default budget and shrinks it`, async () => {
      const r = await simulate(pointsRedemption, {
        db,
        seed: 1,
        schedules: DEFAULT_MUTANT_BUDGET,
        mutant: c.mutant,
      });
      expect(r.failure, `${c.mutant} not found in ${r.schedules} schedules`).not.toBeNull();
      const minimal = r.failure!.minimal;
      expect(minimal.violations.map((v) => v.invariant)).toContain(c.invariant);
      expect(minimal.kept.length).toBeLessThanOrEqual(r.failure!.run.kept.length);
      const labels = minimal.kept.map((i) => faultLabel(minimal.drawn[i]!));
      if (c.needs === null) expect(labels.length).toBe(1);
      else if ('including' in c.needs) expect(labels).toContain(c.needs.including);
      else expect(labels).toEqual(c.needs);
      // The seed and kept faults replay the failure.
      const again = await simulate(pointsRedemption, {
        db,
        seed: minimal.seed,
        schedules: 1,
        keep: minimal.kept,
        mutant: c.mutant,
        shrink: false,
      });
      expect(again.last!.trace).toEqual(minimal.trace);
    });
  }

  it('breaks nothing without a mutant on the same schedules', async () => {
    const r = await simulate(pointsRedemption, { db, seed: 1, schedules: 25 });
    expect(r.failure?.minimal.trace.join('\n') ?? null).toBeNull();
    expect(r.schedules).toBe(25);
  });
});
