// The three framework examples (examples/express-drizzle, hono-kysely, nestjs-typeorm), each started as a
// user starts it (`tsx examples/<name>/main.ts`, DATABASE_URL, PORT=0) on its own fresh PostgreSQL
// database, and driven over real HTTP: one Idempotency-Key posted twice → one effect and a replay; the
// same key with a changed body → 422.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLES = ['express-drizzle', 'hono-kysely', 'nestjs-typeorm'] as const;

interface Started {
  child: ChildProcess;
  url: string;
  db: TestDatabase;
}

/** Starts one example on its own database; resolves with the address it prints. */
async function startExample(name: string): Promise<Started> {
  const db = await freshPostgres(2);
  const env = { ...process.env, DATABASE_URL: db.url!, PORT: '0' };
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}/main.ts`], { cwd: ROOT, env });
  let out = '';
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not start in 20 s:\n${out}`)), 20_000);
    const read = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[1]!);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => fail(new Error(`${name} exited (${code}) before listening:\n${out}`)));
  });
  return { child, url, db };
}

function post(url: string, key: string, body: unknown): Promise<Response> {
  return fetch(`${url}/closures`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, 'x-user': 'alice' },
    body: JSON.stringify(body),
  });
}

async function count(db: TestDatabase, text: string, values: unknown[]): Promise<number> {
  const [row] = await db.db.query<{ n: number }>({
    text: `SELECT count(*)::int AS n FROM (${text}) q`,
    values,
  });
  return Number(row!.n);
}

describe.skipIf(!postgresAvailable)('framework examples over real HTTP', () => {
  const started = new Map<string, Started>();

  beforeAll(async () => {
    // The examples import 'tally', which resolves through package.json exports to dist/: build it if stale.
    await new Promise<void>((done, fail) =>
      execFile(process.execPath, ['scripts/ensure-built.mjs'], { cwd: ROOT }, (err, _o, stderr) =>
        err ? fail(new Error(`ensure-built failed: ${stderr}`)) : done(),
      ),
    );
    const all = await Promise.allSettled(EXAMPLES.map((n) => startExample(n)));
    all.forEach((r, i) => {
      if (r.status === 'fulfilled') started.set(EXAMPLES[i]!, r.value);
    });
    const failed = all.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }, 60_000);

  afterAll(async () => {
    for (const s of started.values()) {
      s.child.kill('SIGTERM');
      await new Promise((done) => (s.child.exitCode !== null ? done(null) : s.child.once('exit', done)));
      await s.db.close();
    }
  });

  for (const name of EXAMPLES) {
    it(`${name}: one key twice → one closure, one transition, one log row, a replay; a changed body → 422`, async () => {
      const { url, db } = started.get(name)!;
      const body = { account: 2, reason: 'moved away' };
      const first = await post(url, 'close-2', body);
      const firstText = await first.text();
      expect(first.status, firstText).toBe(200);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const { id, status, result } = JSON.parse(firstText);
      expect(status).toBe('succeeded');
      expect(result).toEqual({ closure: id, account: 2, state: 'closed' });

      const again = await post(url, 'close-2', body);
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await again.text()).toBe(firstText);

      // One effect: the user's row (written through the ORM), the state, the log row (written by Tally).
      expect(await count(db, 'SELECT 1 FROM closures WHERE account = $1', [2])).toBe(1);
      expect(await count(db, 'SELECT 1 FROM closures WHERE id = $1', [id])).toBe(1);
      expect(await count(db, `SELECT 1 FROM accounts WHERE id = $1 AND state = 'closed'`, [2])).toBe(1);
      expect(
        await count(db, `SELECT 1 FROM tally.log WHERE entity_type = 'account' AND entity_key = $1`, ['2']),
      ).toBe(1);
      expect(await count(db, `SELECT 1 FROM accounts WHERE state = 'closed'`, [])).toBe(1);

      const changed = await post(url, 'close-2', { ...body, reason: 'another reason' });
      expect(changed.status).toBe(422);
      expect(changed.headers.get('content-type')).toContain('application/problem+json');
      expect(((await changed.json()) as { code: string }).code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(await count(db, 'SELECT 1 FROM closures', [])).toBe(1);
    });
  }
});
