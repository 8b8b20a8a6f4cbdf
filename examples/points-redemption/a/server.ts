// Node A: serves the page and forwards each redemption to B with the page's idempotency key, retrying
// until B gives a final answer.
//
//   GET  /                 the page
//   POST /api/redeem       Idempotency-Key; { user, prize, qty } → { status, body, tries, history }
//   GET  /api/points/:user B's balance for the user
//
// Env: PORT (default 4001), B_URL.
import Fastify from 'fastify';
import { redeemWithRetries } from './client.js';
import { PAGE } from './page.js';

const port = Number(process.env.PORT ?? 4001);
const bUrl = process.env.B_URL ?? 'http://127.0.0.1:4002';
const app = Fastify();

app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));

app.post('/api/redeem', async (req, reply) => {
  const key = req.headers['idempotency-key'];
  const b = (req.body ?? {}) as { user?: unknown; prize?: unknown; qty?: unknown };
  if (typeof key !== 'string' || typeof b.user !== 'string' || typeof b.prize !== 'string')
    return reply.code(400).send({ error: 'Idempotency-Key, user and prize are required' });
  return redeemWithRetries(bUrl, { key, user: b.user, prize: b.prize, qty: Number(b.qty) });
});

app.get<{ Params: { user: string } }>('/api/points/:user', async (req, reply) => {
  const res = await fetch(`${bUrl}/accounts/${encodeURIComponent(req.params.user)}`);
  return reply.code(res.status).send(await res.json());
});

await app.listen({ port, host: '127.0.0.1' });
// Started by the launcher (chain.ts): stop when it is gone.
if (process.send) process.once('disconnect', () => process.exit(0));
console.log(`A (web page) listening on http://127.0.0.1:${port}`);
