// `npm run bench -- archive`: the write path's rate while `tally archive` runs (decision 0062). One run on
// PostgreSQL: seed two sealed parts of the log (2 × ARCHIVE_ENTITIES transitions each), then single-key
// transitions at c=8: without archival; while archiveLog moves the first part to files at full speed;
// while it moves the second part with a pause between delete chunks (pauseMs, ARCHIVE_PAUSE_MS, default
// 20); without again. Prints each phase and, last, one JSON object.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import { archiveLog } from '../src/evidence/archive.js';
import { generateSealKey } from '../src/evidence/keys.js';
import { sealOnce } from '../src/evidence/sealer.js';
import { createTally } from '../src/tally.js';
import { dedicatedDatabase, masked, PG_URL, round, since } from './_shared.js';

const ENTITIES = Number(process.env.ARCHIVE_ENTITIES ?? 50_000);
const ROWS = 2 * ENTITIES; // per part: every entity frozen, then active again
const PAUSE_MS = Number(process.env.ARCHIVE_PAUSE_MS ?? 20);
const C = 8;
const PHASE_S = Number(process.env.ARCHIVE_PHASE_S ?? 5);
const ORIGIN = 'tally bench-archive';

const base = await dedicatedDatabase('tally_bench_archive');
const pool = new pg.Pool({ connectionString: base.url, max: C + 2 });
const dir = mkdtempSync(join(tmpdir(), 'tally-bench-archive-'));
try {
  const db = postgres(pool);
  const tally = await createTally({ db });
  await tally.migrate();
  await db.exec(`CREATE TABLE resources (id integer PRIMARY KEY, state text NOT NULL,
                   version integer NOT NULL DEFAULT 0, owner text, amount numeric(12, 2) NOT NULL DEFAULT 0);
                 INSERT INTO resources (id, state, owner, amount)
                   SELECT g, 'active', 'owner-' || g, g * 1.5 FROM generate_series(1, ${ENTITIES + 10_000}) g;`);
  const resources = tally.entity('resource', {
    table: 'resources',
    states: { active: ['frozen'], frozen: ['active'] },
  });
  console.log(`archive bench on ${masked(PG_URL)}: ${ROWS} seeded log rows, c=${C}, ${PHASE_S} s phases`);
  const key = generateSealKey();
  const seedPart = async () => {
    const t0 = performance.now();
    for (const to of ['frozen', 'active'] as const) {
      for (let from = 1; from <= ENTITIES; from += 10_000) {
        const keys = Array.from({ length: Math.min(10_000, ENTITIES - from + 1) }, (_, i) => from + i);
        await resources.transition({ keys, to, actor: 'bench:seed' });
      }
    }
    const seeded = since(t0);
    const t1 = performance.now();
    const sealed = await sealOnce(tally, { key, origin: ORIGIN });
    console.log(
      `seeded ${ROWS} log rows in ${round(seeded, 1)} s, sealed (tree ${sealed.treeSize}) in ${round(since(t1), 1)} s`,
    );
    await new Promise((r) => setTimeout(r, 20));
    return new Date();
  };
  const horizon1 = await seedPart();
  const horizon2 = await seedPart();

  // Writers: c=8, each on its own 1,250 keys above the seeded ones, flipping each between active and
  // frozen (its state read back at the start of a phase): one single-key transition at a time.
  const flip = async (until: () => boolean) => {
    const rows = await db.query<{ id: number; state: string }>({
      text: 'SELECT id, state FROM resources WHERE id > $1',
      values: [ENTITIES],
    });
    const state = new Map(rows.map((r) => [r.id, r.state]));
    let n = 0;
    let worst = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: C }, async (_, w) => {
        let i = 0;
        while (!until()) {
          const k = ENTITIES + 1 + w * 1250 + (i % 1250);
          const to = state.get(k) === 'active' ? 'frozen' : 'active';
          const s = performance.now();
          await resources.transition({ keys: [k], to, actor: 'bench:writer' });
          worst = Math.max(worst, performance.now() - s);
          state.set(k, to);
          i++;
          n++;
        }
      }),
    );
    return { n, s: since(t), worstMs: worst };
  };
  const timedPhase = (s: number) => {
    const end = performance.now() + s * 1000;
    return flip(() => performance.now() >= end);
  };

  const before = await timedPhase(PHASE_S);
  console.log(
    `without archival:   ${Math.round(before.n / before.s)} transitions/s (worst ${Math.round(before.worstMs)} ms)`,
  );
  const withArchival = async (before: Date, pauseMs: number, label: string) => {
    let done = false;
    const archiving = (async () => {
      const t = performance.now();
      const r = await archiveLog(tally, {
        origin: ORIGIN,
        dir,
        before,
        rowsPerFile: 20_000,
        chunk: 1000,
        pauseMs,
      });
      done = true;
      return { r, s: since(t) };
    })();
    const w = await flip(() => done);
    const a = await archiving;
    console.log(
      `${label.padEnd(19)} ${Math.round(w.n / w.s)} transitions/s (worst ${Math.round(w.worstMs)} ms); archived ${a.r.rowsDeleted} rows in ${a.r.ranges.length} files in ${round(a.s, 1)} s (${Math.round(a.r.rowsDeleted / a.s)} rows/s), stopped: ${a.r.stop}`,
    );
    return { w, a };
  };
  const full = await withArchival(horizon1, 0, 'while archiving:');
  const paced = await withArchival(horizon2, PAUSE_MS, `archiving, ${PAUSE_MS} ms pauses:`);
  const after = await timedPhase(PHASE_S);
  console.log(
    `without archival:   ${Math.round(after.n / after.s)} transitions/s (worst ${Math.round(after.worstMs)} ms)`,
  );
  const without = (before.n + after.n) / (before.s + after.s);
  const rate = (x: { w: { n: number; s: number } }) => x.w.n / x.w.s;
  console.log(
    JSON.stringify({
      bench: 'archive',
      c: C,
      seeded_rows: 2 * ROWS,
      without_archive_c8_per_s: Math.round(without),
      with_archive_c8_per_s: Math.round(rate(full)),
      with_vs_without: round(rate(full) / without, 3),
      paced_pause_ms: PAUSE_MS,
      with_paced_archive_c8_per_s: Math.round(rate(paced)),
      paced_vs_without: round(rate(paced) / without, 3),
      worst_ms_without: Math.round(Math.max(before.worstMs, after.worstMs)),
      worst_ms_with: Math.round(full.w.worstMs),
      worst_ms_paced: Math.round(paced.w.worstMs),
      archive_rows_per_s: Math.round(full.a.r.rowsDeleted / full.a.s),
      paced_archive_rows_per_s: Math.round(paced.a.r.rowsDeleted / paced.a.s),
      archived_rows: full.a.r.rowsDeleted + paced.a.r.rowsDeleted,
      archive_files: full.a.r.ranges.length + paced.a.r.ranges.length,
      loadavg_1m: round(loadavg()[0]!, 2),
    }),
  );
} finally {
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
  await base.drop();
}
