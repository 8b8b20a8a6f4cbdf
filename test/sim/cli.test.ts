// `tally sim` as a user runs it: a mutant exits 1 with the seed, the broken invariant, the faults it needs
// and the replay command; `--seed S` twice prints the same trace; the last line is the JSON summary.
import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/run.js';

async function sim(args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const io: Io = {
    out: (t) => out.push(t),
    err: (t) => out.push(t),
    env: {},
    cwd: process.cwd(),
    isTTY: false,
  };
  const code = await run(['sim', '--scenario', 'points-redemption', ...args], io);
  return { code, out };
}

describe('tally sim', () => {
  it('exits 1 on a mutant with the seed, the invariant and the replay line', async () => {
    const r = await sim(['--seed', '1', '--schedules', '20', '--mutant', 'compensate-on-unknown']);
    expect(r.code).toBe(1);
    expect(r.out[0]).toMatch(/^VIOLATION compensation-once-never-after-success at seed \d+: /);
    expect(r.out).toContain('  #1 prizes send #3: reply-lost');
    const replay = r.out.find((l) => l.startsWith('replay: '))!;
    expect(replay).toBe(
      'replay: tally sim --scenario points-redemption --seed 2 --faults 1 --mutant compensate-on-unknown',
    );
    const summary = JSON.parse(r.out.at(-1)!);
    expect(summary).toMatchObject({ sim: 'points-redemption', seed: 1, schedules: 2, violations: 2 });
    // The replay line replays it.
    const again = await sim(replay.split(' ').slice(5));
    expect(again.code).toBe(1);
    expect(again.out[0]).toBe(r.out[0]);
  });

  it('prints the same trace for the same seed, and exits 0 when nothing breaks', async () => {
    const a = await sim(['--seed', '1000']);
    const b = await sim(['--seed', '1000']);
    expect(a.code).toBe(0);
    expect(a.out.slice(0, -1)).toEqual(b.out.slice(0, -1));
    expect(a.out.some((l) => l.includes('CRASH at issue:after-send #2'))).toBe(true);
    const summary = JSON.parse(a.out.at(-1)!);
    expect(Object.keys(summary)).toEqual([
      'sim',
      'seed',
      'schedules',
      'violations',
      'schedules_per_s',
      'faults',
      'invariants',
    ]);
    expect(summary).toMatchObject({ schedules: 1, violations: 0 });
  });
});
