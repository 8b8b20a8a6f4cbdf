// The state <-> log half of `npm run bench -- reconcile` (the leading `_` keeps bench/run.ts from listing it).
// 1,000,000 resources created through Tally itself: `resources.create()` in 10 calls of 100,000 rows (the
// default maxBatch), each call the one statement every create is (src/changes/create.ts: a data-modifying
// CTE INSERTs the rows and, from their RETURNING images, their chained `create` entries), so every row and its
// entry are written by the same statement, as in production. (Until 2026-11-30 the bench inserted the rows and
// then their entries in a second bulk statement: data no Tally writer produces, on which the reconciler's
// proof that a row is untouched since its entry (decision 0057) never holds.) Then 200 moved once more
// through Tally, and 1,000 planted drifts of six kinds, all written around Tally: 100 of the 400 rows changed
// around Tally are changed by a raw UPDATE inside the same transaction as a Tally transition of them (the
// case the tuple-header proof must not mistake for untouched). Timed: the reconciler's state <-> log check
// beside a hand-written anti-join (the floor).
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import { reconcile } from '../src/reconcile/index.js';
import { createTally } from '../src/tally.js';
import { dedicatedDatabase, median, round, shuffledIds, timed } from './_shared.js';

export const ENTITIES = 1_000_000;

/** Disjoint key sets per planted kind (1,000 in all), from one seeded permutation. */
function plan() {
  const ids = shuffledIds(ENTITIES, 4);
  let next = 0;
  const take = (n: number) => {
    const out = Array.from(ids.subarray(next, next + n));
    next += n;
    return out;
  };
  return {
    moved: take(200), // get a second entry through Tally: v2 for the deleted-last / deleted-first drifts
    changed: take(300), // row_changed_outside_log: a raw UPDATE of the state, version not bumped
    changedInTx: take(100), // row_changed_outside_log: a Tally transition, then a raw UPDATE in its transaction
    bumped: take(200), // version_ahead_of_log: a raw UPDATE that bumps the version, no entry
    noLog: take(100), // no_log: the entity's only entry deleted
    rolledBack: take(100), // log_ahead_of_row: the row's version set back to 0
  };
}

export interface StateLogFigures {
  entities: number;
  planted: number;
  state_log_s: number;
  floor_s: number;
  ratio: number;
  found: number;
  extra: number;
  chain_s: number;
  build_s: number;
}

