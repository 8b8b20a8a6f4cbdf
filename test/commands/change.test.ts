import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { openConsumer } from '../../src/feed/consumer.js';
import type { FeedEntry } from '../../src/feed/types.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, recording } from '../support/resources.js';
import { debitFixture } from './support/debit.js';

const code = (err: unknown) => (isTallyError(err) ? err.code : String(err));

describeEachDialect('commands: change commands (one statement)', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('runs as one statement; a duplicate submit returns the recorded result and changes nothing', async () => {
    const rec = recording(t.db);
    const fx = await debitFixture(rec.db, 'dup', [[1, 100]]);
    await fx.debit.submit({ key: 'warm', principal: 'u1', input: { account: 1, amount: 0 } });
    rec.statements.length = 0;
    const first = await fx.debit.submit({ key: 'k1', principal: 'u1', input: { account: 1 } });
    expect(rec.statements).toHaveLength(1);
    expect(first).toMatchObject({
      status: 'succeeded',
      replayed: false,
      attempts: 0,
      result: { entity: fx.table, key: 1, version: 2, values: { points: 90 } },
    });
    for (let i = 0; i < 3; i++) {
      const again = await fx.debit.submit({ key: 'k1', principal: 'u1', input: { amount: 10, account: 1 } });
      expect(again).toEqual({ ...first, replayed: true });
    }
    expect(await fx.points(1)).toBe(90);
    expect(await fx.debits()).toBe(1);
    // `get` and the timeline read it like any finished command, with the general path's events.
    expect(await fx.debit.get({ key: 'k1', principal: 'u1' })).toEqual({ ...first, replayed: true });
    const tl = (await fx.debit.timeline({ key: 'k1', principal: 'u1' }))!;
    expect(tl.command).toMatchObject({
      status: 'succeeded',
      stepIndex: 1,
      outputs: { change: first.result },
    });
    expect(tl.events.map((e) => [e.kind, e.step])).toEqual([
      ['submitted', null],
      ['step_done', 'change'],
      ['succeeded', null],
    ]);
    expect(tl.events[2]!.data).toEqual({ result: first.result });
    // An amount of 0 changes nothing: succeeded, no log row (as entity.update of equal values).
    expect((await fx.debit.get({ key: 'warm', principal: 'u1' }))!.result).toMatchObject({ version: 1 });
    // Another principal's key is another command.
    const other = await fx.debit.submit({ key: 'k1', principal: 'u2', input: { account: 1 } });
    expect(other).toMatchObject({ replayed: false, status: 'succeeded' });
    expect(other.id).not.toBe(first.id);
    expect(await fx.points(1)).toBe(80);
  });

  it('8 concurrent submits with one key make one effect, one log row, and all answer its result', async () => {
    const fx = await debitFixture(t.db, 'c8', [[1, 100]]);
    const all = await Promise.all(
      Array.from({ length: 8 }, () =>
        fx.debit.submit({ key: 'same', principal: 'u1', input: { account: 1 } }),
      ),
    );
    expect(new Set(all.map((r) => r.id)).size).toBe(1);
    expect(all.filter((r) => !r.replayed)).toHaveLength(1);
    for (const r of all) expect(r).toMatchObject({ status: 'succeeded', result: { values: { points: 90 } } });
    expect(await fx.points(1)).toBe(90);
    expect(await fx.debits()).toBe(1);
    expect(await fx.commands()).toBe(1);
    expect(await fx.events()).toBe(3);
  });

  it('same key, different key parameters: IDEMPOTENCY_KEY_REUSED and nothing is written', async () => {
    const fx = await debitFixture(t.db, 'reuse', [
      [1, 100],
      [2, 100],
    ]);
    await fx.debit.submit({ key: 'k', principal: 'u1', input: { account: 1 } });
    const before = [await fx.commands(), await fx.events(), await fx.debits()];
    for (const input of [{ account: 2 }, { account: 1, amount: 20 }]) {
      const err = await fx.debit.submit({ key: 'k', principal: 'u1', input }).catch((e: unknown) => e);
      expect(code(err)).toBe('IDEMPOTENCY_KEY_REUSED');
    }
    expect([await fx.commands(), await fx.events(), await fx.debits()]).toEqual(before);
    expect([await fx.points(1), await fx.points(2)]).toEqual([90, 100]);
  });

  it('a guard that fails records a definite failure: no change, no log row, a retry returns the same failure', async () => {
    const fx = await debitFixture(t.db, 'guard', [[1, 15]]);
    expect(await fx.debit.submit({ key: 'a', principal: 'u1', input: { account: 1 } })).toMatchObject({
      status: 'succeeded',
    });
    const failed = await fx.debit.submit({ key: 'b', principal: 'u1', input: { account: 1 } });
    expect(failed).toMatchObject({
      status: 'failed',
      replayed: false,
      result: null,
      error: {
        step: 'change',
        reason: 'insufficient_points',
        details: { entity: fx.table, key: 1, values: { points: 5 } },
      },
    });
    expect(await fx.points(1)).toBe(5);
    expect(await fx.debits()).toBe(1);
    const tl = (await fx.debit.timeline({ id: failed.id }))!;
    expect(tl.events.map((e) => [e.kind, e.step])).toEqual([
      ['submitted', null],
      ['failed', 'change'],
    ]);
    // The points come back; the recorded failure stays the answer for that key.
    await fx.entity.update({ key: 1, set: { points: 500 }, actor: 'ops' });
    expect(await fx.debit.submit({ key: 'b', principal: 'u1', input: { account: 1 } })).toEqual({
      ...failed,
      replayed: true,
    });
    expect(await fx.points(1)).toBe(500);
    // A missing row is a definite failure too.
    const missing = await fx.debit.submit({ key: 'c', principal: 'u1', input: { account: 99 } });
    expect(missing).toMatchObject({ status: 'failed', error: { reason: 'not_found', details: { key: 99 } } });
  });

  it('its log rows are the ones a step with entity.update writes: same fields, same hash, one chain', async () => {
    // Two databases, the same clock and command ids: one runs the change command, the other the same
    // debit as a JavaScript step (lock, check, entity.update). Their logs must be identical.
    const other = await fresh();
    try {
      const at = new Date('2026-01-02T03:04:05.678Z');
      const cmdIds = ['0190e4a1-0000-7000-8000-000000000001', '0190e4a1-0000-7000-8000-000000000002'];
      const seq = (list: string[]) => {
        let i = 0;
        return () => list[i++] ?? `0190e4a1-0000-7000-8000-${String(100 + i).padStart(12, '0')}`;
      };
      const a = await debitFixture(t.db, 'same', [[1, 100]], { clock: () => at, ids: seq([...cmdIds]) });
      const b = await debitFixture(other.db, 'same', [[1, 100]], {
        clock: () => at,
        // The general path takes a lease-owner id before each command id.
        ids: seq([
          '0190e4a1-0000-7000-8000-0000000000f1',
          cmdIds[0]!,
          '0190e4a1-0000-7000-8000-0000000000f2',
          cmdIds[1]!,
        ]),
      });
      const js = b.tally.command<{ account: number }>('debit_js', {
        fingerprint: (i) => ({ account: i.account }),
        steps: [
          {
            name: 'change',
            async run(ctx) {
              const [r] = await ctx.tx.query<{ points: string }>({
                text: `SELECT points FROM ${b.table} WHERE id = $1 FOR UPDATE`,
                values: [ctx.input.account],
              });
              const points = Number(r!.points);
              if (points < 10) ctx.fail('insufficient_points');
              await b.entity.update({
                key: ctx.input.account,
                set: { points: points - 10 },
                action: 'debit',
                ...ctx.write,
              });
            },
          },
        ],
      });
      for (const key of ['k1', 'k2']) {
        const x = await a.debit.submit({ key, principal: 'u1', input: { account: 1 } });
        const y = await js.submit({ key, principal: 'u1', input: { account: 1 } });
        expect(x.id).toBe(y.id);
      }
      // entity.update after the change command's rows: the chain continues across both writers.
      await a.entity.update({ key: 1, set: { note: 'checked' }, actor: 'ops' });
      await b.entity.update({ key: 1, set: { note: 'checked' }, actor: 'ops' });
      const logOf = (db: typeof t.db) =>
        db.query({
          text: `SELECT entity_type, entity_key, version, action, actor, source_ip, reason, request_id, command_id,
                        before, after, changed, at, encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
                   FROM tally.log WHERE entity_type = 'acct_same' ORDER BY version`,
        });
      const rows = await logOf(t.db);
      expect(rows).toHaveLength(4);
      expect(rows).toEqual(await logOf(other.db));
      expect(rows[1]).toMatchObject({
        action: 'debit',
        actor: 'u1',
        request_id: 'k1',
        command_id: cmdIds[0],
      });
      expect(await a.entity.verify(1)).toMatchObject({ ok: true, entries: 4 });
      const h = await a.entity.history(1);
      expect(h.map((e) => [e.version, e.action, e.changed])).toEqual([
        [1, 'create', ['id', 'note', 'points', 'state', 'version']],
        [2, 'debit', ['points', 'version']],
        [3, 'debit', ['points', 'version']],
        [4, 'update', ['note', 'version']],
      ]);
    } finally {
      await other.close();
    }
  });

  it('the feed delivers its command events and log row like any command', async () => {
    const fx = await debitFixture(t.db, 'feed', [[1, 100]]);
    const ev = await openConsumer(fx.tally, 'chg-events', { source: 'command_events', start: 'now' });
    const lg = await openConsumer(fx.tally, 'chg-log', { source: 'log', start: 'now' });
    const r = await fx.debit.submit({ key: 'f1', principal: 'u1', input: { account: 1 } });
    const got: FeedEntry[] = [];
    while ((await ev.once(async ({ entries }) => void got.push(...entries))) > 0) {}
    while ((await lg.once(async ({ entries }) => void got.push(...entries))) > 0) {}
    expect(
      got.map((e) =>
        e.source === 'command_events'
          ? [e.entry.command_id, e.entry.command_type, e.entry.kind]
          : [e.entry.command_id, e.entry.entity_type, e.entry.action],
      ),
    ).toEqual([
      [r.id, 'debit_feed', 'submitted'],
      [r.id, 'debit_feed', 'step_done'],
      [r.id, 'debit_feed', 'succeeded'],
      [r.id, 'acct_feed', 'debit'],
    ]);
  });

  it('without the fast path (a failover store) the same change runs as the step of the general path', async () => {
    const secondary = await fresh();
    try {
      const s = await createTally({ db: secondary.db });
      await s.migrate();
      const fx = await debitFixture(t.db, 'gen', [[1, 15]]);
      const gen = fx.tally.command<{ account: number }>('debit_gen2', {
        fingerprint: (i) => ({ account: i.account }),
        failover: { db: secondary.db },
        change: {
          entity: fx.entity,
          key: (i) => i.account,
          add: { points: -10 },
          guard: { points: { gte: 10 } },
          action: 'debit',
          reason: 'insufficient_points',
        },
      });
      const ok = await gen.submit({ key: 'g1', principal: 'u1', input: { account: 1 } });
      expect(ok).toMatchObject({
        status: 'succeeded',
        result: { entity: fx.table, key: 1, version: 2, values: { points: 5 } },
      });
      const no = await gen.submit({ key: 'g2', principal: 'u1', input: { account: 1 } });
      expect(no).toMatchObject({
        status: 'failed',
        error: { step: 'change', reason: 'insufficient_points', details: { values: { points: 5 } } },
      });
      // And the fast path continues the same chain.
      await fx.entity.update({ key: 1, set: { points: 100 }, actor: 'ops' });
      await fx.debit.submit({ key: 'g3', principal: 'u1', input: { account: 1 } });
      expect(await fx.entity.verify(1)).toMatchObject({ ok: true, entries: 4 });
      expect(await fx.points(1)).toBe(90);
    } finally {
      await secondary.close();
    }
  });

  it('concurrent debits of a few accounts: debits = 10 x succeeded, one log row each, every chain verifies', async () => {
    const accounts: [number, number][] = [
      [1, 100],
      [2, 55],
      [3, 0],
    ];
    const fx = await debitFixture(t.db, 'inv', accounts);
    // A duplicate that arrives while its first submit runs on the general path (after losing a race for
    // the row) is answered COMMAND_IN_FLIGHT (waitMs 0, HTTP 409): a client retries it, and so does this.
    const submit = async (input: { key: string; principal: string; input: { account: number } }) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await fx.debit.submit(input);
        } catch (err) {
          if (!isTallyError(err, 'COMMAND_IN_FLIGHT') || attempt >= 200) throw err;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    };
    const results = await Promise.all(
      Array.from({ length: 48 }, (_, i) =>
        submit({ key: `k${i % 40}`, principal: 'u1', input: { account: 1 + ((i % 40) % 3) } }),
      ),
    );
    const byId = new Map(results.map((r) => [r.id, r]));
    expect(byId.size).toBe(40);
    const succeeded = [...byId.values()].filter((r) => r.status === 'succeeded');
    expect(succeeded.length + [...byId.values()].filter((r) => r.status === 'failed').length).toBe(40);
    const now = [await fx.points(1), await fx.points(2), await fx.points(3)];
    const debited = accounts.reduce((s, [, p], i) => s + p - now[i]!, 0);
    expect(debited).toBe(10 * succeeded.length);
    expect(succeeded.length).toBe(10 + 5); // account 1: 100 -> 0 needs 14 keys, it gets 14: at most 10 fit
    expect(await fx.debits()).toBe(succeeded.length);
    expect(
      await count(
        t.db,
        `SELECT 1 FROM tally.commands WHERE type = 'debit_inv' AND (attempts <> 0 OR status NOT IN ('succeeded', 'failed'))`,
      ),
    ).toBe(0);
    for (const [id] of accounts) expect(await fx.entity.verify(id)).toMatchObject({ ok: true });
  });
});

