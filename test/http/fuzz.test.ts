// Issue 13: property-based fuzzing of what a client controls — bodies, Content-Types, Idempotency-Key
// values, the user header and the key parameters — against the points example's guarded route and against
// `command.submit` directly. After every case: the answer is 2xx, a recorded business failure (422 JSON),
// or a 4xx problem+json — never a 5xx, never Fastify's own JSON; a refused request recorded no command, no
// log row and made no outbound call; the heap and the event loop's delay stay bounded.
//
// The route is B's own (examples/points-redemption/b): its `declare` (the redeem command with its input
// schema) and the route as b/server.ts builds it, in process, on PGlite in memory. Starting the example's
// three processes per case would be far too slow for a fuzz loop; the requests go through `app.inject`,
// which runs Fastify's whole pipeline (content-type parsers, body limit, hooks, error handler) without a
// socket. test/http/problem-json.test.ts sends the worst bodies over a real port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import fc from 'fast-check';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP,
  createTables,
  declare,
  PRIZES,
  type RedeemInput,
  type ServiceOptions,
} from '../../examples/points-redemption/b/service.js';
import type { Command } from '../../src/commands/command.js';
import { isTallyError } from '../../src/errors.js';
import { idempotent, tallyFastify } from '../../src/http/index.js';
import { httpStatusOf } from '../../src/http/status.js';
import { createTally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';

const S = 'points_tally';
const SEED = 13;
const HTTP_RUNS = 200;
const API_RUNS = 200;
/** Generous bounds: they catch a runaway (a quadratic walk, a leak per request), not a slow machine. */
const HEAP_GROWTH_MAX = 256 * 1024 * 1024;
const LOOP_DELAY_MAX_MS = 5_000;

let t: TestDatabase;
let app: FastifyInstance;
let redeem: Command;
/** A command without an input schema: its key parameters are the whole input, as the caller gave it. */
let probe: Command;
let prizesC: Server;
const calls = { c: 0 };

/** C, the prize platform: a fake (a party we do not own) that issues every prize and counts the calls. */
function fakeC(): Promise<string> {
  prizesC = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.c++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'issued', prizeId: `P-${calls.c}` }));
    });
  });
  return new Promise((ok) =>
    prizesC.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${(prizesC.address() as AddressInfo).port}`)),
  );
}

beforeAll(async () => {
  t = await freshPGlite();
  await createTables(t.db);
  const tally = await createTally({ db: t.db, schema: S });
  await tally.migrate();
  const options: ServiceOptions = {
    cUrl: await fakeC(),
    cTimeoutMs: 5_000,
    queryAfterMs: 60_000,
    retryBaseMs: 60_000,
    leaseMs: 10_000,
    checkpoint: async () => {},
  };
  // The example is typed against the built package ('tally'); this is the same class from src/.
  const b = declare(tally as never, options);
  redeem = b.redeem as unknown as Command;
  await b.accounts.create({ rows: [{ id: 'alice', state: 'open', points: 1_000_000_000 }], actor: 'seed' });
  probe = tally.command<unknown>('probe', {
    fingerprint: (input) => input,
    steps: [
      {
        name: 'call',
        call: {
          request: () => ({}),
          send: async () => {
            calls.c++;
            return { outcome: 'success' as const, value: null };
          },
        },
      },
    ],
  }) as unknown as Command;

  // B's route, as b/server.ts declares it.
  app = Fastify();
  await app.register(tallyFastify);
  const userOf = (req: { headers: Record<string, unknown> }) => {
    const u = req.headers['x-user'];
    return typeof u === 'string' && /^[a-z0-9_-]{1,40}$/.test(u) ? u : undefined;
  };
  app.post(
    '/redemptions',
    idempotent(redeem, {
      principal: userOf,
      input: (req) => ({ ...(req.body as object), user: userOf(req) }) as RedeemInput,
    }),
  );
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await new Promise((r) => prizesC?.close(r));
  await t?.close();
});

/** What a refused request must leave untouched: commands, their events, log rows, calls to C. */
async function recorded(): Promise<number[]> {
  const [row] = await t.db.query<Record<string, number>>({
    text: `SELECT (SELECT count(*) FROM ${S}.commands)::int AS commands,
                  (SELECT count(*) FROM ${S}.command_events)::int AS events,
                  (SELECT count(*) FROM ${S}.log)::int AS log`,
  });
  return [Number(row!.commands), Number(row!.events), Number(row!.log), calls.c];
}

/** Heap and event-loop delay, checked after every case. */
function bounds() {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const heapAtStart = process.memoryUsage().heapUsed;
  const cpuAtStart = process.cpuUsage();
  loop.enable();
  return {
    check(label: string) {
      const grown = process.memoryUsage().heapUsed - heapAtStart;
      expect(grown, `${label}: heap growth`).toBeLessThan(HEAP_GROWTH_MAX);
      expect(loop.max / 1e6, `${label}: event-loop delay (ms)`).toBeLessThan(LOOP_DELAY_MAX_MS);
    },
    report: () => ({
      heapGrowthMiB: Math.round((process.memoryUsage().heapUsed - heapAtStart) / 2 ** 20),
      loopDelayMaxMs: Math.round(loop.max / 1e6),
      // CPU time, not wall time: on a busy machine the wall clock says more about the neighbours.
      cpuMs: Math.round((({ user, system }) => user + system)(process.cpuUsage(cpuAtStart)) / 1000),
    }),
    stop: () => loop.disable(),
  };
}

// ---- arbitraries ----

let fresh = 0;
const usedKeys: string[] = [];
const deep = (depth: number, kind: 'array' | 'object') =>
  kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** A body made when it is sent: fast-check prints what it generates, and these would fill the report. */
class Big {
  constructor(
    readonly name: string,
    readonly make: () => string,
  ) {}
  toString(): string {
    return `Big(${this.name})`;
  }
}

const validBody = fc.record({ prize: fc.constantFrom(...PRIZES), qty: fc.integer({ min: 1, max: 10 }) });
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(-50, 0, 1.5, 2147483648, 1e308, -0, '1', '', null, true, [], {}),
);
const bodyText: fc.Arbitrary<string | Big> = fc.oneof(
  { weight: 6, arbitrary: validBody.map((b) => JSON.stringify(b)) },
  {
    weight: 3,
    arbitrary: fc
      .record({ prize: fc.oneof(fc.constantFrom(...PRIZES), oddValue), qty: oddValue }, { requiredKeys: [] })
      .map((b) => JSON.stringify(b)),
  },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 1, max: 100_000 }),
        fc.constantFrom('array' as const, 'object' as const),
        fc.boolean(),
      )
      .map(
        ([d, k, whole]) =>
          new Big(`${whole ? 'a body' : 'a field'} ${d} levels deep (${k})`, () =>
            whole ? deep(d, k) : `{"prize":"mug","qty":1,"x":${deep(d, k)}}`,
          ),
      ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '{"prize":"mug","qty":1,"__proto__":{"qty":9}}',
      '{"__proto__":{"isAdmin":true}}',
      '{"prize":"mug","qty":1,"constructor":{"prototype":{"qty":9}}}',
      '{"prize":{"__proto__":null},"qty":1}',
      '{"prize":"mug","qty":1,"constructor":{"name":"x"}}', // not poisoning: passes through
      '',
      'null',
      '"mug"',
      '[{"prize":"mug","qty":1}]',
      '{"prize":"mug","qty":1}garbage',
      '{"prize":"mug","qty":1',
      '\uFEFF{"prize":"mug","qty":1}',
      '{"prize":"mug","qty":NaN}',
      '{"prize":"mug","qty":1e999}',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constant(
      // over Fastify's 1 MiB body limit
      new Big('1.2 MB of JSON', () => '{"prize":"mug","qty":1}'.padEnd(1_200_000, ' ')),
    ),
  },
);
const contentType = fc.oneof(
  { weight: 14, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=latin1',
      'application/json;;;',
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      '',
      'application/merge-patch+json',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const keyHeader: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('fresh').map(() => `fz-${SEED}-${++fresh}`) },
  { weight: 2, arbitrary: fc.constant('quoted').map(() => `"fz-${SEED}-${++fresh}"`) },
  { weight: 3, arbitrary: fc.nat().map((i) => usedKeys[i % Math.max(1, usedKeys.length)] ?? 'none-yet') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      '   ',
      '""',
      '"',
      '"a" "b"',
      'a, b',
      ['k-1', 'k-2'],
      'k'.repeat(256),
      `"${'k'.repeat(300)}"`,
      'ké',
      '"ké"',
      'KEY-1',
      ' key-1 ',
      '"a\\"b"',
      '"a\\x"',
      'a;b',
      '\u0000',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 300 }) },
);
const user = fc.oneof(
  { weight: 8, arbitrary: fc.constant('alice') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(undefined, '', 'Alice', 'nobody', 'a'.repeat(41), 'alice ', 'ali\tce'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
);

/** Fastify's inject refuses header values a socket could not carry either: those are not a server case. */
function injectable(v: string | string[] | undefined): boolean {
  const ok = (s: string) => !/[^\t\x20-\x7e\x80-\xff]/.test(s);
  return v === undefined || (Array.isArray(v) ? v.every(ok) : ok(v));
}

/** Inputs no JSON body can carry, for the library API. */
const HOSTILE: Readonly<Record<string, () => unknown>> = {
  cyclic: () => {
    const v: Record<string, unknown> = { prize: 'mug', qty: 1, user: 'alice' };
    v.self = v;
    return v;
  },
  'own __proto__ key': () => JSON.parse('{"prize":"mug","qty":1,"user":"alice","__proto__":{"qty":9}}'),
  NaN: () => ({ prize: 'mug', qty: Number.NaN, user: 'alice' }),
  'invalid date': () => ({ prize: 'mug', qty: 1, user: 'alice', at: new Date(Number.NaN) }),
  bigint: () => ({ prize: 'mug', qty: 1n, user: 'alice' }),
  function: () => ({ prize: 'mug', qty: 1, user: 'alice', f: () => 1 }),
  symbol: () => ({ prize: 'mug', qty: 1, user: 'alice', s: Symbol('x') }),
  'throwing toJSON': () => ({
    prize: 'mug',
    qty: 1,
    user: 'alice',
    toJSON() {
      throw new Error('toJSON says no');
    },
  }),
  'throwing getter': () =>
    Object.defineProperty({ prize: 'mug', user: 'alice' }, 'qty', {
      enumerable: true,
      get() {
        throw new Error('getter says no');
      },
    }),
  '2 MB string': () => ({ prize: 'mug', qty: 1, user: 'alice', big: 'x'.repeat(2_000_000) }),
  '20,000 keys': () => ({
    prize: 'mug',
    qty: 1,
    user: 'alice',
    wide: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])),
  }),
  undefined: () => undefined,
};

class Hostile {
  constructor(readonly name: string) {}
  make(): unknown {
    const m = /^deep (array|object) (\d+)$/.exec(this.name);
    if (!m) return HOSTILE[this.name]!();
    const x = JSON.parse(deep(Number(m[2]), m[1] as 'array' | 'object'));
    return { prize: 'mug', qty: 1, user: 'alice', x };
  }
  toString(): string {
    return `Hostile(${this.name})`;
  }
}

describe('fuzz: the guarded example route and command.submit (fast-check, fixed seed)', () => {
  it(`POST /redemptions: ${HTTP_RUNS} hostile requests — 2xx, 422 failed or 4xx problem+json, never 5xx; refused ones record nothing`, async () => {
    const limits = bounds();
    const seen = new Map<string, number>();
    try {
      await fc.assert(
        fc.asyncProperty(bodyText, contentType, keyHeader, user, async (body, type, key, who) => {
          fc.pre(injectable(type) && injectable(key) && injectable(who));
          const headers: Record<string, string | string[]> = {};
          if (type !== undefined) headers['content-type'] = type;
          if (key !== undefined) headers['idempotency-key'] = key;
          if (who !== undefined) headers['x-user'] = who;
          const before = await recorded();
          const res = await app.inject({
            method: 'POST',
            url: '/redemptions',
            headers,
            payload: body instanceof Big ? body.make() : body,
          } as InjectOptions);
          const after = await recorded();
          const ctype = String(res.headers['content-type'] ?? '');
          const problem = ctype.startsWith('application/problem+json');
          const label = problem ? `${res.statusCode} ${res.json().code}` : `${res.statusCode}`;
          seen.set(label, (seen.get(label) ?? 0) + 1);

          expect(res.statusCode, res.body).toBeLessThan(500);
          if (res.statusCode >= 400) {
            const businessFailure = res.statusCode === 422 && !problem && res.json().status === 'failed'; // a recorded outcome
            if (!businessFailure) {
              expect(problem, res.body).toBe(true);
              expect(res.json()).toMatchObject({ status: res.statusCode, code: expect.any(String) });
              expect(res.body).not.toMatch(/FST_|stack|SELECT|INSERT/);
              expect(after, 'a refused request recorded or called nothing').toEqual(before);
            }
          } else if (typeof key === 'string') {
            usedKeys.push(key);
          }
          limits.check(label);
        }),
        { seed: SEED, numRuns: HTTP_RUNS, endOnFailure: true },
      );
    } finally {
      limits.stop();
    }
    console.log(
      'fuzz http: answers',
      JSON.stringify(Object.fromEntries(seen)),
      JSON.stringify(limits.report()),
    );
    // The mix exercised both sides: some requests ran, many kinds were refused.
    expect([...seen.keys()].some((k) => k.startsWith('200'))).toBe(true);
    for (const code of [
      'MALFORMED_BODY',
      'INVALID_IDEMPOTENCY_KEY',
      'INVALID_COMMAND_INPUT',
      'INVALID_PRINCIPAL',
    ])
      expect(
        [...seen.keys()].some((k) => k.endsWith(code)),
        code,
      ).toBe(true);
  });

  it(`command.submit: ${API_RUNS} hostile keys, principals and inputs — resolved, or a 4xx TallyError that recorded nothing`, async () => {
    const limits = bounds();
    const seen = new Map<string, number>();
    const hostileInput = fc.oneof(
      { weight: 4, arbitrary: validBody.map((b) => ({ ...b, user: 'alice' }) as unknown) },
      {
        weight: 3,
        arbitrary: fc.anything({
          maxDepth: 4,
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withBoxedValues: true,
          withTypedArray: true,
          withSparseArray: true,
        }),
      },
      // Made inside the property, not by fast-check: it prints what it generates, and a cyclic value, a
      // throwing getter or 100,000 levels would break its printing, not the code under test.
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom('array' as const, 'object' as const))
          .map(([depth, kind]) => new Hostile(`deep ${kind} ${depth}`)),
      },
      { weight: 2, arbitrary: fc.constantFrom(...Object.keys(HOSTILE)).map((name) => new Hostile(name)) },
    );
    const apiKey = fc.oneof(
      { weight: 4, arbitrary: fc.constant('fresh').map(() => `api-${SEED}-${++fresh}`) },
      { weight: 2, arbitrary: fc.string({ maxLength: 300 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<unknown>(undefined, null, 42, '', ' k', 'k'.repeat(256), 'ké', ['k']),
      },
    );
    const principal = fc.oneof(
      { weight: 4, arbitrary: fc.constant('alice') },
      { weight: 1, arbitrary: fc.string({ maxLength: 250 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<unknown>(undefined, null, '', 'a\u0000b', {}, 'p'.repeat(201)),
      },
    );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('redeem', 'probe'),
          apiKey,
          principal,
          hostileInput,
          async (which, key, who, generated) => {
            const command = which === 'redeem' ? redeem : probe;
            const input = generated instanceof Hostile ? generated.make() : generated;
            const before = await recorded();
            let label: string;
            try {
              const r = await command.submit({ key, principal: who, input } as never);
              label = `${which} ${r.status}`;
            } catch (err) {
              // Only Tally's typed refusals, and only ones that are the caller's fault (4xx).
              expect(isTallyError(err), String(err)).toBe(true);
              const code = isTallyError(err) ? err.code : 'not a TallyError';
              label = `${which} ${code}`;
              expect(httpStatusOf(code), code).toBeLessThan(500);
              expect(await recorded(), `${code}: nothing recorded`).toEqual(before);
            }
            seen.set(label, (seen.get(label) ?? 0) + 1);
            limits.check(label);
          },
        ),
        { seed: SEED, numRuns: API_RUNS, endOnFailure: true },
      );
    } finally {
      limits.stop();
    }
    console.log(
      'fuzz submit: outcomes',
      JSON.stringify(Object.fromEntries(seen)),
      JSON.stringify(limits.report()),
    );
    expect([...seen.keys()].some((k) => k.endsWith('succeeded'))).toBe(true);
    expect([...seen.keys()].some((k) => k.endsWith('INVALID_COMMAND_INPUT'))).toBe(true);
  });

  it('afterwards the books balance: every call to C belongs to a recorded command', async () => {
    const [row] = await t.db.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM ${S}.commands WHERE status = 'succeeded'`,
    });
    expect(Number(row!.n)).toBe(calls.c);
    const [acct] = await t.db.query<{ points: number }>({ text: `SELECT points FROM ${APP}.accounts` });
    expect(Number(acct!.points)).toBeLessThan(1_000_000_000);
  });
});
