// The ONE list of conformance cases. Every adapter's file calls conformance(adapter, notes): the same
// cases, over real HTTP (hono-fetch: real Request/Response objects through app.fetch). Where a framework
// forces a different answer, `notes` says which case, what the adapter answers instead, and why; the case
// still runs and checks that answer.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable } from '../../support/databases.js';
import type { AdapterSpec, Target } from './adapters.js';
import { type Fixture, makeFixture } from './fixture.js';

/** A case an adapter answers differently: the status and code it answers with, and why. */
export interface Difference {
  status: number;
  code?: string;
  why: string;
}
export type Notes = Partial<Record<'malformedJson' | 'protoKey', Difference>>;

const JSON_HEADERS = { 'content-type': 'application/json', 'x-user': 'alice' };
let seq = 0;
const keyOf = (name: string) => `${name}-${++seq}-${process.pid}`;

function post(
  t: Target,
  path: string,
  key: string | null,
  body: string,
  headers: Record<string, string> = {},
) {
  return t.fetch(path, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...(key === null ? {} : { 'idempotency-key': key }), ...headers },
    body,
  });
}

async function problem(res: Response, status: number, code: string) {
  const text = await res.text();
  expect([res.status, text]).toEqual([status, expect.any(String)]);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const doc = JSON.parse(text) as { code: string; status: number; detail: string };
  expect([doc.code, doc.status]).toEqual([code, status]);
  return doc;
}

const order = (item: string, qty = 1, note?: string) =>
  JSON.stringify({ item, qty, ...(note ? { note } : {}) });

