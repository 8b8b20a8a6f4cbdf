// Hostile nesting and oversized key parameters are refused with a typed error before anything is
// recorded, per the command's `limits` (docs/decisions/0029); ordinary key parameters keep the exact
// canonical text (and so the fingerprints stored keys depend on) they always had.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, fingerprintOf, plainDecimal } from '../../src/commands/canonical.js';
import { defineCommand } from '../../src/commands/definition.js';
import { findIntake } from '../../src/commands/intake.js';
import { insertIntakeSql } from '../../src/commands/intake-sql.js';
import { isTallyError, type TallyError } from '../../src/errors.js';
import { idempotent, tallyFastify } from '../../src/http/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';

function nested(levels: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

function nestedArrays(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

function thrown(f: () => unknown): TallyError {
  try {
    f();
  } catch (err) {
    if (isTallyError(err)) return err;
    throw err;
  }
  throw new Error('nothing was thrown');
}

async function refusal(p: Promise<unknown>): Promise<TallyError> {
  const err = await p.then(
    () => new Error('the submit was not refused'),
    (e: unknown) => e,
  );
  if (!isTallyError(err)) throw err;
  return err;
}

/**
 * The canonical text as the recursive version before decision 0029 wrote it: the reference that the
 * iterative walk must match character for character, since stored keys depend on it.
 */
function recursiveCanon(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return plainDecimal(v);
    case 'bigint':
      return v.toString();
    case 'object': {
      if (v instanceof Date) return JSON.stringify(v.toISOString());
      if (Array.isArray(v))
        return `[${v.map((x) => (x === undefined ? 'null' : recursiveCanon(x))).join(',')}]`;
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${recursiveCanon(x)}`).join(',')}}`;
    }
    default:
      throw new Error('not plain data');
  }
}

describe('canonical text under limits', () => {
  it('a value nested 100,000 levels deep is refused as too deep, not a stack overflow', () => {
    for (const deep of [nested(100_000), nestedArrays(100_000), nested(3000)]) {
      const err = thrown(() => canonicalJson(deep));
      expect(err.code).toBe('INVALID_COMMAND_INPUT');
      expect(err.details).toMatchObject({ limit: 'depth', max: 64 });
    }
    // The path of the level that was one too deep, made only for the error, and clipped.
    const err = thrown(() => canonicalJson(nested(100_000)));
    expect(String(err.details?.path)).toMatch(/^\$\.a\.a\.a/);
    expect(String(err.details?.path).length).toBeLessThanOrEqual(200);
  });

  it('depth counts levels of objects and arrays: exactly the limit passes, one more is refused', () => {
    expect(canonicalJson(nested(64))).toBe(`${'{"a":'.repeat(64)}1${'}'.repeat(64)}`);
    expect(thrown(() => canonicalJson(nested(65))).details).toMatchObject({ limit: 'depth' });
    expect(canonicalJson(nested(3), { depth: 3, size: 100 })).toBe('{"a":{"a":{"a":1}}}');
    expect(thrown(() => canonicalJson(nested(3, []), { depth: 3, size: 100 })).details).toMatchObject({
      limit: 'depth',
      max: 3,
      path: '$.a.a.a',
    });
    // A cycle is refused the same way (it used to overflow the stack).
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(thrown(() => canonicalJson(cyclic)).details).toMatchObject({ limit: 'depth' });
  });

  it('size is UTF-8 bytes of canonical text: exactly the limit passes, one byte more is refused', () => {
    const limits = { depth: 64, size: 13 };
    expect(canonicalJson({ a: 'é€' }, limits)).toBe('{"a":"é€"}'); // 13 bytes, 10 characters
    expect(thrown(() => canonicalJson({ a: 'é€x' }, limits)).details).toEqual({ limit: 'size', max: 13 });
    expect(thrown(() => canonicalJson({ a: 'éé€' }, limits)).details).toEqual({ limit: 'size', max: 13 });
    const flat = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
    expect(thrown(() => canonicalJson(flat)).details).toEqual({ limit: 'size', max: 65536 });
    expect(thrown(() => canonicalJson(new Array(100_000).fill(0))).details).toMatchObject({
      limit: 'size',
    });
    expect(thrown(() => canonicalJson('x'.repeat(70_000))).details).toMatchObject({ limit: 'size' });
  });

  it('ordinary key parameters keep the canonical text and fingerprint they always had', () => {
    const values: unknown[] = [
      { user: 'u1', qty: 1, price: 10.5, tags: ['x', { b: 2, a: 1 }] },
      { n: 10n, m: 1e21, s: 1e-7, z: -0, at: new Date('2026-01-02T03:04:05Z'), gone: undefined },
      [1, undefined, null, [], {}, [[[]]], { '': 0, é: 'ü', B: true, a: false, '\u{1F600}': '\n"\\' }],
      { deep: nested(60), list: Array.from({ length: 300 }, (_, i) => ({ i, s: `v${i}`, f: i / 7 })) },
      'plain',
      42,
      null,
    ];
    for (const v of values) expect(canonicalJson(v)).toBe(recursiveCanon(v));
    // Pinned: sha256 of {"prize":"p9","qty":1,"user":"u1"}, the text stored before this change.
    expect(fingerprintOf({ user: 'u1', prize: 'p9', qty: 1 }).fingerprint).toBe(
      '42d677845a5a2dc103a09984c60f8a1d54e4e184c5f9eaf30153c14d7c583459',
    );
  });

  it('a declaration checks its limits', () => {
    const step = { name: 'a', run: () => 1 };
    const declare = (limits: unknown) =>
      thrown(() => defineCommand('c', { fingerprint: (i: unknown) => i, steps: [step], limits } as never));
    expect(declare({ depth: 0 }).message).toBe('command c: limits.depth must be an integer from 1 to 1000');
    expect(declare({ size: 1.5 }).message).toBe(
      'command c: limits.size must be an integer from 1 to 16777216',
    );
    expect(declare({ deep: 3 }).message).toBe('command c: limits has no option "deep"');
    expect(declare(null).code).toBe('INVALID_COMMAND');
    expect(defineCommand('c', { fingerprint: (i) => i, steps: [step] }).limits).toEqual({
      depth: 64,
      size: 65536,
    });
    expect(
      defineCommand('c', { fingerprint: (i) => i, steps: [step], limits: { size: 100 } }).limits,
    ).toEqual({
      depth: 64,
      size: 100,
    });
  });
});

describe('submits over the limits record nothing', () => {
  let t: TestDatabase;
  let tally: Tally;
  let app: FastifyInstance;
  let sends = 0;
  const call = {
    name: 'ship',
    call: {
      request: () => ({ ok: true }),
      send: async () => {
        sends++;
        return { outcome: 'success' as const };
      },
    },
  };

  /** Every row a refused submit could leave behind, in every table it could leave it in. */
  async function recorded() {
    return {
      commands: await count(t.db, 'SELECT 1 FROM tally.commands'),
      events: await count(t.db, 'SELECT 1 FROM tally.command_events'),
      calls: await count(t.db, 'SELECT 1 FROM tally.command_calls'),
      log: await count(t.db, 'SELECT 1 FROM tally.log'),
      sends,
    };
  }
  const NOTHING = { commands: 0, events: 0, calls: 0, log: 0, sends: 0 };

  beforeAll(async () => {
    t = await freshPGlite();
    tally = await createTally({ db: t.db });
    await tally.migrate();
    const ship = tally.command<{ params: unknown }>('ship', { fingerprint: (i) => i.params, steps: [call] });
    app = Fastify();
    await app.register(tallyFastify);
    app.post('/ship', idempotent(ship, { principal: () => 'p1', input: (req) => ({ params: req.body }) }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await t.close();
  });

  it('key parameters nested 100,000 (or 3,000) levels deep: INVALID_COMMAND_INPUT, nothing recorded', async () => {
    const ship = tally.command('ship_deep', {
      fingerprint: (i: { params: unknown }) => i.params,
      steps: [call],
    });
    // Built by fingerprint() from a flat input: only the canonical walk sees the depth.
    const built = tally.command('ship_built', {
      fingerprint: (i: { levels: number }) => nested(i.levels),
      steps: [call],
    });
    for (const levels of [100_000, 3000]) {
      const a = await refusal(
        ship.submit({ key: `deep-${levels}`, principal: 'p1', input: { params: nested(levels) } }),
      );
      expect([a.code, a.details?.limit]).toEqual(['INVALID_COMMAND_INPUT', 'depth']);
      const b = await refusal(built.submit({ key: `built-${levels}`, principal: 'p1', input: { levels } }));
      expect([b.code, b.details?.limit]).toEqual(['INVALID_COMMAND_INPUT', 'depth']);
    }
    expect(await recorded()).toEqual(NOTHING);
  });

  it('a huge flat object over the size limit: INVALID_COMMAND_INPUT, nothing recorded', async () => {
    const ship = tally.command('ship_flat', {
      fingerprint: (i: { params: unknown }) => i.params,
      steps: [call],
    });
    const flat = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`item-${i}`, 'x'.repeat(8)]));
    const err = await refusal(ship.submit({ key: 'flat', principal: 'p1', input: { params: flat } }));
    expect([err.code, err.details]).toEqual(['INVALID_COMMAND_INPUT', { limit: 'size', max: 65536 }]);
    expect(await recorded()).toEqual(NOTHING);
  });

  it('limits set on a command type are honoured, tighter or looser than the default', async () => {
    const tight = tally.command('ship_tight', {
      fingerprint: (i: { params: unknown }) => i.params,
      steps: [call],
      limits: { depth: 2, size: 32 },
    });
    const loose = tally.command('ship_loose', {
      fingerprint: (i: { params: unknown }) => i.params,
      steps: [call],
      limits: { depth: 200 },
    });
    // The input { params: ... } is one level more than its key parameters.
    const deep = await refusal(tight.submit({ key: 't1', principal: 'p1', input: { params: nested(2) } }));
    expect(deep.details).toEqual({ limit: 'depth', max: 2 });
    const long = await refusal(
      tight.submit({ key: 't2', principal: 'p1', input: { params: 'x'.repeat(31) } }),
    );
    expect(long.details).toEqual({ limit: 'size', max: 32 });
    const keyDepth = tally.command('ship_keydepth', {
      fingerprint: (i: { n: number }) => nested(i.n),
      steps: [call],
      limits: { depth: 5 },
    });
    const built = await refusal(keyDepth.submit({ key: 'k1', principal: 'p1', input: { n: 6 } }));
    expect(built.details).toMatchObject({ limit: 'depth', max: 5 });
    expect(await recorded()).toEqual(NOTHING);

    expect(
      (await tight.submit({ key: 't3', principal: 'p1', input: { params: 'x'.repeat(30) } })).status,
    ).toBe('succeeded');
    expect((await keyDepth.submit({ key: 'k2', principal: 'p1', input: { n: 5 } })).status).toBe('succeeded');
    // 150 levels: refused by the default, accepted by a command that allows 200.
    const byDefault = tally.command('ship_default', {
      fingerprint: (i: { params: unknown }) => i.params,
      steps: [call],
    });
    expect(
      (await refusal(byDefault.submit({ key: 'd1', principal: 'p1', input: { params: nested(150) } }))).code,
    ).toBe('INVALID_COMMAND_INPUT');
    const r = await loose.submit({ key: 'l1', principal: 'p1', input: { params: nested(150) } });
    expect(r.status).toBe('succeeded');
    const [row] = await t.db.query<{ params: string }>({
      text: "SELECT params::text AS params FROM tally.commands WHERE type = 'ship_loose'",
      values: [],
    });
    expect(JSON.parse(row!.params)).toEqual(nested(150));
    expect(sends).toBe(3);
  });

  it('a change command honours its limits too: refused before its one statement, no row changed, no log row', async () => {
    await t.db.exec(
      'CREATE TABLE wallets (code text PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, points int NOT NULL)',
    );
    const wallets = tally.entity('wallet', { table: 'wallets', key: 'code', states: { open: [] } });
    await wallets.create({ rows: [{ code: 'w-1', state: 'open', points: 10 }], actor: 'seed' });
    const logBefore = await count(t.db, 'SELECT 1 FROM tally.log');
    const pay = tally.command('pay', {
      fingerprint: (i: { wallet: string; memo: unknown }) => i,
      change: { entity: wallets, key: (i) => i.wallet, add: { points: -1 } },
      limits: { depth: 3 },
    });
    const before = await recorded();
    const err = await refusal(
      pay.submit({ key: 'p1', principal: 'p1', input: { wallet: 'w-1', memo: nested(3) } }),
    );
    expect([err.code, err.details]).toEqual(['INVALID_COMMAND_INPUT', { limit: 'depth', max: 3 }]);
    expect(await recorded()).toEqual(before);
    expect(await count(t.db, 'SELECT 1 FROM tally.log')).toBe(logBefore);
    const ok = await pay.submit({ key: 'p2', principal: 'p1', input: { wallet: 'w-1', memo: nested(2) } });
    expect(ok.status).toBe('succeeded');
  });

  it('a bare string as key parameters, input or result is recorded and replayed (it used to fail reading its row back)', async () => {
    const plain = tally.command('plain_string', {
      fingerprint: (i: string) => i,
      steps: [{ name: 'a', run: () => '12' }],
    });
    for (const input of ['abc', '12', '']) {
      const first = await plain.submit({ key: `s-${input.length}`, principal: 'p1', input });
      const again = await plain.submit({ key: `s-${input.length}`, principal: 'p1', input });
      expect([first.status, first.result, again.replayed, again.result]).toEqual([
        'succeeded',
        '12',
        true,
        '12',
      ]);
    }
    const changed = await refusal(plain.submit({ key: 's-3', principal: 'p1', input: 'abd' }));
    expect(changed.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it("the failover store's intake row with a bare string as key parameters and input reads back", async () => {
    const rec = {
      id: '018f0000-0000-7000-8000-000000000001',
      type: 'plain_intake',
      principal: 'p1',
      key: 'i1',
      fingerprint: 'f',
      params: '"abc"',
      input: '"12"',
      at: new Date(),
    };
    await t.db.query(insertIntakeSql('tally', rec));
    const row = await findIntake(t.db, 'tally', { type: 'plain_intake', principal: 'p1', key: 'i1' });
    expect([row?.params, row?.input]).toEqual(['abc', '12']);
  });

  it('over HTTP: a body nested 100,000 levels deep answers 400 problem+json; the next request is served', async () => {
    const before = await recorded();
    const body = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const res = await app.inject({
      method: 'POST',
      url: '/ship',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'deep-http' },
      payload: body,
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'INVALID_COMMAND_INPUT', details: { limit: 'depth', max: 64 } });
    expect(await recorded()).toEqual(before);
    const ok = await app.inject({
      method: 'POST',
      url: '/ship',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'next' },
      payload: { order: 1 },
    });
    expect(ok.statusCode).toBe(200);
  });
});
