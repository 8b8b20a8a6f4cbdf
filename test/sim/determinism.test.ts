// The same seed twice gives the identical trace, byte for byte — crashes, restarts, lost replies and
// late messages included — and a shrunk schedule replays from its seed and fault indexes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { pointsRedemption, runSchedule } from '../../src/sim/index.js';

let db: Executor;
beforeAll(async () => {
  db = await pglite();
  await pointsRedemption.prepare(db);
});
afterAll(() => db?.close());

describe('sim determinism', () => {
  it('runs one seed twice to the same trace, and another seed to another', async () => {
    // Seed 1000 draws two crashes (one after C acted, before B recorded it), a reused key, a contradicting message.
    const a = await runSchedule(pointsRedemption, db, 1000);
    const b = await runSchedule(pointsRedemption, db, 1000);
    const text = a.trace.join('\n');
    expect(text).toContain('CRASH at');
    expect(text).toContain('restart (life 2)');
    expect(b.trace.join('\n')).toBe(text);
    const other = await runSchedule(pointsRedemption, db, 1001);
    expect(other.trace.join('\n')).not.toBe(text);
  });

  it('replays a schedule with only some of its faults', async () => {
    const all = await runSchedule(pointsRedemption, db, 1000);
    expect(all.kept.length).toBeGreaterThan(1);
    const one = await runSchedule(pointsRedemption, db, 1000, { keep: [all.kept[0]!] });
    expect(one.kept).toEqual([all.kept[0]]);
    const again = await runSchedule(pointsRedemption, db, 1000, { keep: [all.kept[0]!] });
    expect(again.trace).toEqual(one.trace);
  });
});