export async function stateLogBench(log: (line: string) => void = console.log): Promise<StateLogFigures> {
  const database = await dedicatedDatabase('tally_bench_reconcile_state');
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  pool.on('error', () => {});
  try {
    const db = postgres(pool);
    // VACUUM cannot run in the implicit transaction of a multi-statement string: one query each.
    const vacuum = async () => {
      await pool.query('VACUUM ANALYZE resources');
      await pool.query('VACUUM ANALYZE tally.log');
    };
    const tally = await createTally({ db });
    await tally.migrate();
    const p = plan();
    const list = (ids: number[]) => ids.join(',');
    const resources = tally.entity('resource', {
      table: 'resources',
      states: { active: ['frozen'], frozen: ['active'] },
    });
    const build = await timed(async () => {
      await db.exec(`CREATE TABLE resources (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0,
                       owner text, amount numeric(12, 2) NOT NULL DEFAULT 0)`);
      const batch = 100_000;
      for (let lo = 1; lo <= ENTITIES; lo += batch) {
        const rows = [];
        for (let g = lo; g < Math.min(lo + batch, ENTITIES + 1); g++) {
          rows.push({ id: g, state: 'active', owner: `owner-${g}`, amount: g * 1.5 });
        }
        await resources.create({ rows, actor: 'bench' });
      }
      await vacuum();
    });
    log(`built ${ENTITIES.toLocaleString('en')} rows and log entries in ${round(build.s, 1)} s`);
    await resources.transition({ keys: p.moved, to: 'frozen', actor: 'bench' });
    // Logged and changed around the log in one transaction: the row's last write is not its entry's statement.
    await db.transaction(async (tx) => {
      await resources.transition({ keys: p.changedInTx, to: 'frozen', actor: 'bench', tx });
      await tx.exec(`UPDATE resources SET owner = 'someone else' WHERE id IN (${list(p.changedInTx)})`);
    });

    const lastDeleted = p.moved.slice(0, 100);
    const firstDeleted = p.moved.slice(100);
    await db.exec(`
      UPDATE resources SET state = 'frozen' WHERE id IN (${list(p.changed)});
      UPDATE resources SET state = 'frozen', version = version + 1 WHERE id IN (${list(p.bumped)});
      DELETE FROM tally.log WHERE entity_type = 'resource' AND entity_key IN (${p.noLog.map((k) => `'${k}'`).join(',')});
      UPDATE resources SET version = 0 WHERE id IN (${list(p.rolledBack)});
      DELETE FROM tally.log WHERE entity_type = 'resource' AND version = 2 AND entity_key IN (${lastDeleted.map((k) => `'${k}'`).join(',')});
      DELETE FROM tally.log WHERE entity_type = 'resource' AND version = 1 AND entity_key IN (${firstDeleted.map((k) => `'${k}'`).join(',')});`);
    await vacuum();
    const expected = new Map<string, string>();
    for (const k of [...p.changed, ...p.changedInTx]) expected.set(String(k), 'row_changed_outside_log');
    for (const k of [...p.bumped, ...lastDeleted]) expected.set(String(k), 'version_ahead_of_log');
    for (const k of p.noLog) expected.set(String(k), 'no_log');
    for (const k of p.rolledBack) expected.set(String(k), 'log_ahead_of_row');
    for (const k of firstDeleted) expected.set(String(k), 'version_gap');
    log(
      `planted ${expected.size} drifts: 400 changed around Tally (100 in a Tally change's own transaction), 300 ahead of the log (200 bumped, 100 last entries deleted), 100 never logged, 100 log ahead, 100 first entries deleted`,
    );

    const floorSql = `SELECT count(*) AS n FROM resources t WHERE t.version > 0 AND NOT EXISTS (
        SELECT 1 FROM tally.log l WHERE l.entity_type = 'resource' AND l.entity_key = t.id::text AND l.version = t.version)`;
    const floor = async () => {
      const c = await pool.connect();
      try {
        // The same session settings the reconciler uses, so the floor is not handicapped.
        await c.query(`SET work_mem = '256MB'; SET jit = off`);
        return await timed(() => c.query(floorSql));
      } finally {
        c.release();
      }
    };
    const floors: number[] = [];
    const checks: number[] = [];
    let found = 0;
    let extra = 0;
    for (let i = 0; i < 3; i++) {
      floors.push((await floor()).s);
      const run = await timed(() => reconcile([resources], { chains: false }));
      checks.push(run.s);
      const seen = new Map(run.value.findings.map((f) => [f.key, f.kind]));
      found = [...expected].filter(([k, kind]) => seen.get(k) === kind).length;
      extra = [...seen.keys()].filter((k) => !expected.has(k)).length;
      log(
        `run ${i + 1}: reconciler ${round(run.s, 3)} s (found ${found} of ${expected.size}, ${extra} unexpected), floor anti-join ${round(floors[i]!, 3)} s`,
      );
    }
    const chain = await timed(() => reconcile([resources], { chains: true }));
    log(
      `with chain verification (1,000,300 hashes recomputed): ${round(chain.s, 2)} s, ${chain.value.total} findings`,
    );
    const s = median(checks);
    const f = median(floors);
    return {
      entities: ENTITIES,
      planted: expected.size,
      state_log_s: round(s, 3),
      floor_s: round(f, 3),
      ratio: round(s / f, 2),
      found,
      extra,
      chain_s: round(chain.s, 2),
      build_s: round(build.s, 1),
    };
  } finally {
    await pool.end();
    // BENCH_KEEP=1 leaves the database for profiling (drop it by hand afterwards).
    if (process.env.BENCH_KEEP === '1') log(`kept ${database.url}`);
    else await database.drop();
  }
}
