// How `tally sim` is described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const SIM_DOC: CommandDoc = {
  usage: [
    'sim --scenario NAME [--schedules N] [--seed S] [--faults I,J] [--mutant NAME]',
    '[--threads N] [--database-url URL]',
  ],
  summary: 'run a chain through seeded fault schedules and check its invariants',
  about: `Runs a built-in scenario through generated fault schedules (crashes at await points, lost
replies, slow success, outages, late, duplicate and contradicting messages, reused keys), each
replayable from its seed, and checks the scenario's invariants after each (docs/simulator.md).
The first schedule that breaks one is shrunk to the fewest faults that still break it; its seed,
the broken invariant and its trace are printed, with the command that replays it. The last line
is a JSON summary: {"sim", "seed", "schedules", "violations", "schedules_per_s", "faults",
"invariants"}. With --seed and no --schedules, one schedule runs and its trace is printed.`,
  options: [
    ['--scenario NAME', 'the chain: points-redemption or resource-freeze'],
    ['--schedules N', 'how many schedules, seeds S, S+1, ... (default 1,000; 1 with --seed)'],
    ['--seed S', "the first schedule's seed (default: from the time; the summary says which)"],
    ['--faults I,J', "keep only these of the seed's faults (a shrunk schedule, as printed)"],
    [
      '--mutant NAME',
      'run with a deliberate bug (skip-fingerprint, compensate-on-unknown, state-without-log, checkpoint-before-ack): the check must find it',
    ],
    [
      '--threads N',
      `threads, each with its own in-memory PGlite (default: one per core, at most 4, from 200
schedules on; 1 with --database-url); the result is the same as on one`,
    ],
    [
      '--database-url URL',
      `PostgreSQL instead of an in-memory PGlite (its schemas sim_tally and sim_points are
emptied and reused)`,
    ],
  ],
  notes: 'Exit codes: 0 no invariant broken, 1 a violation (or an error), 2 wrong arguments.',
  database: false,
};
