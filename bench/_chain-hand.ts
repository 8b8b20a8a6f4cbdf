// The points redemption written by hand, for `npm run bench -- chain`: what a careful engineer writes without
// Tally, on Fastify and `pg` like B. Started as a child process by bench/chain.ts.
//
//   POST /redemptions         Idempotency-Key, X-User; { prize, qty } → 200 / 202 / 422 / 400
//     one transaction: lock the account (SELECT … FOR UPDATE, the risk verdict joined), check, UPDATE the
//     points, INSERT the redemption keyed by the idempotency key with the outbound request snapshotted
//     (ON CONFLICT DO NOTHING: a retry rolls back and replays); commit; POST the snapshot to C; record the
//     outcome (a refusal gives the points back in one transaction). A replay of a pending redemption re-sends
//     the stored snapshot (C is idempotent by key); a replay with other parameters is refused (422).
//   POST /naive/redemptions   the same without idempotency: one guarded UPDATE, then a POST to C with a fresh
//     key; nothing recorded (a retry takes effect twice)
//   POST /callbacks/prizes    C's asynchronous messages: records an outcome still pending
//
// No scanner: what stays pending waits for a replay or a callback (under the bench's healthy C, none does).
// Env: PORT, DATABASE_URL, C_URL, USERS, POINTS, C_TIMEOUT_MS (2000, as B's default).
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyReply } from 'fastify';
import pg from 'pg';

const PER_PRIZE = 10;
const port = Number(process.env.PORT);
const cUrl = process.env.C_URL!;
const cTimeoutMs = Number(process.env.C_TIMEOUT_MS ?? 2000);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 8 }); // B's pool size

await pool.query(`CREATE SCHEMA IF NOT EXISTS hand;
  CREATE TABLE IF NOT EXISTS hand.accounts (id text PRIMARY KEY, points integer NOT NULL CHECK (points >= 0));
  CREATE TABLE IF NOT EXISTS hand.naive_accounts (id text PRIMARY KEY, points integer NOT NULL CHECK (points >= 0));
  CREATE TABLE IF NOT EXISTS hand.risk (id text PRIMARY KEY, verdict text NOT NULL);
  CREATE TABLE IF NOT EXISTS hand.redemptions (key text PRIMARY KEY, principal text NOT NULL,
    prize text NOT NULL, qty integer NOT NULL, risk text NOT NULL, request jsonb NOT NULL,
    status text NOT NULL, prize_id text, reason text, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz)`);
for (const table of ['hand.accounts', 'hand.naive_accounts'])
  await pool.query(
    `INSERT INTO ${table} (id, points) SELECT 'u' || g, $2 FROM generate_series(0, $1 - 1) g ON CONFLICT DO NOTHING`,
    [Number(process.env.USERS ?? 256), Number(process.env.POINTS ?? 1_000_000_000)],
  );

interface IssueRequest {
  user: string;
  prize: string;
  qty: number;
  ts: string;
  nonce: string;
}
type Outcome =
  | { kind: 'issued'; prizeId: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'unknown' };

