// Node B, the points service, built only on 'tally' and 'tally/fastify':
//
//   POST /redemptions        Idempotency-Key, X-User; { prize, qty } → 200 / 202 / 422 / 409 / 400
//   POST /callbacks/prizes   C's asynchronous messages → redeem.notify
//   GET  /accounts/:user     points
//   POST /admin/accounts     { user, points }   (demo set-up: an audited create)
//   POST /admin/risk         { user, verdict }  ('ok' | 'deny': what the risk check answers from now on)
//   GET  /admin/report       accounts, points deducted and refunded (from the log), fold checks, commands
//
// Env: PORT (4002), C_URL, DATABASE_URL or DATA_DIR (default .tally-data/points-b), C_TIMEOUT_MS, QUERY_AFTER_MS,
// RETRY_BASE_MS, DEADLINE (the retry budget, default 24h), MAX_ATTEMPTS (unset: no count), LEASE_MS, WORKER_POLL_MS, PAUSE_AT (checkpoints, comma-separated, each
// `name` or `name@user`: B stops there and prints "PAUSED <name>@<user>", so a test can kill it at that
// exact point; names in service.ts), RESET=1 (drop B's schemas first: a fresh start on PostgreSQL).
import Fastify from 'fastify';
import { createTally, isTallyError } from 'tally';
import { idempotent, tallyFastify } from 'tally/fastify';
import { openDb } from './db.js';
import { report } from './report.js';
import { createTables, declare, type RedeemInput } from './service.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const port = env('PORT', 4002);
const pauseAt = new Set((process.env.PAUSE_AT ?? '').split(',').filter(Boolean));

async function checkpoint(name: string, user: string): Promise<void> {
  if (!pauseAt.has(name) && !pauseAt.has(`${name}@${user}`)) return;
  console.log(`PAUSED ${name}@${user}`);
  await new Promise(() => {}); // until the process is killed
}

const { db, label } = await openDb({
  ...(process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : {}),
  dataDir: process.env.DATA_DIR ?? '.tally-data/points-b',
});
if (process.env.RESET === '1')
  await db.exec('DROP SCHEMA IF EXISTS points_b CASCADE; DROP SCHEMA IF EXISTS points_tally CASCADE');
await createTables(db);
const tally = await createTally({ db, schema: 'points_tally' });
await tally.migrate();
const { accounts, redeem } = declare(tally, {
  cUrl: process.env.C_URL ?? 'http://127.0.0.1:4003',
  cTimeoutMs: env('C_TIMEOUT_MS', 2000),
  queryAfterMs: env('QUERY_AFTER_MS', 3000),
  retryBaseMs: env('RETRY_BASE_MS', 500),
  deadline: process.env.DEADLINE ?? '24h',
  ...(process.env.MAX_ATTEMPTS ? { maxAttempts: env('MAX_ATTEMPTS', 0) } : {}),
  leaseMs: env('LEASE_MS', 10_000),
  checkpoint,
});
const worker = tally.worker({ pollMs: env('WORKER_POLL_MS', 500), leaseMs: env('LEASE_MS', 10_000) });

const app = Fastify();
await app.register(tallyFastify);
const userOf = (req: { headers: Record<string, unknown> }) => {
  const u = req.headers['x-user'];
  return typeof u === 'string' && /^[a-z0-9_-]{1,40}$/.test(u) ? u : undefined;
};

app.post(
  '/redemptions',
  idempotent(redeem, {
    principal: userOf, // the demo's "authentication": A says who the user is
    // The body as sent, with the user A vouched for: redeem's input schema refuses anything else (400).
    input: (req) => ({ ...(req.body as object), user: userOf(req) }) as RedeemInput,
  }),
);

app.post('/callbacks/prizes', async (req, reply) => {
  const b = (req.body ?? {}) as { key?: string; outcome?: string; prizeId?: string; reason?: string };
  if (typeof b.key !== 'string') return reply.code(400).send({ error: 'key required' });
  const r = await redeem.notify(
    b.key,
    b.outcome === 'issued'
      ? { outcome: 'success', value: { prizeId: b.prizeId } }
      : { outcome: 'failure', reason: b.reason ?? 'refused' },
  );
  return { status: r.status };
});

app.get<{ Params: { user: string } }>('/accounts/:user', async (req, reply) => {
  const [row] = await db.query<{ points: number }>({
    text: 'SELECT points FROM points_b.accounts WHERE id = $1',
    values: [req.params.user],
  });
  return row
    ? { user: req.params.user, points: Number(row.points) }
    : reply.code(404).send({ error: 'no such user' });
});

app.post('/admin/accounts', async (req) => {
  const { user, points } = req.body as { user: string; points: number };
  const [row] = await db.query({ text: 'SELECT 1 FROM points_b.accounts WHERE id = $1', values: [user] });
  if (!row)
    await accounts.create({ rows: [{ id: user, state: 'open', points }], actor: 'admin', reason: 'set-up' });
  return { user };
});

app.post('/admin/risk', async (req) => {
  const { user, verdict } = req.body as { user: string; verdict: string };
  await db.query({
    text: `INSERT INTO points_b.risk (id, verdict) VALUES ($1, $2)
           ON CONFLICT (id) DO UPDATE SET verdict = EXCLUDED.verdict`,
    values: [user, verdict],
  });
  return { user, verdict };
});

app.get('/admin/report', async () => report(db, accounts));

app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));

try {
  await app.listen({ port, host: '127.0.0.1' });
} catch (err) {
  console.error(isTallyError(err) ? err.code : err);
  process.exit(1);
}
worker.start();
console.log(`B (points service) listening on http://127.0.0.1:${port} — database: ${label}`);

// Started by the launcher (chain.ts): stop when it is gone.
if (process.send) process.once('disconnect', () => process.exit(0));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, async () => {
    await worker.stop();
    await app.close();
    await tally.close();
    process.exit(0);
  });
}
