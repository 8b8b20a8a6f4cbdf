// Node C, the prize platform: an idempotent issue endpoint (by Idempotency-Key), a query endpoint,
// asynchronous callbacks to B, limited stock (first come, first served), and fault switches over HTTP.
// It is not built on Tally: it stands for a party B does not own.
//
//   POST /issue            Idempotency-Key: <key>   { user, prize, qty, ts, nonce }
//        200 { status: 'issued', prizeId } | 200 { status: 'refused', reason } | 409 (key reused) | 503
//   GET  /issue/:key       200 { outcome: 'success', prizeId } | 200 { outcome: 'failure', reason } | 404
//   POST /admin/faults     { delayMs, loseReplyNext, crashNext, slowRecordMs, callbacks, refuseNext }
//   POST /admin/stock      { stock }
//   GET  /admin/state      stock, records, what arrived, queries
//
// Env: PORT (default 4003), CALLBACK_URL (B's callback endpoint; none: no callbacks).
import Fastify, { type FastifyReply } from 'fastify';
import { applyFaults, defaultFaults } from './faults.js';
import { type IssueRequest, PrizeStore, type Record } from './store.js';

const port = Number(process.env.PORT ?? 4003);
const callbackUrl = process.env.CALLBACK_URL;
const store = new PrizeStore(Number(process.env.STOCK ?? 100));
const faults = defaultFaults();
const held: Record[] = [];
let flushing = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function validRequest(b: unknown): b is IssueRequest {
  const r = b as IssueRequest;
  return (
    !!r &&
    typeof r.user === 'string' &&
    typeof r.prize === 'string' &&
    Number.isInteger(r.qty) &&
    r.qty > 0 &&
    typeof r.ts === 'string' &&
    typeof r.nonce === 'string'
  );
}

async function post(rec: Record): Promise<void> {
  if (!callbackUrl) return;
  const body =
    rec.status === 'issued'
      ? { key: rec.key, outcome: 'issued', prizeId: rec.prizeId }
      : { key: rec.key, outcome: 'refused', reason: rec.reason };
  try {
    await fetch(callbackUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    // C does not retry callbacks: B's worker queries instead.
  }
}

/** Sends (or drops, doubles, reorders) the callback for a record, after the reply. */
function callback(rec: Record): void {
  const mode = faults.callbacks;
  if (mode === 'drop') return;
  if (mode === 'reorder') {
    held.push(rec);
    if (flushing) return;
    flushing = true;
    setTimeout(() => {
      flushing = false;
      for (const r of held.splice(0).reverse()) void post(r);
    }, 300);
    return;
  }
  setTimeout(async () => {
    await post(rec);
    if (mode === 'duplicate') await post(rec);
  }, 20);
}

function answer(reply: FastifyReply, rec: Record) {
  return rec.status === 'issued'
    ? reply.send({ status: 'issued', prizeId: rec.prizeId })
    : reply.send({ status: 'refused', reason: rec.reason });
}

const app = Fastify();

app.post('/issue', async (req, reply) => {
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string' || key === '')
    return reply.code(400).send({ error: 'Idempotency-Key required' });
  if (!validRequest(req.body)) return reply.code(400).send({ error: 'bad request' });
  const request = req.body;
  if (faults.delayMs > 0) await sleep(faults.delayMs);
  if (faults.crashNext > 0) {
    faults.crashNext--;
    store.received.push({ key, request, at: Date.now() });
    req.raw.socket.destroy(); // C died before recording anything
    return reply.hijack();
  }
  const known = store.arrive(key, request);
  if (known?.kind === 'conflict')
    return reply.code(409).send({ error: 'this key was used with a different request' });
  if (known?.kind === 'recording') return reply.code(503).send({ error: 'still recording' });
  if (known?.kind === 'recorded') return answer(reply, known.record);

  const refuse = faults.refuseNext > 0;
  if (refuse) faults.refuseNext--;
  if (faults.slowRecordMs > 0) {
    store.recording.set(key, request);
    await sleep(faults.slowRecordMs);
  }
  const rec = store.commit(key, request, refuse);
  callback(rec);
  if (faults.loseReplyNext > 0) {
    faults.loseReplyNext--;
    req.raw.socket.destroy(); // committed, but the reply never reaches B
    return reply.hijack();
  }
  return answer(reply, rec);
});

app.get<{ Params: { key: string } }>('/issue/:key', async (req, reply) => {
  const rec = store.query(req.params.key);
  if (!rec) return reply.code(404).send({ outcome: 'not_found' });
  return rec.status === 'issued'
    ? { outcome: 'success', prizeId: rec.prizeId }
    : { outcome: 'failure', reason: rec.reason };
});

app.post('/admin/faults', async (req, reply) => {
  const error = applyFaults(faults, req.body);
  return error ? reply.code(400).send({ error }) : faults;
});

app.post('/admin/stock', async (req, reply) => {
  const stock = (req.body as { stock?: unknown })?.stock;
  if (typeof stock !== 'number' || !Number.isInteger(stock) || stock < 0)
    return reply.code(400).send({ error: 'stock must be a non-negative integer' });
  store.restock(stock);
  return { stock };
});

app.get('/admin/state', async () => ({
  stock: store.stock,
  supplied: store.supplied,
  effects: store.effects,
  faults,
  records: [...store.records.values()],
  recording: [...store.recording.keys()],
  received: store.received,
  queries: store.queries,
}));

await app.listen({ port, host: '127.0.0.1' });
// Started by the launcher (chain.ts): stop when it is gone.
if (process.send) process.once('disconnect', () => process.exit(0));
console.log(`C (prize platform) listening on http://127.0.0.1:${port}`);
