import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { createReadRouter, type ReadRouter } from '../../src/reads/router.js';
import { forcePrimary, isPrimaryForced } from '../../src/reads/scope.js';
import { createTokenCodec } from '../../src/reads/token-codec.js';
import {
  freshReplicated,
  type ReplicatedDatabase,
  replicaAvailable,
  waitCaughtUp,
} from '../support/replica.js';

// Other test files write to the same cluster (the replica replays all of it): lag health is not what
// this file tests, so its bounds are loose enough that load elsewhere never takes the replica out.
const LOOSE = { maxLagMs: 60_000, maxLagBytes: 2 ** 40 };

// pg_is_in_recovery() is true only on the replica: selecting it tells where a statement ran.
const WHERE = { text: 'SELECT pg_is_in_recovery() AS standby' };

describe.skipIf(!replicaAvailable)('read routing over a real primary and streaming replica', () => {
  let db: ReplicatedDatabase;
  let router: ReadRouter;

  beforeAll(async () => {
    db = await freshReplicated();
    await db.primary.query('CREATE TABLE members (id int PRIMARY KEY, level int NOT NULL)');
    await db.primary.query('INSERT INTO members SELECT g, 1 FROM generate_series(1, 100) g');
    await waitCaughtUp(db.primary, db.replica);
    router = await createReadRouter({
      shard: 'db0',
      primary: db.primary,
      replicas: [{ name: 'r1', pool: db.replica }],
      ...LOOSE,
      pollIntervalMs: 50,
    });
  });
  afterAll(async () => {
    await router?.close();
    await db?.close();
  });

  it('sends plain reads to the replica and reports why', async () => {
    router.resetStats();
    const r = await router.execute<{ standby: boolean }>(WHERE);
    expect(r.rows[0]!.standby).toBe(true);
    expect(r.route).toEqual({ target: 'r1', reason: 'REPLICA', statement: 'READ', waitedMs: 0 });
    expect(r.token).toBeNull();
    expect(router.stats().targets).toEqual({ r1: 1 });
  });

  it('sends writes, locking reads, write CTEs and function calls to the primary, with a token', async () => {
    const cases = [
      ['UPDATE members SET level = level + 1 WHERE id = 1 RETURNING pg_is_in_recovery() AS standby', 'WRITE'],
      ['SELECT pg_is_in_recovery() AS standby FROM members WHERE id = 1 FOR UPDATE', 'LOCKING_READ'],
      [
        'WITH u AS (UPDATE members SET level = level + 1 WHERE id = 2 RETURNING id) SELECT pg_is_in_recovery() AS standby FROM u',
        'WRITE_CTE',
      ],
      ["SELECT pg_is_in_recovery() AS standby, nextval('s1')", 'FUNCTION_CALL'],
    ] as const;
    await db.primary.query('CREATE SEQUENCE s1');
    for (const [text, reason] of cases) {
      const r = await router.execute<{ standby: boolean }>({ text });
      // On the replica each of these would fail ("cannot execute ... in a read-only transaction").
      expect({ reason, standby: r.rows[0]!.standby, route: r.route.reason, target: r.route.target }).toEqual({
        reason,
        standby: false,
        route: reason,
        target: 'primary',
      });
      expect(r.token?.positions.db0).toBeTypeOf('bigint');
    }
  });

  it('runs every statement of a transaction on the primary', async () => {
    router.resetStats();
    const { result, token } = await router.transactionWithToken(async (tx) => {
      await tx.query({ text: 'UPDATE members SET level = 42 WHERE id = 3' });
      const seen = await tx.query<{ level: number; standby: boolean }>({
        text: 'SELECT level, pg_is_in_recovery() AS standby FROM members WHERE id = 3',
      });
      return seen[0];
    });
    expect(result).toEqual({ level: 42, standby: false });
    expect(router.stats().targets).toEqual({ primary: 1 });
    expect(router.stats().reasons).toEqual({ TRANSACTION: 1 });
    // The token reads the commit: with it, the read sees 42 whether it waits for the replica or not.
    const r = await router.execute<{ level: number }>(
      { text: 'SELECT level FROM members WHERE id = 3' },
      { token },
    );
    expect(r.rows[0]!.level).toBe(42);
    expect(['TOKEN_WAITED', 'TOKEN_TIMEOUT', 'TOKEN_SATISFIED']).toContain(r.route.reason);
  });

  it('holds the force-primary scope across awaits and never leaks it to a concurrent request', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const scoped = forcePrimary(async () => {
      const seen: boolean[] = [];
      seen.push((await router.execute<{ standby: boolean }>(WHERE)).rows[0]!.standby);
      await gate; // the other request runs meanwhile
      await new Promise((r) => setTimeout(r, 20));
      seen.push((await router.execute<{ standby: boolean }>(WHERE)).rows[0]!.standby);
      await Promise.all(
        [1, 2].map(async () =>
          seen.push((await router.execute<{ standby: boolean }>(WHERE)).rows[0]!.standby),
        ),
      );
      return { seen, forced: isPrimaryForced() };
    });
    const other = (async () => {
      const seen: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        seen.push((await router.execute<{ standby: boolean }>(WHERE)).rows[0]!.standby);
        if (i === 0) release();
        await new Promise((r) => setTimeout(r, 5));
      }
      return { seen, forced: isPrimaryForced() };
    })();
    const [a, b] = await Promise.all([scoped, other]);
    expect(a).toEqual({ seen: [false, false, false, false], forced: true });
    expect(b).toEqual({ seen: [true, true, true], forced: false });
    expect(isPrimaryForced()).toBe(false);
    const forced = await forcePrimary(() => router.execute(WHERE));
    expect(forced.route.reason).toBe('FORCED_PRIMARY');
  });

  it('works as an Executor (query, exec) and reports decisions to onDecision', async () => {
    const seen: string[] = [];
    const r2 = await createReadRouter({
      primary: db.primary,
      replicas: [{ name: 'r1', pool: db.replica }],
      ...LOOSE,
      onDecision: (d) => {
        seen.push(`${d.target}:${d.reason}`);
        throw new Error('a broken hook must not break reads');
      },
    });
    try {
      const rows = await r2.query<{ standby: boolean }>(WHERE);
      expect(rows[0]!.standby).toBe(true);
      await r2.exec('CREATE TABLE IF NOT EXISTS notes (id int)');
      expect(seen).toEqual(['r1:REPLICA', 'primary:UNCLASSIFIED']);
      expect(r2.shard).toBe('main');
    } finally {
      await r2.close();
    }
    await expect(r2.query(WHERE)).rejects.toMatchObject({ code: 'ROUTER_CLOSED' });
  });

  it('reads with a tampered or expired token take the path of no token, without an error', async () => {
    let now = 1_000_000;
    const codec = createTokenCodec({
      secret: 'routing-test-secret-of-32-bytes-or-more',
      ttlMs: 1_000,
      clock: () => now,
    });
    const w = await router.execute({ text: 'UPDATE members SET level = level + 1 WHERE id = 9' });
    const good = codec.encode(w.token!);
    const tampered = `${good.slice(0, -3)}xyz`;
    for (const text of [tampered, 'not-a-token', good]) {
      if (text === good) now += 1_001; // expired
      const { token, status } = codec.decode(text);
      expect(token).toBeNull();
      expect(['tampered', 'malformed', 'expired']).toContain(status);
      const r = await router.execute<{ standby: boolean }>(WHERE, { token });
      expect(r.route.reason).toBe('REPLICA');
      expect(r.rows[0]!.standby).toBe(true);
    }
  });

  it('uses the primary when no replica is configured', async () => {
    const solo = await createReadRouter({ primary: db.primary });
    try {
      const r = await solo.execute<{ standby: boolean }>(WHERE);
      expect(r.route.reason).toBe('NO_REPLICAS');
      expect(r.rows[0]!.standby).toBe(false);
      expect(solo.stats().fallbacks).toBe(1);
    } finally {
      await solo.close();
    }
  });

  it('rejects bad statements and options with stable codes', async () => {
    for (const q of [null, {}, { text: '' }, { text: 'SELECT 1', values: 'x' }]) {
      await expect(router.execute(q as never)).rejects.toMatchObject({ code: 'INVALID_STATEMENT' });
    }
    const bad = [
      {},
      { primary: {} },
      { primary: db.primary, replicas: [{ name: 'primary', pool: db.replica }] },
      { primary: db.primary, replicas: [{ name: 'r 1', pool: db.replica }] },
      {
        primary: db.primary,
        replicas: [
          { name: 'a', pool: db.replica },
          { name: 'a', pool: db.replica },
        ],
      },
      { primary: db.primary, replicas: [{ name: 'a', pool: null }] },
      { primary: db.primary, maxLagMs: 0 },
      { primary: db.primary, tokenWaitMs: 1.5 },
      { primary: db.primary, safeFunctions: ['Bad-Name'] },
      { primary: db.primary, shard: '' },
    ];
    for (const o of bad) {
      const err = await createReadRouter(o as never).catch((e) => e);
      expect(isTallyError(err, 'INVALID_ROUTER_OPTIONS')).toBe(true);
    }
    // A syntax error surfaces as DB_ERROR (it would fail the same way on the primary).
    await expect(router.execute({ text: 'SELECT FROM WHERE' })).rejects.toMatchObject({ code: 'DB_ERROR' });
  });
});