async function issue(key: string, request: IssueRequest): Promise<Outcome> {
  try {
    const res = await fetch(`${cUrl}/issue`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(cTimeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as {
      status?: string;
      prizeId?: string;
      reason?: string;
    };
    if (res.status === 200 && body.status === 'issued') return { kind: 'issued', prizeId: body.prizeId! };
    if (res.status === 200 && body.status === 'refused') return { kind: 'refused', reason: body.reason! };
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
      return { kind: 'refused', reason: `c_http_${res.status}` };
    return { kind: 'unknown' };
  } catch {
    return { kind: 'unknown' }; // timeout, refused or cut connection: never a failure
  }
}

/** Records C's answer (only over a pending redemption: the first answer wins) and replies. */
async function record(
  reply: FastifyReply,
  key: string,
  qty: number,
  user: string,
  o: Outcome,
): Promise<FastifyReply> {
  if (o.kind === 'issued') {
    const r = await pool.query(
      `UPDATE hand.redemptions SET status = 'succeeded', prize_id = $2, updated_at = now()
        WHERE key = $1 AND status = 'pending'`,
      [key, o.prizeId],
    );
    // Recorded now: answer from what is known. Recorded before (a callback or a concurrent retry): the record.
    if (r.rowCount === 1)
      return reply.send({
        status: 'succeeded',
        result: { prize: { prizeId: o.prizeId }, deducted: PER_PRIZE * qty },
      });
    return answer(reply, key);
  }
  if (o.kind === 'refused') {
    await refund(key, user, qty, o.reason);
    return answer(reply, key);
  }
  return reply.code(202).header('retry-after', '1').send({ status: 'pending' });
}

/** Gives the points back once: the status change and the refund in one transaction. */
async function refund(key: string, user: string, qty: number, reason: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const r = await c.query(
      `UPDATE hand.redemptions SET status = 'failed', reason = $2, updated_at = now()
        WHERE key = $1 AND status = 'pending'`,
      [key, reason],
    );
    if (r.rowCount === 1)
      await c.query('UPDATE hand.accounts SET points = points + $2 WHERE id = $1', [user, PER_PRIZE * qty]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK');
    throw err;
  } finally {
    c.release();
  }
}

/** The recorded answer for a key (a replay, or after recording). */
async function answer(
  reply: FastifyReply,
  key: string,
  check?: { user: string; prize: string; qty: number },
): Promise<FastifyReply> {
  const { rows } = await pool.query('SELECT * FROM hand.redemptions WHERE key = $1', [key]);
  const row = rows[0];
  if (!row) return reply.code(404).send({ error: 'no such redemption' });
  if (check && (row.principal !== check.user || row.prize !== check.prize || row.qty !== check.qty))
    return reply.code(422).send({ code: 'IDEMPOTENCY_KEY_REUSED' });
  if (row.status === 'succeeded')
    return reply.send({
      status: 'succeeded',
      result: { prize: { prizeId: row.prize_id }, deducted: PER_PRIZE * row.qty },
    });
  if (row.status === 'failed')
    return reply.code(422).send({ status: 'failed', error: { reason: row.reason } });
  // Pending: send the stored snapshot again (C answers a known key with its recorded outcome).
  return record(reply, key, row.qty, row.principal, await issue(key, row.request));
}

function parse(req: { headers: Record<string, unknown>; body: unknown }) {
  const user = req.headers['x-user'];
  const b = (req.body ?? {}) as { prize?: unknown; qty?: unknown };
  if (typeof user !== 'string' || !/^[a-z0-9_-]{1,40}$/.test(user)) return null;
  if (typeof b.prize !== 'string' || b.prize === '') return null;
  if (!Number.isInteger(b.qty) || (b.qty as number) < 1 || (b.qty as number) > 100) return null;
  return { user, prize: b.prize, qty: b.qty as number };
}

const app = Fastify();

app.post('/redemptions', async (req, reply) => {
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string' || key === '')
    return reply.code(400).send({ error: 'Idempotency-Key required' });
  const input = parse(req);
  if (!input) return reply.code(400).send({ error: 'bad request' });
  const cost = PER_PRIZE * input.qty;
  const request: IssueRequest = { ...input, ts: new Date().toISOString(), nonce: randomUUID() };
  const c = await pool.connect();
  let fresh = false;
  let refused: string | null = null;
  try {
    await c.query('BEGIN');
    const { rows } = await c.query(
      `SELECT a.points, coalesce(r.verdict, 'ok') AS verdict
         FROM hand.accounts a LEFT JOIN hand.risk r ON r.id = a.id WHERE a.id = $1 FOR UPDATE OF a`,
      [input.user],
    );
    const account = rows[0];
    refused = !account
      ? 'no_account'
      : account.verdict !== 'ok'
        ? 'risk_denied'
        : account.points < cost
          ? 'insufficient_points'
          : null;
    if (!refused)
      await c.query('UPDATE hand.accounts SET points = points - $2 WHERE id = $1', [input.user, cost]);
    const inserted = await c.query(
      `INSERT INTO hand.redemptions (key, principal, prize, qty, risk, request, status, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING`,
      [
        key,
        input.user,
        input.prize,
        input.qty,
        account?.verdict ?? 'none',
        request,
        refused ? 'failed' : 'pending',
        refused,
      ],
    );
    fresh = inserted.rowCount === 1;
    await c.query(fresh ? 'COMMIT' : 'ROLLBACK'); // a retry of a known key changes nothing
  } catch (err) {
    await c.query('ROLLBACK');
    throw err;
  } finally {
    c.release();
  }
  if (!fresh) return answer(reply, key, input);
  if (refused) return reply.code(422).send({ status: 'failed', error: { reason: refused } });
  return record(reply, key, input.qty, input.user, await issue(key, request));
});

app.post('/naive/redemptions', async (req, reply) => {
  const input = parse(req);
  if (!input) return reply.code(400).send({ error: 'bad request' });
  const cost = PER_PRIZE * input.qty;
  const r = await pool.query(
    'UPDATE hand.naive_accounts SET points = points - $2 WHERE id = $1 AND points >= $2',
    [input.user, cost],
  );
  if (r.rowCount !== 1) return reply.code(422).send({ status: 'failed' });
  const o = await issue(randomUUID(), { ...input, ts: new Date().toISOString(), nonce: randomUUID() });
  if (o.kind !== 'issued') return reply.code(502).send({ status: o.kind });
  return reply.send({ status: 'succeeded', result: { prize: { prizeId: o.prizeId }, deducted: cost } });
});

app.post('/callbacks/prizes', async (req) => {
  const b = (req.body ?? {}) as { key?: string; outcome?: string; prizeId?: string; reason?: string };
  if (b.outcome === 'issued')
    await pool.query(
      `UPDATE hand.redemptions SET status = 'succeeded', prize_id = $2, updated_at = now()
        WHERE key = $1 AND status = 'pending'`,
      [b.key, b.prizeId],
    );
  else if (typeof b.key === 'string') {
    const { rows } = await pool.query(
      `SELECT principal, qty FROM hand.redemptions WHERE key = $1 AND status = 'pending'`,
      [b.key],
    );
    if (rows[0]) await refund(b.key, rows[0].principal, rows[0].qty, b.reason ?? 'refused');
  }
  return { ok: true };
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`hand-written service listening on http://127.0.0.1:${port}`);
if (process.send) process.once('disconnect', () => process.exit(0));
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, async () => {
    await app.close();
    await pool.end();
    process.exit(0);
  });
