import { execFile } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { Answer, RedeemCall } from '../../../examples/points-redemption/a/client.js';
import { type Chain, type ChainOptions, startChain } from '../../../examples/points-redemption/chain.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LOCK = join(ROOT, '.tmp', 'build.lock');

async function newest(dir: string): Promise<number> {
  let t = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** The example imports 'tally' through package exports (dist/): build it unless it is newer than src/. */
export async function ensureBuilt(): Promise<void> {
  mkdirSync(dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    let built = 0;
    try {
      built = statSync(join(ROOT, 'dist/src/http/index.js')).mtimeMs;
    } catch {}
    if (built > (await newest(join(ROOT, 'src')))) return;
    await new Promise<void>((done, fail) =>
      execFile('npm', ['run', 'build', '--silent'], { cwd: ROOT }, (err, out, errOut) =>
        err ? fail(new Error(`npm run build failed:\n${out}${errOut}`)) : done(),
      ),
    );
  } finally {
    rmdirSync(LOCK);
  }
}

export interface Http {
  status: number;
  body: any;
  raw: string;
  headers: Headers;
}

export async function http(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Http> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const raw = await res.text();
  const json = /json/.test(res.headers.get('content-type') ?? '') && raw !== '';
  return { status: res.status, body: json ? JSON.parse(raw) : null, raw, headers: res.headers };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FINAL = new Set(['succeeded', 'failed']);

/** The chain plus what the tests did to it, and the invariant check that runs after every test. */
export class ChainUnderTest {
  #n = 0;
  constructor(readonly chain: Chain) {}

  static async start(o: ChainOptions = {}): Promise<ChainUnderTest> {
    await ensureBuilt();
    return new ChainUnderTest(await startChain(o));
  }

  key(label: string): string {
    return `${label}-${++this.#n}-${Date.now().toString(36)}`;
  }

  async account(user: string, points = 100): Promise<void> {
    expect((await http('POST', `${this.chain.b.url}/admin/accounts`, { user, points })).status).toBe(200);
  }

  async points(user: string): Promise<number> {
    return (await http('GET', `${this.chain.b.url}/accounts/${user}`)).body.points;
  }

  /** Through A: the head's client, which retries with the same key until B gives a final answer. */
  async viaA(call: RedeemCall): Promise<Answer> {
    const r = await http(
      'POST',
      `${this.chain.a.url}/api/redeem`,
      { user: call.user, prize: call.prize, qty: call.qty },
      {
        'idempotency-key': call.key,
      },
    );
    return r.body as Answer;
  }

  /** One call to B, no retry (as when the client gave up or crashed). */
  once(call: RedeemCall): Promise<Http> {
    return http(
      'POST',
      `${this.chain.b.url}/redemptions`,
      { prize: call.prize, qty: call.qty },
      {
        'idempotency-key': call.key,
        'x-user': call.user,
      },
    );
  }

  async faults(patch: Record<string, unknown>): Promise<void> {
    expect((await http('POST', `${this.chain.c.url}/admin/faults`, patch)).status).toBe(200);
  }

  async stock(stock: number): Promise<void> {
    expect((await http('POST', `${this.chain.c.url}/admin/stock`, { stock })).status).toBe(200);
  }

  async c(): Promise<any> {
    return (await http('GET', `${this.chain.c.url}/admin/state`)).body;
  }

  async report(): Promise<any> {
    return (await http('GET', `${this.chain.b.url}/admin/report`)).body;
  }

  /** The status of the command submitted with `key` (fails with what B printed when there is none). */
  async statusOf(key: string, report?: any): Promise<string> {
    const r = report ?? (await this.report());
    const cmd = r.commands.find((c: { key: string }) => c.key === key);
    if (!cmd) {
      throw new Error(
        `no command for key ${key}: ${JSON.stringify(r)}\nB printed:\n${this.chain.b.output()}`,
      );
    }
    return cmd.status;
  }

  /** Waits until B's worker has brought every command to a final state. */
  async settle(timeoutMs = 30_000): Promise<any> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.report();
      const open = r.commands.filter((c: { status: string }) => !FINAL.has(c.status));
      if (open.length === 0) return r;
      if (Date.now() > until)
        throw new Error(`commands not final after ${timeoutMs} ms: ${JSON.stringify(open)}`);
      await sleep(200);
    }
  }

  /**
   * MISSION §2's invariants over everything the chain did so far: points deducted = 10 × prizes issued at
   * C + refunds; no prize issued twice; C never oversells; every command final once the worker has run;
   * B's state equals the fold of its log.
   */
  async checkInvariants(): Promise<void> {
    const b = await this.settle();
    const c = await this.c();
    const issued = c.records.filter((r: { status: string }) => r.status === 'issued');
    const issuedQty = issued.reduce((n: number, r: { request: { qty: number } }) => n + r.request.qty, 0);
    expect(b.deducted).toBe(10 * issuedQty + b.refunded);
    // C never oversells: every unit it issued came out of its stock, and the stock is never negative.
    expect(c.stock).toBeGreaterThanOrEqual(0);
    expect(issuedQty + c.stock).toBe(c.supplied);
    // No prize issued twice: one C record per B command at most, and an issued one exactly for each success.
    const byKey = new Map(b.commands.map((cmd: { downstreamKey: string }) => [cmd.downstreamKey, cmd]));
    for (const r of c.records) expect(byKey.has(r.key)).toBe(true);
    for (const cmd of b.commands) {
      const recs = c.records.filter((r: { key: string }) => r.key === cmd.downstreamKey);
      const issuedFor = recs.filter((r: { status: string }) => r.status === 'issued');
      expect([cmd.key, issuedFor.length]).toEqual([cmd.key, cmd.status === 'succeeded' ? 1 : 0]);
      if (cmd.status === 'succeeded') expect(issuedFor[0].request.qty).toBe(cmd.qty);
    }
    // A command is one per (principal, key).
    const heads = b.commands.map((cmd: { principal: string; key: string }) => `${cmd.principal}/${cmd.key}`);
    expect(new Set(heads).size).toBe(heads.length);
    for (const a of b.accounts) expect([a.user, a.verified, a.problems]).toEqual([a.user, true, []]);
    // Every request C saw under one key is the same request (the stored snapshot, re-sent verbatim).
    for (const r of c.records) {
      for (const seen of c.received.filter((x: { key: string }) => x.key === r.key))
        expect(isDeepStrictEqual(seen.request, r.request)).toBe(true);
    }
  }
}
