// `npm run bench -- reconcile`: the state <-> log check over 1,000,000 entities with 1,000 planted drifts
// (bench/_reconcile-state-log.ts), the cross-database compare (bench/_reconcile-xdb.ts, engineer H4's) and
// one commands-reconciler round over 1,000,000 finished commands beside 1,000 (bench/_reconcile-commands.ts),
// each on its own dedicated database. The last line is one JSON object.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commandsRoundBench } from './_reconcile-commands.js';
import { stateLogBench } from './_reconcile-state-log.js';
import { masked, PG_URL } from './_shared.js';

console.log(
  `reconcile bench on ${masked(PG_URL)}; load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
// RECONCILE_PHASES=commands (a comma list of state-log, xdb, commands; default all) runs only those; the
// figures of a phase left out are null.
const phases = new Set((process.env.RECONCILE_PHASES ?? 'state-log,xdb,commands').split(','));
let s: { entities: number | null; state_log_s: number | null; found: number | null } = {
  entities: null,
  state_log_s: null,
  found: null,
};
if (phases.has('state-log')) {
  console.log('\n## state <-> log');
  const r = await stateLogBench();
  s = r;
  console.log(
    `state <-> log: ${r.state_log_s} s for ${r.entities.toLocaleString('en')} entities (median of 3), floor ${r.floor_s} s, ratio ${r.ratio}x; found ${r.found}/${r.planted}, ${r.extra} unexpected`,
  );
}

// The cross-database half is optional until it exists: its fields stay null, and the run says so.
let xdb: { rowsPerS: number | null; found: number | null } = { rowsPerS: null, found: null };
const xdbFile = join(dirname(fileURLToPath(import.meta.url)), '_reconcile-xdb.ts');
if (!phases.has('xdb')) {
  console.log('\n(cross-database compare left out: RECONCILE_PHASES)');
} else if (existsSync(xdbFile)) {
  console.log('\n## cross-database compare');
  const mod = (await import(pathToFileURL(xdbFile).href)) as Record<string, unknown>;
  const fn = [mod.benchXdb, mod.default].find((f) => typeof f === 'function') as
    | (() => Promise<Record<string, unknown>>)
    | undefined;
  if (fn) {
    const r = await fn();
    const num = (...names: string[]) => {
      for (const n of names) if (typeof r[n] === 'number') return r[n] as number;
      return null;
    };
    xdb = { rowsPerS: num('xdb_rows_per_s', 'rows_per_s', 'rowsPerS'), found: num('xdb_found', 'found') };
  } else {
    console.log('bench/_reconcile-xdb.ts exports no runnable function; cross-database figures are null');
  }
} else {
  console.log('\n(bench/_reconcile-xdb.ts is not there yet: the cross-database figures are null)');
}

let c: Partial<Awaited<ReturnType<typeof commandsRoundBench>>> = {};
if (phases.has('commands')) {
  console.log('\n## commands reconciler: one round, 1,000,000 vs 1,000 finished commands (100 open each)');
  const r = await commandsRoundBench();
  c = r;
  console.log(
    `commands round: ${r.commands_round_1m_ms} ms over 1,000,000 finished, ${r.commands_round_1k_ms} ms over 1,000 (ratio ${r.commands_round_ratio}); first round over 1,000,000 ${r.commands_first_round_1m_ms} ms`,
  );
}

console.log(
  JSON.stringify({
    bench: 'reconcile',
    entities: s.entities,
    state_log_s: s.state_log_s,
    found: s.found,
    xdb_rows_per_s: xdb.rowsPerS,
    xdb_found: xdb.found,
    commands_round_1m_ms: c.commands_round_1m_ms ?? null,
    commands_round_1k_ms: c.commands_round_1k_ms ?? null,
    commands_round_ratio: c.commands_round_ratio ?? null,
    commands_first_round_1m_ms: c.commands_first_round_1m_ms ?? null,
  }),
);
