import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimCommandSql } from '../../src/commands/sql.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { testClock } from './support/redeem.js';

// The first local step after the record runs without locking the command row first; its save applies
// only if the row still has the submitter's lease, status and step (docs/decisions/0024). A takeover
// needs a second connection while the step's transaction is open, so this runs on PostgreSQL.
describe.skipIf(!postgresAvailable)('the first step after the record [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(4);
  });
  afterAll(() => t.close());

  async function fixture(prefix: string) {
    const clock = testClock();
    await t.db.exec(`CREATE TABLE ${prefix}_accounts (id text PRIMARY KEY, state text NOT NULL DEFAULT 'open',
                       version integer NOT NULL DEFAULT 0, points integer NOT NULL);
                     INSERT INTO ${prefix}_accounts (id, points) VALUES ('u1', 100)`);
    const tally = await createTally({ db: t.db, clock: clock.now });
    await tally.migrate();
    const accounts = tally.entity(`${prefix}_account`, {
      table: `${prefix}_accounts`,
      states: { open: ['closed'], closed: [] },
    });
    const fx = { runs: 0, intrude: false };
    const debit = tally.command<{ user: string }>(`${prefix}_debit`, {
      fingerprint: (i) => ({ user: i.user }),
      leaseMs: 10_000,
      steps: [
        {
          name: 'debit',
          async run(ctx) {
            fx.runs++;
            const [a] = await ctx.tx.query<{ points: number }>({
              text: `SELECT points FROM ${prefix}_accounts WHERE id = $1 FOR UPDATE`,
              values: [ctx.input.user],
            });
            await accounts.update({ key: ctx.input.user, set: { points: a!.points - 10 }, ...ctx.write });
            if (fx.intrude) {
              fx.intrude = false;
              // The step outlives its lease and another attempt claims the command meanwhile (the row
              // is not locked yet, so the claim goes through at once, on another connection).
              clock.advance(20_000);
              const now = clock.now();
              const [claimed] = await t.db.query(
                claimCommandSql('tally', ctx.id, 'intruder', now, new Date(now.getTime() + 10_000)),
              );
              expect(claimed, 'the other attempt took the lease').toBeDefined();
            }
            return { left: a!.points - 10 };
          },
        },
      ],
    });
    const points = async () =>
      Number(
        (
          await t.db.query<{ points: number }>({
            text: `SELECT points FROM ${prefix}_accounts WHERE id = 'u1'`,
          })
        )[0]!.points,
      );
    const logRows = async () =>
      (
        await t.db.query({
          text: `SELECT version FROM tally.log WHERE entity_type = $1 ORDER BY version`,
          values: [`${prefix}_account`],
        })
      ).length;
    return { tally, debit, fx, clock, points, logRows };
  }

  it('runs the first step with one statement fewer and succeeds', async () => {
    const f = await fixture('fs_ok');
    const r = await f.debit.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    expect(r).toMatchObject({ status: 'succeeded', result: { left: 90 } });
    expect(await f.points()).toBe(90);
    expect(await f.logRows()).toBe(1);
  });

  it('keeps nothing of a first step whose command was taken over while it ran', async () => {
    const f = await fixture('fs_moved');
    f.fx.intrude = true;
    const r = await f.debit.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    // The save found another lease owner: the step's transaction (the debit and its log row) rolled back.
    expect(r.status).toBe('pending');
    expect(await f.points()).toBe(100);
    expect(await f.logRows()).toBe(0);
    const [row] = await t.db.query<{ lease_owner: string; step_index: number }>({
      text: `SELECT lease_owner, step_index FROM tally.commands WHERE id = $1::uuid`,
      values: [r.id],
    });
    expect(row).toMatchObject({ lease_owner: 'intruder', step_index: 0 });
    const events = await t.db.query<{ kind: string }>({
      text: `SELECT kind FROM tally.command_events WHERE command_id = $1::uuid ORDER BY id`,
      values: [r.id],
    });
    expect(events.map((e) => e.kind)).toEqual(['submitted']);
    // The intruder's lease runs out too; a worker finishes the command, once.
    f.clock.advance(20_000);
    await f.tally.worker({ id: 'w1' }).runOnce();
    const done = await f.debit.get({ key: 'k1', principal: 'p' });
    expect(done).toMatchObject({ status: 'succeeded', result: { left: 90 } });
    expect(f.fx.runs).toBe(2);
    expect(await f.points()).toBe(90);
    expect(await f.logRows()).toBe(1);
  });
});
