import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/commands/command.js';
import { uuidV7 } from '../../src/commands/failover.js';
import type { Timeline } from '../../src/commands/timeline.js';
import { postgres } from '../../src/db/postgres/index.js';
import type { Executor } from '../../src/db/types.js';
import { isTallyError } from '../../src/errors.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { type TcpProxy, tcpProxy } from '../support/tcp-proxy.js';

// command.timeline() reads the failover store too (decision 0037): a command recorded there while the
// primary was down is visible, and once handed over its timeline shows both stores' records.

type Input = { user: string; qty: number };
const input: Input = { user: 'u1', qty: 1 };
const trail = (t: Timeline) => t.events.map((e) => `${e.store} ${e.kind}`);

/** A pool on `db`'s database through a proxy that can cut it off. */
async function behindProxy(db: TestDatabase): Promise<{ proxy: TcpProxy; pool: pg.Pool; exec: Executor }> {
  const proxy = await tcpProxy();
  const url = new URL(db.url!);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  const pool = new pg.Pool({ connectionString: url.toString(), max: 3, connectionTimeoutMillis: 800 });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return { proxy, pool, exec: postgres(pool) };
}

describe.skipIf(!postgresAvailable)('timeline with a failover store: both stores, each record tagged', () => {
  let primaryDb: TestDatabase;
  let secondaryDb: TestDatabase;
  let primary: Awaited<ReturnType<typeof behindProxy>>;
  let secondary: Awaited<ReturnType<typeof behindProxy>>;
  let tally: Tally;
  let redeem: Command<Input>;
  let t = Date.parse('2026-12-07T10:00:00.000Z');
  const clock = () => new Date(t);

  beforeAll(async () => {
    [primaryDb, secondaryDb] = await Promise.all([freshPostgres(2), freshPostgres(2)]);
    [primary, secondary] = await Promise.all([behindProxy(primaryDb), behindProxy(secondaryDb)]);
    tally = await createTally({ db: primary.exec, clock });
    await tally.migrate();
    await (await createTally({ db: secondaryDb.db })).migrate();
    redeem = tally.command<Input>('fi_redeem', {
      fingerprint: (i) => ({ user: i.user, qty: i.qty }),
      failover: { db: secondary.exec, retryPrimaryMs: 1000 },
      steps: [{ name: 'grant', run: async (ctx) => ({ granted: ctx.input.qty }) }],
    });
  });
  afterAll(async () => {
    await Promise.all([primary?.proxy.close(), secondary?.proxy.close()]);
    await Promise.all([primary?.pool.end().catch(() => {}), secondary?.pool.end().catch(() => {})]);
    await Promise.all([primaryDb?.close(), secondaryDb?.close()]);
  });

  it('a command recorded on the secondary during the outage is visible there, then shows both stores once driven on the primary', async () => {
    primary.proxy.cut('refuse');
    const key = uuidV7(new Date(t + 1)); // minted after the outage began
    const recorded = await redeem.submit({ key, principal: 'u1', input });
    expect(recorded).toMatchObject({ status: 'pending', store: 'secondary' });

    // While the primary is away, the secondary's record is the timeline, and it says so.
    for (const ref of [{ key, principal: 'u1' }, { id: recorded.id }]) {
      const during = (await redeem.timeline(ref))!;
      expect(during).not.toBeNull();
      expect(during.command).toMatchObject({ id: recorded.id, store: 'secondary', status: 'pending' });
      expect(during.stores).toEqual({ primary: 'unavailable', secondary: 'read' });
      expect(during.intake).toMatchObject({ id: recorded.id, handedOverAt: null, handover: null });
      expect(trail(during)).toEqual(['secondary submitted']);
      expect(during.calls).toEqual([]);
    }

    // Recovery: the worker hands it over and drives it on the primary, under the same id.
    primary.proxy.restore();
    t += 2000;
    await tally.worker({ id: 'fi-worker' }).runOnce();
    const after = (await redeem.timeline({ key, principal: 'u1' }))!;
    expect(after.command).toMatchObject({ id: recorded.id, store: 'primary', status: 'succeeded' });
    expect(after.stores).toEqual({ primary: 'read', secondary: 'read' });
    expect(after.intake).toMatchObject({ id: recorded.id, handover: 'moved', primaryId: recorded.id });
    expect(trail(after).slice(0, 4)).toEqual([
      'secondary submitted',
      'primary submitted',
      'secondary handed_over',
      'primary handed_over',
    ]);
    expect(trail(after)).toContain('primary succeeded');
    const times = after.events.map((e) => e.at.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(after.events[0]!.at.getTime()).toBeLessThan(t); // recorded during the outage, before recovery
    expect(after.events.find((e) => e.store === 'secondary' && e.kind === 'handed_over')!.data).toEqual({
      handover: 'moved',
      primaryId: recorded.id,
    });

    // The secondary away: the primary's records, and the timeline says the secondary was not read.
    secondary.proxy.cut('refuse');
    const secondaryDown = (await redeem.timeline({ id: recorded.id }))!;
    expect(secondaryDown.command).toMatchObject({ store: 'primary', status: 'succeeded' });
    expect(secondaryDown.stores).toEqual({ primary: 'read', secondary: 'unavailable' });
    expect(secondaryDown.intake).toBeNull();
    expect(new Set(secondaryDown.events.map((e) => e.store))).toEqual(new Set(['primary']));

    // Both away: a typed error, not a crash or a silent null.
    primary.proxy.cut('refuse');
    const both = await redeem.timeline({ key, principal: 'u1' }).catch((e: unknown) => e);
    expect(isTallyError(both) && both.code).toBe('STORES_UNAVAILABLE');
    primary.proxy.restore();
    secondary.proxy.restore();
  });

  it('a key a peer recorded on the secondary that the primary already had: found by either id, merged', async () => {
    t += 1000;
    const key = uuidV7(clock());
    const first = await redeem.submit({ key, principal: 'u2', input });
    expect(first.status).toBe('succeeded');
    const [fp] = await primaryDb.db.query<{ fingerprint: string }>({
      text: 'SELECT fingerprint FROM tally.commands WHERE id = $1::uuid',
      values: [first.id],
    });
    const [peer] = await secondaryDb.db.query<{ id: string }>({
      text: `INSERT INTO tally.command_intake (id, type, principal, key, fingerprint, params, input, received_at)
             VALUES (gen_random_uuid(), 'fi_redeem', 'u2', $1, $2, '{}', $3::jsonb, $4) RETURNING id::text AS id`,
      values: [key, fp!.fingerprint, JSON.stringify(input), clock()],
    });
    t += 1000;
    await tally.worker({ id: 'fi-worker' }).runOnce();
    for (const ref of [{ id: peer!.id }, { id: first.id }, { key, principal: 'u2' }]) {
      const tl = (await redeem.timeline(ref))!;
      expect(tl.command).toMatchObject({ id: first.id, store: 'primary', status: 'succeeded' });
      expect(tl.intake).toMatchObject({ id: peer!.id, handover: 'merged', primaryId: first.id });
      expect(trail(tl).at(-1)).toBe('secondary handed_over');
      expect(trail(tl)).toContain('secondary submitted');
    }
    expect(await redeem.timeline({ key: 'no-such-key', principal: 'u2' })).toBeNull();
  });
});
