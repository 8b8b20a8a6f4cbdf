// `npm run bench -- adopt`: adoption of a table with history (decision 0053), and the reconciler on it after.
// ADOPT_ROWS rows (default 1,000,000) inserted around Tally at versions 1..5 (as a table from before Tally),
// no log. Timed: the dry run, the adoption (chunks of 10,000 rows, one transaction each: lock, then the row
// rewritten unchanged and its genesis entry in one statement), and `reconcile` after it — state <-> log
// alone and with the hash chains — whose findings must be 0; the state <-> log check before adoption is
// timed too (every row a `no_log` finding), for comparison. Last line: one JSON object.
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import { reconcile } from '../src/reconcile/index.js';
import { createTally } from '../src/tally.js';
import { dedicatedDatabase, load, masked, PG_URL, round, timed } from './_shared.js';

const ROWS = Number(process.env.ADOPT_ROWS ?? 1_000_000);
if (!Number.isInteger(ROWS) || ROWS < 1) throw new Error('ADOPT_ROWS must be a positive integer');

const database = await dedicatedDatabase('tally_bench_adopt');
const pool = new pg.Pool({ connectionString: database.url, max: 2 });
pool.on('error', () => {});
try {
  console.log(`adopt: ${ROWS} rows on ${masked(PG_URL)} (${load()})`);
  const db = postgres(pool);
  const tally = await createTally({ db });
  await tally.migrate();
  const build = await timed(async () => {
    await db.exec(`CREATE TABLE accounts (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL,
                     owner text, amount numeric(12, 2) NOT NULL DEFAULT 0)`);
    await db.exec(`INSERT INTO accounts SELECT g, 'open', 1 + g % 5, 'owner-' || g, g * 1.5
                     FROM generate_series(1, ${ROWS}) g`);
    await pool.query('VACUUM ANALYZE accounts');
  });
  const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });
  const before = await timed(() => reconcile([accounts], { chains: false, maxFindings: 10 }));
  const dry = await timed(() => accounts.adopt({ dryRun: true }));
  const adopt = await timed(() => accounts.adopt());
  await pool.query('VACUUM ANALYZE accounts');
  await pool.query('VACUUM ANALYZE tally.log');
  const state = await timed(() => reconcile([accounts], { chains: false }));
  const full = await timed(() => reconcile([accounts]));
  const again = await timed(() => accounts.adopt());
  const figures = {
    rows: ROWS,
    build_s: round(build.s, 2),
    findings_before: before.value.total,
    state_log_before_s: round(before.s, 2),
    dry_run_s: round(dry.s, 2),
    adopted: adopt.value.adopted,
    adopt_s: round(adopt.s, 2),
    rows_per_s: Math.round(ROWS / adopt.s),
    state_log_after_s: round(state.s, 2),
    reconcile_after_s: round(full.s, 2),
    findings_after: full.value.total,
    second_run_adopted: again.value.adopted,
    second_run_s: round(again.s, 2),
  };
  console.log(
    `before adoption: ${figures.findings_before} findings, state <-> log ${figures.state_log_before_s} s`,
  );
  console.log(
    `dry run ${figures.dry_run_s} s; adopt ${figures.adopt_s} s (${figures.rows_per_s} rows/s, ${adopt.value.chunks} chunks)`,
  );
  console.log(
    `after: state <-> log ${figures.state_log_after_s} s, with chains ${figures.reconcile_after_s} s, ${figures.findings_after} findings; second run adopted ${figures.second_run_adopted} in ${figures.second_run_s} s (${load()})`,
  );
  if (figures.findings_after !== 0 || figures.adopted !== ROWS || figures.second_run_adopted !== 0) {
    throw new Error('adopt bench: adoption did not leave a clean reconcile');
  }
  console.log(JSON.stringify(figures));
} finally {
  await pool.end();
  await database.drop();
}
