import { postgres } from '../db/postgres/index.js';
import { isMutant, MUTANTS, type MutantName } from '../mutants.js';
import { defaultThreads } from '../sim/parallel.js';
import { faultLines } from '../sim/run.js';
import { SCENARIOS } from '../sim/scenarios/index.js';
import { type SimulateResult, simulate } from '../sim/simulate.js';
import { EXIT_ERROR, EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { intOption, parseCommand, stringOption } from './options.js';

export const OPTIONS = {
  scenario: { type: 'string' },
  schedules: { type: 'string' },
  seed: { type: 'string' },
  faults: { type: 'string' },
  mutant: { type: 'string' },
  threads: { type: 'string' },
  'database-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const WIDTH = 30;

/**
 * `tally sim --scenario NAME [--schedules N] [--seed S] [--faults I,J] [--mutant NAME]`: runs seeded
 * fault schedules of a built-in scenario; exits 1 with the seed, the broken invariant and the minimal
 * trace when one breaks. The last line is the JSON summary.
 *
 * @example
 * await simCommand(['--scenario', 'points-redemption', '--schedules', '10000'], io);
 */
export async function simCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('sim', args, OPTIONS);
  const name = stringOption(values, 'scenario', 'sim');
  const scenario = name ? SCENARIOS[name] : undefined;
  if (!scenario) {
    throw new UsageError(`tally sim: --scenario must be one of ${Object.keys(SCENARIOS).join(', ')}`);
  }
  const seed = intOption(values, 'seed', 'sim', 0, Number.MAX_SAFE_INTEGER);
  const schedules = intOption(values, 'schedules', 'sim', 1, 100_000_000) ?? (seed !== undefined ? 1 : 1000);
  const mutant = stringOption(values, 'mutant', 'sim');
  if (mutant !== undefined && !isMutant(mutant))
    throw new UsageError(`tally sim: --mutant must be one of ${MUTANTS.join(', ')}`);
  const faults = stringOption(values, 'faults', 'sim');
  let keep: number[] | undefined;
  if (faults !== undefined) {
    if (!/^\d+(,\d+)*$/.test(faults) && faults !== 'none')
      throw new UsageError('tally sim: --faults takes fault indexes like 0,3 (or none)');
    if (seed === undefined || schedules !== 1)
      throw new UsageError(
        'tally sim: --faults replays one schedule: give --seed and no --schedules above 1',
      );
    keep = faults === 'none' ? [] : faults.split(',').map(Number);
  }
  const url = stringOption(values, 'database-url', 'sim');
  const threads = intOption(values, 'threads', 'sim', 1, 64) ?? (url || keep ? 1 : defaultThreads(schedules));
  let pool: import('pg').Pool | null = null;
  if (url) {
    const pg = (await import('pg')).default;
    pool = new pg.Pool({ connectionString: url, max: 4 });
  }
  const progress = bar(io, schedules);
  let r: SimulateResult;
  try {
    r = await simulate(scenario, {
      schedules,
      ...(seed !== undefined ? { seed } : {}),
      ...(mutant ? { mutant: mutant as MutantName } : {}),
      ...(keep ? { keep } : {}),
      ...(pool ? { db: postgres(pool) } : {}),
      threads,
      onProgress: progress,
    });
  } finally {
    await pool?.end();
  }
  if (r.failure) {
    const m = r.failure.minimal;
    const v = m.violations[0] ?? r.failure.run.violations[0]!;
    io.out(`VIOLATION ${v.invariant} at seed ${m.seed}: ${v.message}`);
    io.out(`faults it needs (${m.kept.length} of ${m.drawn.length}):`);
    for (const line of faultLines(m)) io.out(`  ${line}`);
    io.out('trace:');
    for (const line of m.trace) io.out(`  ${line}`);
    const again = [
      `--scenario ${r.sim}`,
      `--seed ${m.seed}`,
      `--faults ${m.kept.length ? m.kept.join(',') : 'none'}`,
    ];
    if (mutant) again.push(`--mutant ${mutant}`);
    io.out(`replay: tally sim ${again.join(' ')}`);
  } else if (schedules === 1 && r.last) {
    for (const line of r.last.trace) io.out(line);
  }
  io.out(
    JSON.stringify({
      sim: r.sim,
      seed: r.seed,
      schedules: r.schedules,
      violations: r.violations,
      schedules_per_s: r.schedulesPerS,
      faults: r.faults,
      invariants: r.invariants,
    }),
  );
  return r.failure ? EXIT_ERROR : EXIT_OK;
}

/** A progress bar on a terminal (stderr, redrawn in place); nothing otherwise, so output stays replayable. */
function bar(io: Io, total: number): ((done: number) => void) | undefined {
  if (io.isTTY !== true || total < 2) return undefined;
  const started = performance.now();
  let shown = -1;
  return (done) => {
    const pct = Math.floor((100 * done) / total);
    if (pct === shown && done !== total) return;
    shown = pct;
    const rate = done / Math.max(1e-3, (performance.now() - started) / 1000);
    const fill = '#'.repeat(Math.round((done / total) * WIDTH)).padEnd(WIDTH, '.');
    io.err(
      `${done > 1 ? '\x1b[1A\x1b[2K' : ''}sim [${fill}] ${String(pct).padStart(3)}% ${done}/${total} ${rate.toFixed(1)}/s`,
    );
  };
}
