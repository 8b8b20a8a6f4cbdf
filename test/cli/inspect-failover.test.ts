import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';
import { uuidV7 } from '../../src/commands/failover.js';
import { postgres } from '../../src/db/postgres/index.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { type TcpProxy, tcpProxy } from '../support/tcp-proxy.js';
import { ROOT } from './run-cli.js';

// `tally inspect --failover` (decision 0037): the failover store's records beside the primary's, each
// event with its store; a failover store that cannot be read is a warning, not a failure.

type Input = { user: string; qty: number };

/** Runs `tally ...args` in this process (no tsx start-up per run: the file stays quick). */
async function tally(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env, cwd: ROOT };
  const code = await run(args, io);
  const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
  return { code, stdout: text(out), stderr: text(err) };
}

describe.skipIf(!postgresAvailable)('tally inspect --failover: both stores', () => {
  let primaryDb: TestDatabase;
  let secondaryDb: TestDatabase;
  let proxy: TcpProxy;
  let pool: pg.Pool;
  const ids = { moved: '', recorded: '' };
  const keys = { moved: '', recorded: '' };

  beforeAll(async () => {
    [primaryDb, secondaryDb] = await Promise.all([freshPostgres(2), freshPostgres(2)]);
    proxy = await tcpProxy();
    const url = new URL(primaryDb.url!);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    pool = new pg.Pool({ connectionString: url.toString(), max: 2, connectionTimeoutMillis: 800 });
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const secondary = secondaryDb.db;
    let t = Date.parse('2026-12-07T10:00:00.000Z');
    const t0 = await createTally({ db: postgres(pool), clock: () => new Date(t) });
    await t0.migrate();
    await (await createTally({ db: secondary })).migrate();
    const redeem = t0.command<Input>('cli_fo_redeem', {
      fingerprint: (i) => ({ user: i.user, qty: i.qty }),
      failover: { db: secondary, retryPrimaryMs: 0 },
      steps: [{ name: 'grant', run: async (ctx) => ({ granted: ctx.input.qty }) }],
    });
    // The outage: two new commands are recorded on the secondary (nothing of them runs there).
    proxy.cut('refuse');
    for (const which of ['moved', 'recorded'] as const) {
      keys[which] = uuidV7(new Date(t + 1));
      const r = await redeem.submit({ key: keys[which], principal: 'u1', input: { user: 'u1', qty: 1 } });
      expect(r.store).toBe('secondary');
      ids[which] = r.id;
    }
    // Recovery: a retry of one hands it over and runs it on the primary; the other is still recorded only.
    proxy.restore();
    t += 60_000;
    const done = await redeem.submit({ key: keys.moved, principal: 'u1', input: { user: 'u1', qty: 1 } });
    expect(done).toMatchObject({ id: ids.moved, status: 'succeeded' });
  });
  afterAll(async () => {
    await proxy?.close();
    await pool?.end().catch(() => {});
    await Promise.all([primaryDb?.close(), secondaryDb?.close()]);
  });

  it('shows a command with records on both stores, and one only the failover store holds', async () => {
    const both = await tally([
      'inspect',
      keys.moved,
      '--failover',
      secondaryDb.url!,
      '--database-url',
      primaryDb.url!,
    ]);
    expect(both.stderr).toBe('');
    expect(both.code).toBe(0);
    expect(both.stdout).toContain(`command ${ids.moved}`);
    expect(both.stdout).toContain('status succeeded');
    expect(both.stdout).toContain('  store primary\n');
    expect(both.stdout).toContain('  stores  primary read  secondary read\n');
    expect(both.stdout).toContain(
      `  failover record ${ids.moved}  received 2026-12-07T10:00:00.000Z  handed over 2026-12-07T10:01:00.000Z (moved into ${ids.moved})`,
    );
    const lines = both.stdout.split('\n').filter((l) => /^ {2}\d{4}-/.test(l));
    expect(lines.map((l) => l.split(/\s+/).slice(2, 4).join(' ')).slice(0, 4)).toEqual([
      'secondary submitted',
      'primary submitted',
      'secondary handed_over',
      'primary handed_over',
    ]);
    expect(lines.some((l) => /primary\s+succeeded/.test(l))).toBe(true);

    const only = await tally([
      'inspect',
      ids.recorded,
      '--json',
      '--failover',
      secondaryDb.url!,
      '--database-url',
      primaryDb.url!,
    ]);
    expect(only.code).toBe(0);
    const doc = JSON.parse(only.stdout);
    expect(doc.command).toMatchObject({ id: ids.recorded, store: 'secondary', status: 'pending' });
    expect(doc.stores).toEqual({ primary: 'read', secondary: 'read' });
    expect(doc.intake).toMatchObject({ id: ids.recorded, handedOverAt: null });
    expect(doc.events.map((e: { store: string; kind: string }) => `${e.store} ${e.kind}`)).toEqual([
      'secondary submitted',
    ]);
  });

  it('an unreachable failover store (FAILOVER_DATABASE_URL): the primary records, and a clear warning', async () => {
    const r = await tally(['inspect', ids.moved, '--database-url', primaryDb.url!], {
      FAILOVER_DATABASE_URL: 'postgres://tally@127.0.0.1:1/failover',
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: the failover store could not be read \(DB_ERROR: cannot connect to PostgreSQL postgres:\/\/tally@127\.0\.0\.1:1\/failover .*\): only the primary's records are shown\n$/,
    );
    expect(r.stdout).toContain(`command ${ids.moved}`);
    expect(r.stdout).toContain('  stores  primary read  secondary NOT READ (see the warning)\n');
    expect(r.stdout).not.toContain('failover record');
    expect(r.stdout).toMatch(/primary\s+succeeded/);

    // A directory that is not there: the same, with its reason.
    const noDir = ['--failover', '/nonexistent/tally-failover', '--database-url', primaryDb.url!];
    const missing = await tally(['inspect', ids.moved, ...noDir]);
    expect(missing.code).toBe(0);
    expect(missing.stderr).toMatch(/^warning: the failover store could not be read \(NO_DATABASE: /);

    // The other way round: the primary away, the failover store's record is shown, with a warning.
    const away = 'postgres://tally@127.0.0.1:1/primary';
    const down = await tally(['inspect', ids.recorded, '--failover', secondaryDb.url!, away]);
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(
      /^warning: the primary could not be read \(DB_ERROR: cannot connect .*\): only the failover store's record is shown\n$/,
    );
    expect(down.stdout).toContain(`command ${ids.recorded}`);
    expect(down.stdout).toContain('  stores  primary NOT READ (see the warning)  secondary read\n');
    // Nothing on the failover store either: the primary's error, as without --failover.
    const none = await tally(['inspect', 'no-such-key', '--failover', secondaryDb.url!, away]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error DB_ERROR: cannot connect to PostgreSQL/);
  });
});
