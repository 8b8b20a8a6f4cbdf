import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConsumer } from '../../src/feed/index.js';
import { createTally } from '../../src/tally.js';
import {
  freshMariadb,
  freshPostgres,
  mariadbAvailable,
  postgresAvailable,
  type TestDatabase,
} from '../support/databases.js';
import { runUntilKilled } from '../support/kill-child.js';

const CHILD = fileURLToPath(new URL('./fixtures/consume-child.ts', import.meta.url));
const BATCH = 100;
const LEASE_MS = 1_500;

/** Starts the child consumer and SIGKILLs it after `killAfter` handled batches. */
function runAndKill(cfg: object, killAfter: number) {
  return runUntilKilled(CHILD, cfg, (msg) => (msg as { batches: number }).batches >= killAfter);
}

/** The few statements that differ per server: tables, recording a batch, the final count. */
const SQL = {
  postgres: {
    setup: `CREATE TABLE acct (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO acct SELECT g, 'open', 0 FROM generate_series(1, 2000) g;
      CREATE TABLE delivered (entry_id int8 NOT NULL, pid int NOT NULL);`,
    record: (ids: string[]) => ({
      text: 'INSERT INTO delivered (entry_id, pid) SELECT unnest($1::int8[]), 0',
      values: [ids],
    }),
    log: 'tally.log',
  },
  mariadb: {
    setup: `CREATE TABLE acct (id INT PRIMARY KEY, state VARCHAR(16) NOT NULL, version INT NOT NULL DEFAULT 0);
      INSERT INTO acct (id, state) SELECT seq, 'open' FROM seq_1_to_2000;
      CREATE TABLE delivered (entry_id BIGINT NOT NULL, pid INT NOT NULL);`,
    record: (ids: string[]) => ({
      text: 'INSERT INTO delivered (entry_id, pid) VALUES ?',
      values: [ids.map((id) => [id, 0])],
    }),
    log: 'tally_log',
  },
};

// The checkpoint lives in the database: a consumer process killed mid-stream is replaced by another
// (here: this process, as a standby waiting out the dead one's lease) that resumes from the last
// checkpoint. Nothing is skipped; only the batch in hand when the kill landed, and the one whose
// checkpoint was being written meanwhile (run() pipelines, decision 0047), can come twice.
for (const [dialect, available, fresh] of [
  ['postgres', postgresAvailable, () => freshPostgres(6)],
  ['mariadb', mariadbAvailable, () => freshMariadb(6)],
] as const) {
  describe.skipIf(!available)(`consumer restart in a new process [${dialect}]`, () => {
    let t: TestDatabase;
    const sql = SQL[dialect];
    beforeAll(async () => {
      t = await fresh();
    });
    afterAll(() => t.close());

    it('SIGKILL mid-stream, restart elsewhere: every entry delivered, at most two batches twice', async () => {
      await t.db.exec(sql.setup);
      const tally = await createTally({ db: t.db });
      await tally.migrate();
      const acct = tally.entity('acct', { table: 'acct', states: { open: ['closed'], closed: [] } });
      await acct.transition({
        keys: Array.from({ length: 2000 }, (_, i) => i + 1),
        to: 'closed',
        actor: 'seed',
      });

      const cfg = { url: t.url, name: 'restart-proc', batchSize: BATCH, leaseMs: LEASE_MS, dialect };
      const killed = await runAndKill(cfg, 6);
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const c = await openConsumer(tally, 'restart-proc', {
        batchSize: BATCH,
        leaseMs: LEASE_MS,
        pollMs: 50,
      });
      const before = await c.position();
      expect(before.afterId).not.toBeNull(); // the child stopped inside the 2,000-entry window

      const ac = new AbortController();
      const started = Date.now();
      const running = c.run(
        async ({ entries }) => {
          await t.db.query(sql.record(entries.map((e) => e.id)));
        },
        { signal: ac.signal },
      );
      while ((await c.lag()).entries > 0 && Date.now() - started < 20_000)
        await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await running;

      const [r] = await t.db.query<Record<string, number>>({
        text: `SELECT
          (SELECT COUNT(DISTINCT entry_id) FROM delivered) AS distinct_ids,
          (SELECT COUNT(*) FROM ${sql.log}) AS log_rows,
          (SELECT COUNT(*) FROM ${sql.log} l WHERE NOT EXISTS (SELECT 1 FROM delivered d WHERE d.entry_id = l.id)) AS missing,
          (SELECT COUNT(*) FROM (SELECT entry_id FROM delivered GROUP BY entry_id HAVING COUNT(*) > 1) x) AS twice,
          (SELECT COUNT(*) FROM delivered WHERE pid = 0) AS by_successor`,
      });
      const n = (k: string) => Number(r![k]);
      expect(n('missing')).toBe(0);
      expect(n('distinct_ids')).toBe(n('log_rows'));
      expect(n('log_rows')).toBe(2000);
      expect(n('twice')).toBeLessThanOrEqual(2 * BATCH);
      expect(n('by_successor')).toBeGreaterThan(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(LEASE_MS - 200); // it waited out the dead lease
    }, 60_000);
  });
}