describeEachDialect('commands: change command declarations are checked', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('refuses bad declarations with typed errors, before anything is written', async () => {
    const fx = await debitFixture(t.db, 'decl', [[1, 100]]);
    const declare = (change: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      try {
        fx.tally.command(`bad_${Math.random().toString(36).slice(2, 8)}`, {
          fingerprint: (i: unknown) => i,
          change: { entity: fx.entity, key: (i: { account: number }) => i.account, ...change },
          ...extra,
        } as never);
        return 'accepted';
      } catch (err) {
        return code(err);
      }
    };
    expect(declare({ add: { points: -1 } })).toBe('accepted');
    expect(declare({})).toBe('INVALID_COMMAND'); // nothing to change
    expect(declare({ add: { 'points"; DROP TABLE x; --': -1 } })).toBe('INVALID_COMMAND');
    expect(declare({ set: { 'note or 1=1': 'x' } })).toBe('INVALID_COMMAND');
    expect(declare({ add: { points: -1 }, guard: { 'points)': { gte: 1 } } })).toBe('INVALID_COMMAND');
    expect(declare({ add: { version: 1 } })).toBe('INVALID_COMMAND');
    expect(declare({ set: { state: 'closed' } })).toBe('INVALID_COMMAND');
    expect(declare({ add: { points: 'ten' } })).toBe('INVALID_COMMAND_INPUT');
    expect(declare({ add: { points: -1 }, set: { points: 3 } })).toBe('INVALID_COMMAND');
    expect(declare({ add: { points: -1 }, guard: { points: { above: 1 } } })).toBe('INVALID_COMMAND');
    expect(declare({ add: { points: -1 }, action: 'de bit' })).toBe('INVALID_COMMAND');
    expect(declare({ add: { points: -1 }, entity: { name: 'x' } })).toBe('INVALID_COMMAND');
    expect(declare({ add: { points: -1 }, key: 7 })).toBe('INVALID_COMMAND');
    expect(declare({ add: { points: -1 } }, { steps: [] })).toBe('INVALID_COMMAND');
    // How submits share statements (decision 0026).
    expect(declare({ add: { points: -1 } }, { batch: false })).toBe('accepted');
    expect(declare({ add: { points: -1 } }, { batch: { statements: 4, size: 16 } })).toBe('accepted');
    for (const batch of [true, 0, 'x', [], { statements: 0 }, { size: 129 }, { size: 2.5 }, { lanes: 2 }]) {
      expect(declare({ add: { points: -1 } }, { batch })).toBe('INVALID_COMMAND');
    }
    // An entity of another Tally instance.
    const other = await createTally({ db: t.db });
    const foreign = other.entity('acct_decl', { table: 'acct_decl', states: { open: [] } });
    expect(declare({ add: { points: -1 }, entity: foreign })).toBe('INVALID_COMMAND');

    // Checked against the table on first use: unknown columns and non-numeric adds; nothing written.
    const firstUse = async (change: Record<string, unknown>) => {
      const name = `chk_${Math.random().toString(36).slice(2, 8)}`;
      const c = fx.tally.command(name, {
        fingerprint: (i: unknown) => i,
        change: { entity: fx.entity, key: (i: { account: number }) => i.account, ...change },
      } as never);
      const err = await c
        .submit({ key: 'k', principal: 'u1', input: { account: 1 } })
        .catch((e: unknown) => e);
      expect(await count(t.db, `SELECT 1 FROM tally.commands WHERE type = $1`, [name])).toBe(0);
      return code(err);
    };
    expect(await firstUse({ add: { nope: 1 } })).toBe('COLUMN_NOT_FOUND');
    expect(await firstUse({ add: { points: 1 }, guard: { nope: 1 } })).toBe('COLUMN_NOT_FOUND');
    expect(await firstUse({ add: { note: 1 } })).toBe('INVALID_COMMAND');
    expect(await firstUse({ set: { points: 1 }, guard: { note: { gte: 1 } } })).toBe('INVALID_COMMAND');
    // Values from the input are checked per submit: a fractional amount for an integer column.
    expect(await firstUse({ add: { points: (i: { account: number }) => i.account / 2 } })).toBe(
      'INVALID_COMMAND_INPUT',
    );
    expect(await firstUse({ add: { points: 1 }, key: () => 'not-an-int' })).toBe('INVALID_KEY');
    expect(await fx.points(1)).toBe(100);
    expect(await fx.debits()).toBe(0);
  });

  it('text keys and numeric columns: decimal amounts from the input, exact to the cent', async () => {
    await t.db.exec(`CREATE TABLE wallets (code text PRIMARY KEY, state text NOT NULL DEFAULT 'open',
      version integer NOT NULL DEFAULT 0, "Balance" numeric(12, 2) NOT NULL)`);
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    const wallets = tally.entity('wallet', { table: 'wallets', key: 'code', states: { open: [] } });
    await wallets.create({ rows: [{ code: 'w-1', state: 'open', Balance: '10.00' }], actor: 'seed' });
    const pay = tally.command<{ wallet: string; amount: string }>('pay', {
      fingerprint: (i) => i,
      change: {
        entity: wallets,
        key: (i) => i.wallet,
        add: { Balance: (i) => `-${i.amount}` },
        guard: { Balance: { gte: (i) => i.amount } },
      },
    });
    const ok = await pay.submit({ key: 'p1', principal: 'u1', input: { wallet: 'w-1', amount: '2.55' } });
    expect(ok).toMatchObject({ status: 'succeeded', result: { key: 'w-1', values: { Balance: 7.45 } } });
    const no = await pay.submit({ key: 'p2', principal: 'u1', input: { wallet: 'w-1', amount: '7.46' } });
    expect(no).toMatchObject({ status: 'failed', error: { reason: 'guard_failed' } });
    expect(await wallets.verify('w-1')).toMatchObject({ ok: true, entries: 2 });
    expect((await wallets.history('w-1'))[1]).toMatchObject({
      action: 'update',
      changed: ['Balance', 'version'],
    });
  });

  it('set and eq guards: sets columns like entity.update and checks text equality', async () => {
    const fx = await debitFixture(t.db, 'set', [[1, 100]]);
    const note = fx.tally.command<{ account: number; note: string }>('note_set', {
      fingerprint: (i) => i,
      change: {
        entity: fx.entity,
        key: (i) => i.account,
        set: { note: (i) => i.note },
        add: { points: 1 },
        guard: { state: 'open', points: { lt: 102 } },
        action: 'annotate',
      },
    });
    expect(
      await note.submit({ key: 'n1', principal: 'u1', input: { account: 1, note: "it's" } }),
    ).toMatchObject({
      status: 'succeeded',
      result: { values: { note: "it's", points: 101, state: 'open' } },
    });
    expect(await note.submit({ key: 'n2', principal: 'u1', input: { account: 1, note: 'b' } })).toMatchObject(
      {
        status: 'succeeded',
      },
    );
    expect(await note.submit({ key: 'n3', principal: 'u1', input: { account: 1, note: 'c' } })).toMatchObject(
      {
        status: 'failed',
        error: { reason: 'guard_failed', details: { values: { points: 102, note: 'b' } } },
      },
    );
    await fx.entity.transition({ key: 1, to: 'closed', actor: 'ops' });
    await fx.entity.update({ key: 1, set: { points: 0 }, actor: 'ops' });
    expect(await note.submit({ key: 'n4', principal: 'u1', input: { account: 1, note: 'd' } })).toMatchObject(
      {
        status: 'failed',
        error: { reason: 'guard_failed', details: { values: { state: 'closed' } } },
      },
    );
    expect(await fx.entity.verify(1)).toMatchObject({ ok: true, entries: 5 });
  });
});
