import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { pglite, readDataDirHolder } from '../../src/db/pglite/index.js';

// The socket a data directory's owner offers (decision 0008): PostgreSQL clients take turns by
// transaction on PGlite's one session, and nothing one leaves behind reaches the others.
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

async function shared(busyTimeoutMs?: number) {
  const dir = join(mkdtempSync(join(tmpdir(), 'tally-socket-')), 'data');
  temps.push(join(dir, '..'));
  const owner = await pglite(dir, busyTimeoutMs ? { share: true, busyTimeoutMs } : { share: true });
  await owner.exec('CREATE TABLE t (id int PRIMARY KEY, v text)');
  const host = readDataDirHolder(dir)!.socket!;
  const client = async () => {
    const c = new pg.Client({ host, port: 5432, user: 'postgres', database: 'postgres' });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
  return { dir, owner, host, client };
}

describe('the shared socket of a PGlite data directory', () => {
  it('is the owner’s only (0700 directory, 0600 socket) and serves pg clients', async () => {
    const { owner, host, client } = await shared();
    expect(statSync(host).mode & 0o777).toBe(0o700);
    expect(statSync(join(host, '.s.PGSQL.5432')).mode & 0o777).toBe(0o600);
    const a = await client();
    await a.query('INSERT INTO t VALUES ($1, $2)', [1, 'a']);
    expect((await owner.query({ text: 'SELECT v FROM t' })).map((r) => r.v)).toEqual(['a']);
    await a.end();
    await owner.close();
  });

  it('keeps two connections’ prepared statements of the same name apart', async () => {
    const { owner, client } = await shared();
    await owner.exec(`INSERT INTO t VALUES (1, 'one'), (2, 'two')`);
    const [a, b] = [await client(), await client()];
    const byA = await a.query({ name: 'same', text: 'SELECT v FROM t WHERE id = $1', values: [1] });
    const byB = await b.query({ name: 'same', text: 'SELECT id FROM t WHERE v = $1', values: ['two'] });
    expect(byA.rows).toEqual([{ v: 'one' }]);
    expect(byB.rows).toEqual([{ id: 2 }]);
    expect(
      (await a.query({ name: 'same', text: 'SELECT v FROM t WHERE id = $1', values: [2] })).rows,
    ).toEqual([{ v: 'two' }]);
    await a.end();
    // a's statements went with it: a new connection may prepare the name again
    const c = await client();
    expect((await c.query({ name: 'same', text: 'SELECT 7 AS n', values: [] })).rows).toEqual([{ n: 7 }]);
    await Promise.all([b.end(), c.end()]);
    await owner.close();
  });

  it('rolls back what a connection left open when it went away, and the owner goes on', async () => {
    const { owner, client } = await shared();
    const a = await client();
    await a.query('BEGIN');
    await a.query(`INSERT INTO t VALUES (9, 'never')`);
    const waiting = owner.query({ text: 'SELECT count(*)::int AS n FROM t' }); // waits for a's transaction
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect(await waiting).toEqual([{ n: 0 }]);
    expect(await owner.query({ text: 'SELECT txid_current_if_assigned() AS x' })).toEqual([{ x: null }]);
    await owner.close();
  });

  it('answers 55P03 to a connection kept waiting longer than busyTimeoutMs by another’s transaction', async () => {
    const { owner, client } = await shared(1000); // a, idle meanwhile, is ended only after 2000 ms
    const [a, b] = [await client(), await client()];
    await a.query('BEGIN');
    await a.query(`INSERT INTO t VALUES (1, 'a')`);
    const err = await b.query('SELECT count(*) FROM t').then(
      () => null,
      (e: { code?: string; message: string }) => e,
    );
    expect(err?.code).toBe('55P03');
    expect(err?.message).toContain('the embedded database is busy');
    await a.query('COMMIT');
    expect((await b.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 1 }]);
    await Promise.all([a.end(), b.end()]);
    await owner.close();
  });

  it('ends a connection that sits idle in a transaction for twice busyTimeoutMs, so the owner goes on', async () => {
    const { owner, client } = await shared(300);
    const a = await client();
    await a.query('BEGIN');
    await a.query(`INSERT INTO t VALUES (3, 'hung')`);
    const t0 = Date.now();
    expect(await owner.query({ text: 'SELECT count(*)::int AS n FROM t' })).toEqual([{ n: 0 }]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    await expect(a.query('COMMIT')).rejects.toThrow();
    await owner.close();
  });

  it('puts the socket in the temp directory when the data directory’s path is too long for one', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tally-socket-'));
    temps.push(base);
    const dir = join(base, 'a-rather-long-directory-name-'.repeat(3), 'data');
    const owner = await pglite(dir, { share: true });
    const host = readDataDirHolder(dir)!.socket!;
    expect(host.startsWith(tmpdir())).toBe(true);
    expect(statSync(host).mode & 0o777).toBe(0o700);
    const c = new pg.Client({ host, port: 5432, user: 'postgres', database: 'postgres' });
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
    await owner.close();
    expect(() => statSync(host)).toThrow(); // removed with the socket
  });

  it('closes with a connection mid-transaction: it is rolled back, the socket removed, the lock released', async () => {
    const { dir, owner, host, client } = await shared();
    const a = await client();
    await a.query('BEGIN');
    await a.query(`INSERT INTO t VALUES (5, 'open')`);
    await owner.close();
    await expect(a.query('COMMIT')).rejects.toThrow();
    expect(() => statSync(join(host, '.s.PGSQL.5432'))).toThrow();
    expect(readDataDirHolder(dir)).toBeNull();
    const again = await pglite(dir);
    expect(await again.query({ text: 'SELECT count(*)::int AS n FROM t' })).toEqual([{ n: 0 }]);
    await again.close();
  });
});
