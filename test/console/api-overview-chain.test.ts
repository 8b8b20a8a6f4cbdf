import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { generateSealKey } from '../../src/evidence/index.js';
import { sealOnce } from '../../src/evidence/sealer.js';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { actionHeaders, call } from './support.js';

// The Overview's worker rounds and reconcile results (migration 16) and an entity's chain check
// (GET /api/entities/:type/:key/chain), on one embedded database with a real points chain.
const READ = 'read-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';
const ENTITY = 'oc_account';

let db: Executor;
let fx: RedeemFixture;
let server: ConsoleServer;

beforeAll(async () => {
  db = await pglite();
  fx = await redeemFixture(db, 'oc', { breaker: false });
  // The fixture's clock, a minute before the real time: what the workers record lands in the Overview's
  // window (which ends at the server's now).
  fx.clock.advance(Date.now() - 60_000 - fx.clock.now().getTime());
  server = await startConsoleServer({
    db,
    port: 0,
    consoleDir: null,
    tally: fx.tally,
    readToken: READ,
    operatorToken: OPERATOR,
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await db?.close();
});

const get = (path: string, token: string | null = READ) =>
  call(server.url, path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const sum = (series: Record<string, number>[], field: string) =>
  series.reduce((n, b) => n + (b[field] ?? 0), 0);

describe('Overview: worker rounds', () => {
  it('a worker records the rounds that claimed something (one upsert, none while idle); the Overview adds them up per bucket and per worker', async () => {
    fx.prizes.faults.down = true;
    const first = await fx.redeem.submit({
      key: fx.nextKey(),
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(first.status).toBe('pending');
    const worker = fx.tally.worker({ id: 'worker:oc-1' });
    const writes = async () =>
      Number(
        (
          await db.query<{ n: number }>({
            text: 'SELECT coalesce(sum(rounds), 0)::int AS n FROM tally.worker_rounds',
          })
        )[0]!.n,
      );
    fx.clock.advance(10_000);
    const r1 = await worker.runOnce(); // C still down: the command waits again
    expect(r1.claimed).toBe(1);
    expect(await writes()).toBe(1);
    fx.prizes.faults.down = false;
    fx.clock.advance(10_000);
    const r2 = await worker.runOnce();
    expect(r2.claimed).toBe(1);
    expect(r2.results[0]!.status).toBe('succeeded');
    expect(await writes()).toBe(2);
    // Idle rounds: nothing written, the table stays as it was.
    const before = await db.query({ text: 'SELECT * FROM tally.worker_rounds' });
    for (let i = 0; i < 3; i++) expect((await worker.runOnce()).claimed).toBe(0);
    expect(await db.query({ text: 'SELECT * FROM tally.worker_rounds' })).toEqual(before);

    const o = await get('/api/overview?bucket=hour&buckets=2');
    expect(o.status).toBe(200);
    const w = o.body.workerRounds;
    expect(w).toMatchObject({ bucket: 'hour', keptHours: 24 });
    expect(w.series).toHaveLength(2);
    expect(sum(w.series, 'rounds')).toBe(2);
    expect(sum(w.series, 'claimed')).toBe(2);
    expect(sum(w.series, 'succeeded')).toBe(1);
    expect(sum(w.series, 'waiting')).toBe(1);
    expect(sum(w.series, 'errors')).toBe(0);
    expect(w.workers).toEqual([
      expect.objectContaining({ worker: 'worker:oc-1', rounds: 2, claimed: 2, errors: 0 }),
    ]);
  });
});

describe('Overview: the last reconcile result per entity type', () => {
  it('each check (reconcile() in the library, which tally reconcile runs, and the console dry run) and each repair is recorded per entity type; the Overview shows the last ones and the recent findings', async () => {
    const none = await get('/api/overview');
    expect(none.body.reconcile).toEqual([]);

    const clean = await reconcile([fx.accounts]);
    expect(clean).toMatchObject({ ok: true, recorded: true });
    await db.exec(`UPDATE oc_accounts SET points = points + 7 WHERE id = 'u1'`);
    // The console's dry run is a check like any other.
    const found = await call(server.url, '/api/reconcile/state-log', {
      method: 'POST',
      headers: actionHeaders(READ),
      body: { entity: ENTITY, dryRun: true },
    });
    expect(found.body.total).toBe(1);
    const repaired = await call(server.url, '/api/actions/repair', {
      method: 'POST',
      headers: actionHeaders(OPERATOR),
      body: { entity: ENTITY, actor: 'ops:ana', reason: 'INC-3: a hand fix bypassed the log' },
    });
    expect(repaired.status).toBe(200);

    const o = await get('/api/overview');
    expect(o.body.reconcile).toEqual([
      {
        entityType: ENTITY,
        // The repair action checks again before it repairs: that check is the last one.
        last: expect.objectContaining({ checked: 2, findings: 1 }),
        lastRepair: expect.objectContaining({ repaired: 1 }),
        recent: [
          expect.objectContaining({ checked: 2, findings: 0 }),
          expect.objectContaining({ findings: 1 }),
          expect.objectContaining({ findings: 1 }),
        ],
      },
    ]);
    const after = await reconcile([fx.accounts], { record: false });
    expect(after).toMatchObject({ ok: true, recorded: false });
    expect((await get('/api/overview')).body.reconcile[0].recent).toHaveLength(3);
  });

  it('keeps the last 50 results of each entity type', async () => {
    await db.query({
      text: `INSERT INTO tally.reconcile_runs (entity_type, kind, at, checked, findings, duration_ms)
             SELECT $1, 'check', now() - interval '1 day', 2, 0, 1 FROM generate_series(1, 60)`,
      values: [ENTITY],
    });
    await reconcile([fx.accounts]);
    const [n] = await db.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM tally.reconcile_runs WHERE entity_type = $1`,
      values: [ENTITY],
    });
    expect(n!.n).toBe(50);
  });
});

describe('Entities: the chain check of one entity', () => {
  const chain = (key: string, token: string | null = READ) =>
    get(`/api/entities/${ENTITY}/${encodeURIComponent(key)}/chain`, token);

  it('versions, before images and sealed entries of one key; read token; 401 without; 404 for no entry', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await fx.redeem.submit({
        key: fx.nextKey(),
        principal: 'u2',
        input: { user: 'u2', prize: 'mug', qty: 1 },
      });
      expect(r.status).toBe('succeeded');
    }
    expect((await chain('u2', null)).status).toBe(401);
    expect((await chain('nobody')).body.code).toBe('ENTITY_NOT_FOUND');
    const ok = await chain('u2');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      type: ENTITY,
      key: 'u2',
      ok: true,
      firstVersion: 1,
      findings: [],
      sealed: { origins: [], sealed: 0, unverified: 0, changed: [] },
    });
    const entries = ok.body.entries as number;
    expect(entries).toBeGreaterThanOrEqual(2);
    expect(ok.body.latestVersion).toBe(entries);
    expect(ok.body.sealed.unsealed).toBe(entries);

    const origin = 'tally console-chain-test';
    await sealOnce(fx.tally, { key: generateSealKey(), origin });
    const sealed = await chain('u2');
    expect(sealed.body.ok).toBe(true);
    expect(sealed.body.sealed).toMatchObject({ sealed: entries, unsealed: 0, changed: [] });
    expect(sealed.body.sealed.origins).toEqual([{ origin, treeSize: expect.any(Number) }]);

    // A sealed entry rewritten (its reason): the images still chain, the sealed tree says it changed.
    await db.query({
      text: `UPDATE tally.log SET reason = 'nothing to see' WHERE entity_type = $1 AND entity_key = 'u2' AND version = 1`,
      values: [ENTITY],
    });
    const edited = await chain('u2');
    expect(edited.body.ok).toBe(false);
    expect(edited.body.findings).toEqual([]);
    expect(edited.body.sealed.changed).toContainEqual(expect.objectContaining({ version: 1, origin }));

    // An after image rewritten: the next entry's before image no longer follows it.
    await db.query({
      text: `UPDATE tally.log SET after = jsonb_set(after, '{points}', '5') WHERE entity_type = $1 AND entity_key = 'u2' AND version = 1`,
      values: [ENTITY],
    });
    expect((await chain('u2')).body.findings).toEqual([
      expect.objectContaining({ kind: 'broken_image', versions: [2] }),
    ]);
    // The first entry deleted: the rest follows a missing entry.
    await db.query({
      text: `DELETE FROM tally.log WHERE entity_type = $1 AND entity_key = 'u2' AND version = 1`,
      values: [ENTITY],
    });
    const gap = await chain('u2');
    expect(gap.body.findings).toEqual([expect.objectContaining({ kind: 'version_gap', versions: [2] })]);
    expect(gap.body.firstVersion).toBe(2);
  });
});
