import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/commands/command.js';
import { healthOf, uuidV7, uuidV7Time } from '../../src/commands/failover.js';
import { isUnreachable } from '../../src/commands/unreachable.js';
import { postgres } from '../../src/db/postgres/index.js';
import type { Executor } from '../../src/db/types.js';
import { isTallyError } from '../../src/errors.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { type TcpProxy, tcpProxy } from '../support/tcp-proxy.js';

type Input = { user: string; qty: number };

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return isTallyError(err) ? err.code : `untyped: ${String(err)}`;
  }
}

describe('unreachable vs answered errors', () => {
  it('connection failures are unreachable; what a server answered is not', () => {
    expect(
      isUnreachable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
    ).toBe(true);
    expect(isUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isUnreachable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isUnreachable(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    expect(isUnreachable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isUnreachable(Object.assign(new Error('could not serialize'), { code: '40001' }))).toBe(false);
    expect(isUnreachable(new Error('Connection terminated', { cause: null }))).toBe(true);
    expect(isUnreachable(new Error('boom'))).toBe(false);
  });

  it('UUIDv7 keys carry their minting time; other keys carry none', () => {
    const at = new Date('2026-03-01T10:00:00.123Z');
    const k = uuidV7(at);
    expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidV7Time(k)?.toISOString()).toBe(at.toISOString());
    expect(uuidV7Time('order-42')).toBeNull();
    expect(uuidV7Time('8c4f2b7e-8e45-4af9-92bf-b80e54836d08')).toBeNull(); // v4: no time
  });
});

describe.skipIf(!postgresAvailable)('failover store: the primary cut off by a TCP proxy', () => {
  let primaryDb: TestDatabase; // direct, for setup and checks
  let secondaryDb: TestDatabase;
  let proxy: TcpProxy;
  let pool: pg.Pool;
  let primary: Executor;
  let tally: Tally;
  let redeem: Command<Input>;
  let t = Date.now();
  const clock = () => new Date(t);
  const downstream = { up: true, issued: new Map<string, number>(), effects: 0, cutAfterIssue: false };

  beforeAll(async () => {
    [primaryDb, secondaryDb] = await Promise.all([freshPostgres(2), freshPostgres(4)]);
    proxy = await tcpProxy();
    const url = new URL(primaryDb.url!);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    pool = new pg.Pool({ connectionString: url.toString(), max: 4, connectionTimeoutMillis: 800 });
    pool.on('error', () => {}); // idle clients killed by the proxy
    // A client checked out by a transaction whose connection dies emits 'error' with nobody listening,
    // which would crash the process: src/db/postgres does not listen yet (reported), so the test does.
    pool.on('connect', (client) => client.on('error', () => {}));
    primary = postgres(pool);
    await primaryDb.db.exec(`CREATE TABLE fo_accounts (id text PRIMARY KEY, state text NOT NULL DEFAULT 'open',
      version integer NOT NULL DEFAULT 0, points integer NOT NULL CHECK (points >= 0));
      INSERT INTO fo_accounts (id, points) VALUES ('u1', 1000);`);
    tally = await createTally({ db: primary, clock });
    await tally.migrate();
    await (await createTally({ db: secondaryDb.db })).migrate();
    const accounts = tally.entity('fo_account', {
      table: 'fo_accounts',
      states: { open: ['closed'], closed: [] },
    });
    redeem = tally.command<Input>('fo_redeem', {
      fingerprint: (i) => ({ user: i.user, qty: i.qty }),
      retry: { maxAttempts: 10, baseMs: 1000, random: () => 0.5 },
      failover: { db: secondaryDb.db, retryPrimaryMs: 5000 },
      steps: [
        {
          name: 'deduct',
          async run(ctx) {
            const [a] = await ctx.tx.query<{ points: number }>({
              text: 'SELECT points FROM fo_accounts WHERE id = $1 FOR UPDATE',
              values: [ctx.input.user],
            });
            await accounts.update({
              key: ctx.input.user,
              set: { points: a!.points - 10 * ctx.input.qty },
              action: 'deduct',
              ...ctx.write,
            });
            return { deducted: 10 * ctx.input.qty };
          },
        },
        {
          name: 'issue',
          call: {
            request: (ctx) => ({ user: ctx.input.user, qty: ctx.input.qty }),
            send: async (_req, meta) => {
              if (!downstream.up) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
              if (!downstream.issued.has(meta.key)) {
                downstream.issued.set(meta.key, ++downstream.effects);
              }
              if (downstream.cutAfterIssue) {
                downstream.cutAfterIssue = false;
                proxy.cut('refuse'); // the primary goes away before the reply is recorded
              }
              return { prize: downstream.issued.get(meta.key) };
            },
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await pool?.end().catch(() => {});
    await Promise.all([primaryDb?.close(), secondaryDb?.close()]);
  });

  const input = { user: 'u1', qty: 1 };
  const points = async () =>
    Number(
      (
        await primaryDb.db.query<{ points: number }>({
          text: "SELECT points FROM fo_accounts WHERE id = 'u1'",
        })
      )[0]!.points,
    );

  it('new commands go to the secondary during the outage; retries of primary keys get COMMAND_OUTCOME_UNKNOWN; the worker finishes both stores after recovery', async () => {
    // Before the outage: one command finished, one in doubt (deducted; the downstream did not answer).
    const kDone = uuidV7(clock());
    expect((await redeem.submit({ key: kDone, principal: 'u1', input })).status).toBe('succeeded');
    downstream.up = false;
    const kDoubt = uuidV7(clock());
    expect((await redeem.submit({ key: kDoubt, principal: 'u1', input })).status).toBe('pending');
    expect(await points()).toBe(980);
    const [fp] = await primaryDb.db.query<{ fingerprint: string }>({
      text: 'SELECT fingerprint FROM tally.commands WHERE key = $1',
      values: [kDone],
    });

    t += 10;
    proxy.cut('refuse');
    // Retries of keys that may live on the primary: typed "retry later", nothing recorded, nothing run.
    expect(await code(redeem.submit({ key: kDoubt, principal: 'u1', input }))).toBe(
      'COMMAND_OUTCOME_UNKNOWN',
    );
    expect(healthOf(primary).downSince).not.toBeNull();
    expect(await code(redeem.submit({ key: kDone, principal: 'u1', input }))).toBe('COMMAND_OUTCOME_UNKNOWN');
    expect(await code(redeem.submit({ key: 'plain-key-1', principal: 'u1', input }))).toBe(
      'COMMAND_OUTCOME_UNKNOWN',
    );
    expect(await code(redeem.get({ key: kDone, principal: 'u1' }))).toBe('COMMAND_OUTCOME_UNKNOWN');

    // New commands (keys minted after the outage began) are recorded on the secondary; nothing runs.
    t += 10;
    const fresh = [uuidV7(clock()), uuidV7(clock()), uuidV7(clock())];
    const intakeIds: string[] = [];
    for (const key of fresh) {
      const r = await redeem.submit({ key, principal: 'u1', input });
      intakeIds.push(r.id);
      expect(r).toMatchObject({
        status: 'pending',
        store: 'secondary',
        replayed: false,
      });
    }
    expect(
      await redeem.submit({ key: fresh[0]!, principal: 'u1', input: { qty: 1, user: 'u1' } }),
    ).toMatchObject({
      status: 'pending',
      store: 'secondary',
      replayed: true,
    });
    expect(
      await code(redeem.submit({ key: fresh[0]!, principal: 'u1', input: { user: 'u1', qty: 2 } })),
    ).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await redeem.get({ key: fresh[1]!, principal: 'u1' })).toMatchObject({
      status: 'pending',
      store: 'secondary',
    });
    // Another principal's view of that key is not u1's record: for u2 it may live on the primary.
    expect(await code(redeem.get({ key: fresh[1]!, principal: 'u2' }))).toBe('COMMAND_OUTCOME_UNKNOWN');

    // A blackholed primary (connect timeout, not a refusal) is unreachable too, once it is tried again.
    proxy.cut('blackhole');
    t += 6000;
    const late = uuidV7(clock());
    const t0 = Date.now();
    expect(await redeem.submit({ key: late, principal: 'u1', input })).toMatchObject({ store: 'secondary' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700); // it did wait for the primary's connect timeout

    // The worker cannot do anything while the primary is away, and says so.
    await expect(tally.worker().runOnce()).rejects.toThrow();

    // A peer that was cut off differently recorded two primary-held keys on the secondary too.
    await secondaryDb.db.query({
      text: `INSERT INTO tally.command_intake (id, type, principal, key, fingerprint, params, input, received_at)
             VALUES (gen_random_uuid(), 'fo_redeem', 'u1', $1, $2, '{}', $4::jsonb, now()),
                    (gen_random_uuid(), 'fo_redeem', 'u1', $3, 'other-params', '{}', $4::jsonb, now())`,
      values: [kDone, fp!.fingerprint, kDoubt, JSON.stringify(input)],
    });
    expect(downstream.effects).toBe(1);
    const constraint = await secondaryDb.db
      .query({
        text: `INSERT INTO tally.command_intake (id, type, principal, key, fingerprint, params, input, received_at)
               VALUES (gen_random_uuid(), 'fo_redeem', 'u1', $1, 'x', '{}', '{}', now())`,
        values: [kDone],
      })
      .catch((e: unknown) => e);
    expect(isUnreachable(constraint)).toBe(false); // a constraint error is an answer, not an outage

    // Recovery. A retry of a secondary-held key hands it over and runs it at once, under the same id.
    proxy.restore();
    downstream.up = true;
    t += 6000;
    const direct = await redeem.submit({ key: fresh[2]!, principal: 'u1', input });
    expect(direct).toMatchObject({ id: intakeIds[2], status: 'succeeded', replayed: true });
    expect(direct.store).toBeUndefined();
    t += 120_000; // the in-doubt command's backoff has passed
    const worker = tally.worker({ id: 'fo-worker' });
    for (let i = 0; i < 5 && (await worker.runOnce()).claimed > 0; i++);

    const intake = await secondaryDb.db.query<{ key: string; handover: string; same: boolean }>({
      text: 'SELECT key, handover, primary_id = id AS same FROM tally.command_intake ORDER BY received_at, key',
    });
    const how = Object.fromEntries(intake.map((r) => [r.key, `${r.handover}${r.same ? '' : '→other'}`]));
    expect(how).toEqual({
      [fresh[0]!]: 'moved',
      [fresh[1]!]: 'moved',
      [fresh[2]!]: 'moved',
      [late]: 'moved',
      [kDone]: 'merged→other',
      [kDoubt]: 'rejected→other',
    });
    const cmds = await primaryDb.db.query<{ key: string; status: string }>({
      text: 'SELECT key, status FROM tally.commands ORDER BY key',
    });
    expect(cmds).toHaveLength(6);
    expect(cmds.every((c) => c.status === 'succeeded')).toBe(true);
    expect(await redeem.get({ key: fresh[0]!, principal: 'u1' })).toMatchObject({ status: 'succeeded' });
    expect(await code(redeem.submit({ key: kDoubt, principal: 'u1', input: { user: 'u1', qty: 2 } }))).toBe(
      'IDEMPOTENCY_KEY_REUSED',
    );

    // Invariants: one deduction and one prize per command, none twice; the account is the fold of its log.
    expect(downstream.effects).toBe(6);
    expect(downstream.issued.size).toBe(6);
    expect(await points()).toBe(1000 - 6 * 10);
    const deducts = await primaryDb.db.query<{ command_id: string; n: number }>({
      text: `SELECT command_id, count(*)::int AS n FROM tally.log WHERE entity_type = 'fo_account' AND action = 'deduct' GROUP BY command_id`,
    });
    expect(deducts).toHaveLength(6);
    expect(deducts.every((d) => Number(d.n) === 1)).toBe(true);
    expect((await tally.getEntity('fo_account').verify('u1')).problems).toEqual([]);
    expect(healthOf(primary).downSince).toBeNull();
  });

  it('a primary lost in the middle of a command answers COMMAND_OUTCOME_UNKNOWN; the worker finishes it with one effect', async () => {
    t += 10_000;
    const key = uuidV7(clock());
    downstream.cutAfterIssue = true;
    const before = downstream.effects;
    const err = await redeem.submit({ key, principal: 'u1', input }).catch((e: unknown) => e);
    expect(isTallyError(err, 'COMMAND_OUTCOME_UNKNOWN')).toBe(true);
    const id = (err as { details: { commandId: string } }).details.commandId;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // While it is away, the retry cannot be answered from the secondary (the key predates the outage).
    t += 10;
    expect(await code(redeem.submit({ key, principal: 'u1', input }))).toBe('COMMAND_OUTCOME_UNKNOWN');
    proxy.restore();
    t += 120_000; // the submitter's lease has run out
    const worker = tally.worker();
    for (let i = 0; i < 5 && (await worker.runOnce()).claimed > 0; i++);
    expect(await redeem.get({ key, principal: 'u1' })).toMatchObject({ id, status: 'succeeded' });
    expect(downstream.effects).toBe(before + 1); // re-sent under the same downstream key: deduped
    expect(await points()).toBe(1000 - 7 * 10);
    expect((await tally.getEntity('fo_account').verify('u1')).problems).toEqual([]);
  });
});
