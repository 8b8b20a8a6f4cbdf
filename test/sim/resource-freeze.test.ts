// The resource-freeze scenario (decision 0155): jobs that die between chunks and resume, operators who
// retry with the job's key, a log consumer that dies mid-batch — clean without a mutant, and the
// state-without-log and checkpoint-before-ack bugs are found in it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import { resourceFreeze, runSchedule, simDatabase, simulate } from '../../src/sim/index.js';

let db: Executor;
beforeAll(async () => {
  db = await simDatabase();
});
afterAll(() => db?.close());

describe('sim resource-freeze', () => {
  it('runs jobs through crashes between chunks to the end, the same way twice', async () => {
    const r = await simulate(resourceFreeze, { db, seed: 1, schedules: 40 });
    expect(r.failure?.minimal.trace.join('\n') ?? null).toBeNull();
    expect(r.faults['crash:job:between-chunks']).toBeGreaterThan(0);
    expect(r.faults['crash:job:created']).toBeGreaterThan(0);
    // Seed 17: a job dies after its first chunk; its operator meets JOB_BUSY until the lease runs
    // out, the next life's resumer finishes it, and the operator's last try finds it done.
    const a = await runSchedule(resourceFreeze, db, 17);
    const b = await runSchedule(resourceFreeze, db, 17);
    const text = a.trace.join('\n');
    expect(text).toContain('CRASH at job:between-chunks #1');
    expect(text).toContain('JOB_BUSY');
    expect(text).toMatch(/resumed job j3: done/);
    expect(a.violations).toEqual([]);
    expect(b.trace.join('\n')).toBe(text);
  });

  for (const [mutant, invariant] of [
    ['state-without-log', 'state-has-log'],
    ['checkpoint-before-ack', 'feed-no-miss-no-reorder'],
  ] as const) {
    it(`finds ${mutant}`, async () => {
      const r = await simulate(resourceFreeze, { db, seed: 1, schedules: 200, mutant });
      expect(r.failure, `${mutant} not found in ${r.schedules} schedules`).not.toBeNull();
      expect(r.failure!.minimal.violations.map((v) => v.invariant)).toContain(invariant);
    });
  }
});