export function conformance(adapter: AdapterSpec, notes: Notes = {}): void {
  describe(`conformance: ${adapter.name} (PGlite)`, () => {
    let f: Fixture;
    let t: Target;
    beforeAll(async () => {
      f = await makeFixture(await freshPGlite());
      t = await adapter.start(f);
    });
    afterAll(async () => {
      await t?.close();
      await f?.close();
    });

    it('first request 200; the same key again: the same status and bytes, Idempotent-Replayed; one effect', async () => {
      const key = keyOf('replay');
      const a = await post(t, '/orders', key, order('mug'));
      const first = await a.text();
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toMatch(/^application\/json/);
      expect(a.headers.get('idempotent-replayed')).toBeNull();
      const b = await post(t, '/orders', key, order('mug'));
      expect([b.status, await b.text(), b.headers.get('idempotent-replayed')]).toEqual([200, first, 'true']);
      expect(f.down.total()).toBe(1);
    });

    it('missing or malformed key → 400, no principal → 401; nothing recorded', async () => {
      const before = f.down.sends;
      expect(
        (await problem(await post(t, '/orders', null, order('mug')), 400, 'INVALID_IDEMPOTENCY_KEY')).detail,
      ).toBe('the Idempotency-Key header is missing');
      await problem(await post(t, '/orders', '"a" "b"', order('mug')), 400, 'INVALID_IDEMPOTENCY_KEY');
      const key = keyOf('anon');
      await problem(await post(t, '/orders', key, order('mug'), { 'x-user': '' }), 401, 'INVALID_PRINCIPAL');
      expect([f.down.sends, await f.recorded(key)]).toEqual([before, 0]);
    });

    it('a changed body with the same key → 422 IDEMPOTENCY_KEY_REUSED; the first outcome stays', async () => {
      const key = keyOf('changed');
      expect((await post(t, '/orders', key, order('mug', 1))).status).toBe(200);
      await problem(await post(t, '/orders', key, order('mug', 2)), 422, 'IDEMPOTENCY_KEY_REUSED');
      // Principal scoping: the same key from another principal is another command.
      const other = await post(t, '/orders', key, order('mug', 2), { 'x-user': 'bob' });
      expect([other.status, other.headers.get('idempotent-replayed')]).toEqual([200, null]);
    });

    it('accepted, not finished → 202 with Retry-After; the retry before the next attempt runs nothing', async () => {
      const key = keyOf('slow');
      const a = await post(t, '/orders', key, order('slow'));
      expect([a.status, JSON.parse(await a.text()).status]).toEqual([202, 'pending']);
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const sends = f.down.sends;
      const b = await post(t, '/orders', key, order('slow'));
      expect([b.status, b.headers.get('idempotent-replayed'), f.down.sends]).toEqual([202, 'true', sends]);
    });

    it('in flight → 409 COMMAND_IN_FLIGHT with Retry-After', async () => {
      const key = keyOf('inflight');
      const held = f.down.hold();
      const first = post(t, '/orders', key, order('mug'));
      await held.arrived;
      const second = await post(t, '/orders', key, order('mug'));
      await problem(second, 409, 'COMMAND_IN_FLIGHT');
      expect(second.headers.get('retry-after')).toBe('1');
      held.release();
      expect((await first).status).toBe(200);
    });

    it('a crash between the effect and the response: 500 without internals; the retry gets the recorded outcome, no second effect', async () => {
      const key = keyOf('crash');
      f.crashOnce.add(key);
      const effects = f.down.total();
      const doc = await problem(await post(t, '/crash', key, order('mug')), 500, 'INTERNAL_ERROR');
      expect(JSON.stringify(doc)).not.toMatch(/died|process/);
      const retry = await post(t, '/crash', key, order('mug'));
      expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
      expect(JSON.parse(await retry.text()).result).toEqual({ ticket: expect.stringMatching(/^T-/) });
      expect(f.down.total()).toBe(effects + 1);
    });

    it('a handler that throws → 500 problem+json, no internals in it; nothing recorded', async () => {
      const key = keyOf('boom');
      const res = await post(t, '/orders', key, order('mug'), { 'x-boom': '1' });
      const doc = await problem(res, 500, 'INTERNAL_ERROR');
      expect(JSON.stringify(doc)).not.toMatch(/secret|hunter2|stack/);
      expect(await f.recorded(key)).toBe(0);
    });

    it('large bodies: 600 KB (streamed in chunks, no Content-Length) → 200; 2 MiB → 413 BODY_TOO_LARGE', async () => {
      const key = keyOf('large');
      const text = order('mug', 1, 'x'.repeat(600_000));
      const bytes = new TextEncoder().encode(text);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < bytes.length; i += 64 * 1024) c.enqueue(bytes.slice(i, i + 64 * 1024));
          c.close();
        },
      });
      const res = await t.fetch('/orders', {
        method: 'POST',
        headers: { ...JSON_HEADERS, 'idempotency-key': key },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(200);
      await res.text();
      const big = keyOf('big');
      await problem(
        await post(t, '/orders', big, order('mug', 1, 'x'.repeat(2 * 1024 * 1024))),
        413,
        'BODY_TOO_LARGE',
      );
      expect(await f.recorded(big)).toBe(0);
    });

    const differs = Object.entries(notes)
      .map(([name, d]) => ` [${adapter.name} differs on ${name}: ${d.status} ${d.code ?? ''} — ${d.why}]`)
      .join('');
    it(`non-JSON bodies: not JSON → 400 MALFORMED_BODY, another type → 415, a __proto__ key refused; nothing recorded${differs}`, async () => {
      const key = keyOf('nonjson');
      const bad = notes.malformedJson ?? { status: 400, code: 'MALFORMED_BODY', why: '' };
      await problem(await post(t, '/orders', key, '{"item":'), bad.status, bad.code ?? 'MALFORMED_BODY');
      await problem(
        await post(t, '/orders', key, '<order/>', { 'content-type': 'application/xml' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      const proto = notes.protoKey ?? { status: 400, code: 'MALFORMED_BODY', why: '' };
      const res = await post(t, '/orders', key, '{"item":"mug","qty":1,"__proto__":{"admin":true}}');
      expect(res.status).toBe(proto.status);
      if (proto.code) await problem(res, proto.status, proto.code);
      else await res.text();
      if (proto.status >= 400) expect(await f.recorded(key)).toBe(0);
    });

    it('a client that disconnects mid-body: nothing recorded, nothing sent; the server answers the next request', async () => {
      const key = keyOf('cut');
      const sends = f.down.sends;
      await cutShort(t, key);
      await new Promise((r) => setTimeout(r, 150));
      expect([await f.recorded(key), f.down.sends]).toEqual([0, sends]);
      expect((await post(t, '/orders', key, order('mug'))).status).toBe(200);
    });

    it('a client that disconnects while the command runs: the command finishes; the retry gets it, one effect', async () => {
      const key = keyOf('gone');
      const effects = f.down.total();
      const held = f.down.hold();
      const ac = new AbortController();
      const first = t
        .fetch('/orders', {
          method: 'POST',
          headers: { ...JSON_HEADERS, 'idempotency-key': key },
          body: order('mug'),
          signal: ac.signal,
        })
        .catch(() => null);
      await held.arrived;
      ac.abort();
      held.release();
      await first;
      await until(async () => (await f.order.get({ key, principal: 'alice' }))?.status === 'succeeded');
      const retry = await post(t, '/orders', key, order('mug'));
      expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
      expect(f.down.total()).toBe(effects + 1);
    });
  });

  describe.skipIf(!postgresAvailable)(`conformance: ${adapter.name} (PostgreSQL, 64 concurrent)`, () => {
    let f: Fixture;
    let t: Target;
    beforeAll(async () => {
      f = await makeFixture(await freshPostgres(10));
      t = await adapter.start(f);
    });
    afterAll(async () => {
      await t?.close();
      await f?.close();
    });

    it('64 concurrent identical requests → one effect; the others 409 COMMAND_IN_FLIGHT or the replay', async () => {
      const key = keyOf('c64');
      const held = f.down.hold();
      // Hold the one that runs until every other request has been answered: they can only see it in flight.
      let answered = 0;
      const all = Array.from({ length: 64 }, () =>
        post(t, '/orders', key, order('mug')).then(async (r) => {
          const answer = [r.status, await r.text()] as const;
          if (++answered === 63) held.release();
          return answer;
        }),
      );
      await held.arrived;
      const answers = await Promise.all(all);
      const statuses = answers.map(([s]) => s).sort();
      expect(statuses.filter((s) => s === 200).length).toBe(1);
      expect(statuses.filter((s) => s === 409).length).toBe(63);
      for (const [s, body] of answers) if (s === 409) expect(JSON.parse(body).code).toBe('COMMAND_IN_FLIGHT');
      expect(f.down.total()).toBe(1);
      expect(await f.recorded(key)).toBe(1);
      const again = await post(t, '/orders', key, order('mug'));
      expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
    });
  });
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Sends the headers and part of a body that says it is longer, then goes away. Over a socket for real
 * HTTP; for hono-fetch, a body stream that fails mid-way (what a fetch runtime hands over then).
 */
async function cutShort(t: Target, key: string): Promise<void> {
  const part = '{"item":"mug","qty":1,"note":"';
  if (t.port === null) {
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(part));
        c.error(new Error('client went away'));
      },
    });
    const res = await t
      .fetch('/orders', {
        method: 'POST',
        headers: { ...JSON_HEADERS, 'idempotency-key': key },
        body: stream,
        duplex: 'half',
      } as RequestInit)
      .catch(() => null);
    if (res) expect(res.status).toBeLessThan(500);
    return;
  }
  const socket = connect(t.port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(
    `POST /orders HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nx-user: alice\r\n` +
      `idempotency-key: ${key}\r\ncontent-length: 100000\r\n\r\n${part}`,
  );
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
}
