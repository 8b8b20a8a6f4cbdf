import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimCommandSql } from '../../src/commands/sql.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { testClock } from './support/redeem.js';

// On PostgreSQL a command's record opens its first local step's transaction (decision 0125): nobody sees
// the command until the step commits, so nobody can take it over mid-step, and a second submit of the
// key waits for the first one's commit and replays it without running the step. Both need a second
// connection while the step's transaction is open, so this runs on PostgreSQL.
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
    let release = () => {};
    let entered = () => {};
    const fx = {
      runs: 0,
      intrude: false,
      claimed: null as boolean | null,
      hold: false,
      holding: new Promise<void>((r) => {
        entered = r;
      }),
      release: () => release(),
    };
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
              // The step outlives its lease and another attempt tries to claim the command meanwhile, on
              // another connection.
              clock.advance(20_000);
              const now = clock.now();
              const [claimed] = await t.db.query(
                claimCommandSql('tally', ctx.id, 'intruder', now, new Date(now.getTime() + 10_000)),
              );
              fx.claimed = claimed !== undefined;
            }
            if (fx.hold) {
              fx.hold = false;
              const go = new Promise<void>((r) => {
                release = r;
              });
              entered();
              await go;
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

  it('nobody can take over a command whose first step is still running: its record is not committed yet', async () => {
    const f = await fixture('fs_moved');
    f.fx.intrude = true;
    const r = await f.debit.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    // The record opened the step's transaction (decision 0125): the other attempt's claim found no row.
    expect(f.fx.claimed).toBe(false);
    expect(r).toMatchObject({ status: 'succeeded', result: { left: 90 } });
    expect(f.fx.runs).toBe(1);
    expect(await f.points()).toBe(90);
    expect(await f.logRows()).toBe(1);
    const events = await t.db.query<{ kind: string }>({
      text: `SELECT kind FROM tally.command_events WHERE command_id = $1::uuid ORDER BY id`,
      values: [r.id],
    });
    expect(events.map((e) => e.kind)).toEqual(['submitted', 'step_done', 'succeeded']);
  });

  it('a double click: the second submit waits for the first record and replays it; its step never runs', async () => {
    const f = await fixture('fs_twice');
    f.fx.hold = true;
    const first = f.debit.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    await f.fx.holding; // the first submit is inside its step, its record uncommitted
    const second = f.debit.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    await new Promise((r) => setTimeout(r, 200));
    f.fx.release();
    const [a, b] = await Promise.all([first, second]);
    expect(a).toMatchObject({ status: 'succeeded', replayed: false, result: { left: 90 } });
    expect(b).toMatchObject({ id: a.id, status: 'succeeded', replayed: true, result: { left: 90 } });
    expect(f.fx.runs).toBe(1);
    expect(await f.points()).toBe(90);
    expect(await f.logRows()).toBe(1);
  });
});
