// jsonSend: every send of a call carries the stored request as the same JSON text and the recorded key,
// through fetch (default) or an injected client. The downstream is a real local HTTP server we control; it
// misbehaves (503 first) so the command re-sends.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { jsonSend, type OutboundRequest } from '../../src/http/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';

let t: TestDatabase;
let tally: Tally;
let server: Server;
let url: string;
const seen: { key: string; body: string }[] = [];
let failFirst = 0;

beforeAll(async () => {
  t = await freshPGlite();
  tally = await createTally({ db: t.db });
  await tally.migrate();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      seen.push({ key: String(req.headers['idempotency-key']), body });
      if (failFirst > 0) {
        failFirst--;
        res.writeHead(503).end();
        return;
      }
      if (body.includes('"refuse"')) {
        res.writeHead(422, { 'content-type': 'application/json' }).end('{"code":"out_of_stock"}');
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"ticket":"T-1"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/issue`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await t?.close();
});

type In = { item: string; at: string };

function command(name: string, send: ReturnType<typeof jsonSend>) {
  return tally.command<In>(name, {
    fingerprint: (i) => ({ item: i.item }),
    retry: { maxAttempts: 5, baseMs: 1, maxMs: 1 },
    steps: [
      {
        name: 'issue',
        call: { request: (ctx) => ({ item: ctx.input.item, at: ctx.input.at, n: 1.5 }), send },
      },
    ],
  });
}

it('fetch (default): a re-send after a 503 carries the same JSON text and the same key; 2xx → success', async () => {
  const cmd = command('out_fetch', jsonSend({ url }));
  failFirst = 1;
  seen.length = 0;
  const input = { item: 'mug', at: '2026-12-07T10:00:00.000Z' };
  const first = await cmd.submit({ key: 'k1', principal: 'p', input });
  expect(first.status).toBe('pending');
  await new Promise((r) => setTimeout(r, 20));
  const second = await cmd.submit({ key: 'k1', principal: 'p', input });
  expect([second.status, second.result]).toEqual(['succeeded', { ticket: 'T-1' }]);
  expect(seen.length).toBe(2);
  expect(seen[1]).toEqual(seen[0]);
  expect(seen[0]!.key).toBe(`${first.id}.issue`);
});

it('an injected client gets the same request; a definite 4xx is a failure', async () => {
  const requests: OutboundRequest[] = [];
  const client = async (r: OutboundRequest) => {
    requests.push(r);
    const res = await fetch(r.url, { method: r.method, headers: r.headers, body: r.body });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  const cmd = command('out_client', jsonSend({ url, client, headers: { authorization: 'Bearer x' } }));
  const r = await cmd.submit({ key: 'k2', principal: 'p', input: { item: 'refuse', at: 'now' } });
  expect([r.status, r.error?.reason]).toEqual(['failed', 'http_422']);
  expect(requests).toHaveLength(1);
  expect(requests[0]!.headers).toMatchObject({
    authorization: 'Bearer x',
    'idempotency-key': `${r.id}.issue`,
  });
  expect(JSON.parse(requests[0]!.body)).toEqual({ item: 'refuse', at: 'now', n: 1.5 });
});

it('a hand-written send with JSON.stringify: the first send and a re-send carry the same text (decision 0039)', async () => {
  // The request's keys are built in an order jsonb does not keep; a re-send reads the stored request back.
  const texts: string[] = [];
  let fail = 1;
  const cmd = tally.command<In>('out_plain', {
    fingerprint: (i) => ({ item: i.item }),
    retry: { maxAttempts: 5, baseMs: 1, maxMs: 1 },
    steps: [
      {
        name: 'issue',
        call: {
          request: (ctx) => ({
            item: ctx.input.item,
            at: ctx.input.at,
            nested: { zz: 1, a: [{ yy: 2, b: 3 }] },
          }),
          send: async (request) => {
            texts.push(JSON.stringify(request));
            if (fail-- > 0) return { outcome: 'unknown' as const, reason: 'timeout' };
            return { outcome: 'success' as const, value: { ok: true } };
          },
        },
      },
    ],
  });
  const input = { item: 'mug', at: '2026-12-07T10:00:00.000Z' };
  expect((await cmd.submit({ key: 'k3', principal: 'p', input })).status).toBe('pending');
  await new Promise((r) => setTimeout(r, 20));
  expect((await cmd.submit({ key: 'k3', principal: 'p', input })).status).toBe('succeeded');
  expect(texts).toHaveLength(2);
  expect(texts[1]).toBe(texts[0]);
});

it("puts the send's traceparent (tracing on, decision 0140) on the request; none when absent", async () => {
  const requests: OutboundRequest[] = [];
  const client = async (r: OutboundRequest) => {
    requests.push(r);
    return { status: 200, body: null };
  };
  const send = jsonSend({ url, client });
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  await send({ a: 1 }, { key: 'k.issue', traceparent });
  await send({ a: 1 }, { key: 'k.issue' });
  expect(requests.map((r) => r.headers.traceparent)).toEqual([traceparent, undefined]);
});
