import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MigrateOptions, migrate } from '../../src/schema/migrate.js';
import { LATEST_VERSION, migrations } from '../../src/schema/migrations.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { resourcesFixture, type Tally } from '../support/resources.js';

const ROWS = 200_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// What takes migration V back to V−1 on a schema at the latest version (so Tally's writers, which need
// the latest schema, keep writing while V is applied again).
const UNDO: Record<number, string> = {
  5: `ALTER TABLE tally.log DROP CONSTRAINT log_entity_version;
      ALTER TABLE tally.log ADD CONSTRAINT log_entity_version UNIQUE (entity_type, entity_key, version);`,
  8: `DROP INDEX tally.command_alerts_by_command; DROP INDEX tally.command_calls_unreconciled;
      ALTER TABLE tally.command_alerts DROP COLUMN resolved_by, DROP COLUMN resolved_reason,
        DROP COLUMN resolved_status;`,
  10: 'DROP TABLE tally.log_chain;',
  11: 'DROP INDEX tally.commands_finished; DROP TABLE tally.log_archives;',
};

// Issue 16, decision 0067: each migration on a large table applied while entity transitions and
// command submits run; the longest latency of each writer (and of a call record's insert) while it applies, blocking (one transaction,
// as before) and online (its steps). Migration 10 also meets a transaction that holds the log for 2.5 s:
// the blocking ALTER queues behind it and every writer queues behind the ALTER.
describe.skipIf(!postgresAvailable)(
  'migrations under concurrent writes: the longest stall [postgres]',
  () => {
    let t: TestDatabase;
    let tally: Tally;
    let transition: (i: number) => Promise<unknown>;
    let submit: (i: number) => Promise<unknown>;

    beforeAll(async () => {
      t = await freshPostgres(12);
      const f = await resourcesFixture(t.db, 1000);
      tally = f.tally;
      transition = (i) =>
        f.resources.transition({
          keys: [1 + (i % 1000)],
          to: i % 2000 < 1000 ? 'frozen' : 'active',
          actor: 'w',
        });
      const cmd = tally.command('stall_submit', {
        fingerprint: (x: { n: number }) => x,
        steps: [{ name: 'one', run: () => 1 }],
      });
      submit = (i) => cmd.submit({ key: `k${i}-${Date.now()}`, principal: 'p', input: { n: i } });
      await t.db.exec(`
      INSERT INTO tally.log (entity_type, entity_key, version, action, actor, changed, at, after)
        SELECT 'seed', g::text, 1, 'create', 'seed', '{state}', now(), jsonb_build_object('state', 'active')
        FROM generate_series(1, ${ROWS}) g;
      INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, status, next_at,
          created_at, updated_at, finished_at)
        SELECT gen_random_uuid(), 'seed', 'p', g::text, 'f', '{}', '{}', 'succeeded', now(), now(), now(), now()
        FROM generate_series(1, ${ROWS}) g;
      INSERT INTO tally.command_calls (command_id, step, downstream_key, request, created_at)
        SELECT id, 'call', key, '{}', now() FROM tally.commands WHERE type = 'seed';
      ANALYZE;`);
    }, 60_000);
    afterAll(() => t?.close());

    /** Applies migration `v` again (undone first) while both writers run; their longest latency in ms. */
    async function stallOf(v: number, opts: MigrateOptions, hold?: number) {
      await t.db.exec(`${UNDO[v]} DELETE FROM tally.migrations WHERE version >= ${v};`);
      let running = true;
      let migrating = false;
      const worst = { transition: 0, submit: 0, call: 0 };
      const writer = async (name: keyof typeof worst, write: (i: number) => Promise<unknown>) => {
        for (let i = 0; running; i++) {
          const start = performance.now();
          await write(i);
          if (migrating) worst[name] = Math.max(worst[name], performance.now() - start);
        }
      };
      // A call step's record, written as the command path writes it (command_calls is what 8 indexes).
      const call = (i: number) =>
        t.db.query({
          text: `INSERT INTO tally.command_calls (command_id, step, downstream_key, request, created_at)
               SELECT id, $1, $1, '{}', now() FROM tally.commands WHERE type = 'seed' AND principal = 'p' AND key = '1'`,
          values: [`w${v}-${opts.online ?? true}-${i}`],
        });
      const writers = [writer('transition', transition), writer('submit', submit), writer('call', call)];
      await sleep(200);
      let holder: pg.Client | undefined;
      if (hold) {
        holder = new pg.Client({ connectionString: t.url! });
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query('SELECT count(*) FROM tally.log WHERE id < 10'); // ACCESS SHARE until COMMIT
        setTimeout(() => void holder!.query('COMMIT').then(() => holder!.end()), hold);
      }
      migrating = true;
      const start = performance.now();
      const r = await migrate(t.db, 'tally', '"tally"', {
        ...opts,
        migrations: migrations.filter((m) => m.version <= v),
      });
      const ms = performance.now() - start;
      await sleep(100);
      migrating = false;
      running = false;
      await Promise.all(writers);
      expect(r.applied).toEqual([v]);
      await t.db.exec(
        migrations
          .filter((m) => m.version > v)
          .map((m) => `INSERT INTO tally.migrations (version, name) VALUES (${m.version}, 'restored');`)
          .join('\n'),
      );
      return {
        migrateMs: Math.round(ms),
        transitionMs: Math.round(worst.transition),
        submitMs: Math.round(worst.submit),
        callMs: Math.round(worst.call),
      };
    }

    for (const v of [5, 8, 11]) {
      it(`migration ${v}: online, no writer waits for the index build`, async () => {
        const blocking = await stallOf(v, { online: false });
        const online = await stallOf(v, {});
        console.log(`migration ${v} (${ROWS} rows) blocking`, blocking, 'online', online);
        const worstBlocking = Math.max(blocking.transitionMs, blocking.submitMs, blocking.callMs);
        const worstOnline = Math.max(online.transitionMs, online.submitMs, online.callMs);
        expect(worstOnline).toBeLessThan(worstBlocking * 0.75);
        expect(worstOnline).toBeLessThan(1000);
      }, 30_000);
    }

    it('migration 10 behind a 2.5 s transaction: online, writers wait at most about one lock_timeout', async () => {
      const blocking = await stallOf(10, { online: false }, 2500);
      const online = await stallOf(10, { lockTimeoutMs: 300, backoffMs: 200 }, 2500);
      console.log('migration 10 behind a 2.5 s reader: blocking', blocking, 'online', online);
      expect(Math.max(blocking.transitionMs, blocking.submitMs)).toBeGreaterThan(2000);
      expect(Math.max(online.transitionMs, online.submitMs)).toBeLessThan(1000);
      expect(online.migrateMs).toBeGreaterThan(2000); // it did wait, in short tries, for the reader to end
    }, 30_000);

    it('the schema is back at the latest version', async () => {
      const [row] = await t.db.query<{ v: number }>({
        text: 'SELECT max(version)::int AS v FROM tally.migrations',
      });
      expect(row!.v).toBe(LATEST_VERSION);
    });
  },
);
