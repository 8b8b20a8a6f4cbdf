import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { count, RESOURCE_STATES } from '../support/resources.js';

// Real PostgreSQL with a pool of 8 connections: this is where lost updates, duplicate versions and
// deadlocks would show. PGlite has one connection and cannot race.
describe.skipIf(!postgresAvailable)('concurrent overlapping batches [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(16);
  });
  afterAll(() => t.close());

  it('8 overlapping batches: versions contiguous, no lost or duplicate log row, rows equal their fold', async () => {
    const N = 400;
    await t.db.exec(`CREATE TABLE res (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, hits int NOT NULL DEFAULT 0);
      INSERT INTO res SELECT g, 'active', 0, 0 FROM generate_series(1, ${N}) g;`);
    const tally = await createTally({ db: postgres(t.pool!) });
    await tally.migrate();
    const res = tally.entity('res', { table: 'res', states: RESOURCE_STATES });

    // Each worker repeatedly flips an overlapping window of rows (shuffled order, so lock order
    // would differ without Tally's ordering) and bumps a counter field.
    const rounds = 12;
    const worker = async (w: number) => {
      let changed = 0;
      for (let r = 0; r < rounds; r++) {
        const start = ((w * 37 + r * 53) % N) + 1;
        const keys = Array.from({ length: 150 }, (_, i) => ((start + i - 1) % N) + 1).sort(
          () => Math.random() - 0.5,
        );
        const to = (w + r) % 2 === 0 ? 'frozen' : 'active';
        const a = await res.transition({ keys, to, actor: `w${w}`, mode: 'partial' });
        const b = await res.update({
          keys: keys.slice(0, 50),
          set: { hits: w * 1000 + r },
          actor: `w${w}`,
          mode: 'partial',
        });
        changed += a.changed.length + b.changed.length;
      }
      return changed;
    };
    const changed = (await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)))).reduce(
      (a, b) => a + b,
      0,
    );

    const logRows = await count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = 'res'`);
    expect(logRows).toBe(changed); // every reported change has exactly one log row
    expect(await count(t.db, `SELECT sum(version) FROM res HAVING sum(version) = $1`, [changed])).toBe(1);
    // Versions contiguous 1..n per entity, no duplicates, and the row equals the last after image.
    const bad = await t.db.query({
      text: `
      SELECT r.id FROM res r
        LEFT JOIN LATERAL (SELECT count(*) AS n, count(DISTINCT version) AS d, min(version) AS lo, max(version) AS hi
                             FROM tally.log l WHERE l.entity_type = 'res' AND l.entity_key = r.id::text) s ON true
       WHERE s.n <> r.version OR s.d <> s.n OR (s.n > 0 AND (s.lo <> 1 OR s.hi <> r.version))
          OR (s.n > 0 AND to_jsonb(r) IS DISTINCT FROM (SELECT after FROM tally.log l WHERE l.entity_type = 'res'
                AND l.entity_key = r.id::text ORDER BY version DESC LIMIT 1))`,
    });
    expect(bad).toEqual([]);
    for (let id = 1; id <= N; id += 7) {
      const check = await res.verify(id);
      expect(check.problems, `resource ${id}`).toEqual([]);
    }
  });
});
