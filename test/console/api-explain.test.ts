import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CommandFilter, listCommandsSql } from '../../src/http/console/reads/commands-sql.js';
import { migrate } from '../../src/schema/migrate.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

// Decision 0141: every commands list the console asks for is ordered index ranges stopped at the page
// size, never a scan of the table or a sort of it. Shown on 100,000 commands with the planner's statistics.
const BASE: CommandFilter = {
  statuses: null,
  type: null,
  principal: null,
  key: null,
  since: null,
  until: null,
  after: null,
  limit: 50,
};

describe.skipIf(!postgresAvailable)('the commands list plans [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(2);
    await migrate(t.db, 'tally', '"tally"');
    await t.db.exec(`
      INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, status, next_at,
                                  created_at, updated_at)
      SELECT gen_random_uuid(), 't' || (g % 5), 'p' || (g % 1000), 'k' || g, 'f', '{}', '{}',
             (ARRAY['succeeded','succeeded','succeeded','failed','pending','needs_attention','compensating'])[1 + g % 7],
             now(), now() - g * interval '1 second', now()
        FROM generate_series(1, 100000) g;
      ANALYZE tally.commands;`);
  }, 120_000);
  afterAll(() => t?.close());

  const plan = async (f: CommandFilter) => {
    const q = listCommandsSql('"tally"', f);
    const rows = await t.db.query<{ 'QUERY PLAN': string }>({
      text: `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${q.text}`,
      values: q.values,
    });
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  };

  const cases: [string, Partial<CommandFilter>, string][] = [
    ['all statuses', {}, 'commands_status_created'],
    ['one status', { statuses: ['needs_attention'] }, 'commands_status_created'],
    ['a type', { type: 't1' }, 'commands_type_status_created'],
    ['a principal', { principal: 'p7' }, 'commands_principal_status_created'],
    ['a key', { key: 'k77' }, 'commands_key'],
    [
      'the next page',
      { after: ['2026-12-01T00:00:00.000000', '00000000-0000-4000-8000-000000000000'] },
      'commands_status_created',
    ],
    ['received since', { since: new Date(Date.now() - 3_600_000) }, 'commands_status_created'],
  ];
  for (const [name, f, index] of cases) {
    it(`${name}: index ranges on ${index}, no scan or sort of the table`, async () => {
      const p = await plan({ ...BASE, ...f });
      expect(p, p).toContain(index);
      expect(p, p).not.toMatch(/Seq Scan|Bitmap Heap Scan/);
      // A sort, when there is one, is of the branches' few rows (at most statuses x (limit + 1)), never of
      // a table's: every scan under it is an index range with its own LIMIT.
      for (const m of p.matchAll(/rows=(\d+)/g)) expect(Number(m[1]), p).toBeLessThanOrEqual(5 * 51);
    });
  }
});
