import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, recording } from '../support/resources.js';
import { debitFixture } from './support/debit.js';

const code = (err: unknown) => (isTallyError(err) ? err.code : String(err));
/** The one-statement path's statements (every other statement is the general path's). */
const changeStatements = (texts: readonly string[]) => texts.filter((t) => t.startsWith('WITH req AS'));

// Natural batching (decision 0026). With the default of two statements at a time, of submits started
// together the first two are sent at once, alone, and the rest share the next statement.
describeEachDialect('commands: change commands share statements under load', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('concurrent submits share statements; each gets its own outcome, its own events and its log row', async () => {
    const rec = recording(t.db);
    const fx = await debitFixture(rec.db, 'share', [
      ...Array.from({ length: 10 }, (_, i): [number, number] => [i + 1, 100]),
      [11, 5],
    ]);
    await fx.debit.submit({ key: 'warm', principal: 'u1', input: { account: 1, amount: 0 } });
    rec.statements.length = 0;
    // Ten rows, one guard that fails (account 11 has 5 points), one row that does not exist.
    const inputs = [...Array.from({ length: 11 }, (_, i) => ({ account: i + 1 })), { account: 99 }];
    const results = await Promise.all(
      inputs.map((input, i) => fx.debit.submit({ key: `s${i}`, principal: `p${i % 3}`, input })),
    );
    const statements = changeStatements(rec.statements);
    expect(statements).toHaveLength(rec.statements.length); // nothing took the general path
    // One or two alone (a slot is handed on only after the callers it answered had their turn), then the rest together.
    expect(statements.length).toBeGreaterThanOrEqual(2);
    expect(statements.length).toBeLessThanOrEqual(3);
    for (const [i, r] of results.entries()) {
      expect(r).toMatchObject({ key: `s${i}`, principal: `p${i % 3}`, replayed: false, attempts: 0 });
      if (i < 10) {
        expect(r).toMatchObject({
          status: 'succeeded',
          result: { entity: fx.table, key: i + 1, version: 2, values: { points: 90 } },
        });
      }
    }
    expect(results[10]).toMatchObject({
      status: 'failed',
      error: { step: 'change', reason: 'insufficient_points', details: { values: { points: 5 } } },
    });
    expect(results[11]).toMatchObject({ status: 'failed', error: { reason: 'not_found' } });
    // What each caller was told is what was recorded, and what a retry replays.
    for (const [i, r] of results.entries()) {
      const again = await fx.debit.submit({ key: `s${i}`, principal: `p${i % 3}`, input: inputs[i]! });
      expect(again).toEqual({ ...r, replayed: true });
      const tl = (await fx.debit.timeline({ key: `s${i}`, principal: `p${i % 3}` }))!;
      expect(tl.events.map((e) => e.kind)).toEqual(
        r.status === 'succeeded' ? ['submitted', 'step_done', 'succeeded'] : ['submitted', 'failed'],
      );
    }
    expect(await fx.debits()).toBe(10);
    for (let id = 1; id <= 11; id++) {
      expect(await fx.points(id)).toBe(id <= 10 ? 90 : 5);
      expect(await fx.entity.verify(id)).toMatchObject({ ok: true });
    }
    // Each log row carries its own command's context, as a step's entity.update would write it.
    const [row] = await t.db.query<{ actor: string; request_id: string; command_id: string }>({
      text: `SELECT actor, request_id, command_id FROM tally.log WHERE entity_type = $1 AND entity_key = '7' AND version = 2`,
      values: [fx.table],
    });
    expect(row).toEqual({ actor: 'p0', request_id: 's6', command_id: results[6]!.id });
  });

  it('submits for one row wait for each other instead of racing: all take the one-statement path', async () => {
    const rec = recording(t.db);
    const fx = await debitFixture(rec.db, 'hot', [[1, 1000]]);
    rec.statements.length = 0;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fx.debit.submit({ key: `h${i}`, principal: 'u1', input: { account: 1 } }),
      ),
    );
    for (const r of results) expect(r).toMatchObject({ status: 'succeeded', replayed: false });
    expect(changeStatements(rec.statements)).toHaveLength(12); // one row: one statement each, in turn
    expect(rec.statements).toHaveLength(12);
    expect(results.map((r) => (r.result as { version: number }).version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 2),
    );
    expect(await fx.points(1)).toBe(880);
    expect(await fx.entity.verify(1)).toMatchObject({ ok: true, entries: 13 });
  });

  it('a statement that fails is sent again item by item: only the item that caused it fails', async () => {
    const rec = recording(t.db);
    // Account 3 is one credit away from the largest bigint: crediting it fails in the database.
    const fx = await debitFixture(
      rec.db,
      'isolate',
      [
        [1, 100],
        [2, 100],
        [3, 100],
        [4, 100],
        [5, 100],
      ],
      {},
      { statements: 1 },
    );
    await fx.entity.update({ key: 3, set: { points: '9223372036854775800' }, actor: 'test' });
    rec.statements.length = 0;
    const settled = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((account) =>
        fx.debit.submit({
          key: `i${account}`,
          principal: 'u1',
          input: { account, amount: account === 3 ? -100 : 10 },
        }),
      ),
    );
    // One statement at a time: the first alone; the other four together (that failed); then each alone.
    expect(changeStatements(rec.statements)).toHaveLength(6);
    for (const [i, s] of settled.entries()) {
      if (i === 2) {
        expect(s.status).toBe('rejected');
        expect(code((s as PromiseRejectedResult).reason)).toBe('DB_ERROR');
      } else {
        expect(s).toMatchObject({ status: 'fulfilled', value: { status: 'succeeded', replayed: false } });
      }
    }
    expect(
      await count(t.db, `SELECT 1 FROM tally.commands WHERE type = 'debit_isolate' AND key = 'i3'`),
    ).toBe(0);
    expect(await fx.debits()).toBe(4);
    for (const id of [1, 2, 4, 5]) expect(await fx.points(id)).toBe(90);
    for (let id = 1; id <= 5; id++) expect(await fx.entity.verify(id)).toMatchObject({ ok: true });
  });

  it('batch: false sends every submit in a statement of its own, at once', async () => {
    const rec = recording(t.db);
    const fx = await debitFixture(
      rec.db,
      'single',
      [
        [1, 100],
        [2, 100],
        [3, 100],
        [4, 100],
      ],
      {},
      false,
    );
    rec.statements.length = 0;
    const results = await Promise.all(
      [1, 2, 3, 4].map((account) =>
        fx.debit.submit({ key: `b${account}`, principal: 'u1', input: { account } }),
      ),
    );
    for (const r of results) expect(r).toMatchObject({ status: 'succeeded', replayed: false });
    expect(changeStatements(rec.statements)).toHaveLength(4);
    expect(await fx.debits()).toBe(4);
  });

  it('per-command values stay with their command in a shared statement: set, add and guards', async () => {
    const rec = recording(t.db);
    const fx = await debitFixture(
      rec.db,
      'mixed',
      [1, 2, 3, 4, 5, 6].map((id): [number, number] => [id, 100 + id]),
    );
    const note = fx.tally.command<{ account: number; note: string; plus: number; below: number }>(
      'note_mixed',
      {
        fingerprint: (i) => i,
        change: {
          entity: fx.entity,
          key: (i) => i.account,
          set: { note: (i) => i.note },
          add: { points: (i) => i.plus },
          guard: { state: 'open', points: { lt: (i) => i.below } },
          action: 'annotate',
        },
      },
    );
    rec.statements.length = 0;
    // Account 5's guard fails (105 is not below 105); every other one gets its own note and amount.
    const inputs = [1, 2, 3, 4, 5, 6].map((a) => ({
      account: a,
      note: `n-${a}'`,
      plus: a * 10,
      below: a === 5 ? 105 : 1000,
    }));
    const results = await Promise.all(
      inputs.map((input, i) => note.submit({ key: `m${i}`, principal: 'u1', input })),
    );
    expect(changeStatements(rec.statements).length).toBeLessThan(6);
    for (const [i, r] of results.entries()) {
      const a = i + 1;
      if (a === 5) {
        expect(r).toMatchObject({
          status: 'failed',
          error: { reason: 'guard_failed', details: { values: { points: 105, note: null } } },
        });
        continue;
      }
      expect(r).toMatchObject({
        status: 'succeeded',
        result: { key: a, version: 2, values: { note: `n-${a}'`, points: 100 + a + a * 10, state: 'open' } },
      });
      const [row] = await t.db.query<{ note: string; points: string }>({
        text: `SELECT note, points::text AS points FROM ${fx.table} WHERE id = $1`,
        values: [a],
      });
      expect(row).toEqual({ note: `n-${a}'`, points: String(100 + a + a * 10) });
      expect(await fx.entity.verify(a)).toMatchObject({ ok: true, entries: 2 });
    }
  });

  it("an error that is no one item's (the database gone) answers every item at once, without sending each again", async () => {
    const own = await fresh();
    const rec = recording(own.db);
    const fx = await debitFixture(
      rec.db,
      'gone',
      [1, 2, 3, 4, 5].map((id): [number, number] => [id, 100]),
      {},
      {
        statements: 1,
      },
    );
    await fx.debit.submit({ key: 'warm', principal: 'u1', input: { account: 1, amount: 0 } });
    await own.close();
    rec.statements.length = 0;
    const settled = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((account) =>
        fx.debit.submit({ key: `g${account}`, principal: 'u1', input: { account } }),
      ),
    );
    for (const s of settled) expect(s.status).toBe('rejected');
    // One or two statements (the first alone or not, the others together); none sent again item by item.
    expect(changeStatements(rec.statements).length).toBeLessThanOrEqual(2);
  });
});
