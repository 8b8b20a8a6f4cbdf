import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processStartTicks } from '../../src/db/pglite/holder.js';
import { pglite, readDataDirHolder } from '../../src/db/pglite/index.js';
import { isTallyError, type TallyError } from '../../src/errors.js';
import { runCliInProcess } from '../cli/run-cli.js';
import { type Proc, start } from './pglite-procs.js';

// Issue 20: two processes on one PGlite directory lost a write and reported success. One process owns a
// directory now; a second is refused naming the holder, or comes in through the owner's socket.
// The holders and racers are processes of their own (fixtures/pglite-proc.ts). The CLI runs in this test
// process, through the entry the binary calls (no DATABASE_URL in its environment): it is a process other
// than the holder all the same, and a tsx start-up per command made this file one of the slowest.
const cli = (args: string[]) => runCliInProcess(args, {});
// Each test starts Node processes that boot PGlite: minutes on a loaded machine.
const SLOW = 600_000;
const ENTITY = ['--entity', 'resource', '--table', 'resources'];
const temps: string[] = [];
const procs: Proc[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tally-owner-'));
  temps.push(d);
  return d;
}

afterAll(async () => {
  for (const p of procs)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function run(cfg: object): Proc {
  const p = start(cfg);
  procs.push(p);
  return p;
}

async function refusal(open: Promise<unknown>): Promise<TallyError> {
  const err = await open.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTallyError(err, 'DATA_DIR_LOCKED')).toBe(true);
  return err as TallyError;
}

async function stateOf(dir: string, key: number) {
  const db = await pglite(dir);
  try {
    const [row] = await db.query<{ state: string; version: number }>({
      text: 'SELECT state, version FROM resources WHERE id = $1',
      values: [key],
    });
    const [log] = await db.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM tally.log WHERE entity_type = 'resource' AND entity_key = $1`,
      values: [String(key)],
    });
    return { ...row, logRows: log!.n };
  } finally {
    await db.close();
  }
}

describe('one owner per PGlite data directory, in one process', () => {
  it('refuses a second open, names this process, and lets go on close; in-memory takes no lock', async () => {
    const dir = join(tempDir(), 'data');
    const db = await pglite(dir);
    expect(readdirSync(join(dir, 'tally.lock'))).toEqual([expect.stringMatching(/^holder\./)]);
    const err = await refusal(pglite(dir));
    expect(err.message).toContain(`is held by pid ${process.pid}`);
    expect(err.message).toContain('this very process');
    expect(err.details).toMatchObject({ pid: process.pid, hostname: hostname(), socket: null });
    expect(readDataDirHolder(dir)).toMatchObject({ pid: process.pid, socket: null });
    await db.close();
    expect(existsSync(join(dir, 'tally.lock'))).toBe(false);
    expect(readDataDirHolder(dir)).toBeNull();
    const again = await pglite(dir);
    await again.close();
    const a = await pglite();
    const b = await pglite();
    await Promise.all([a.close(), b.close()]);
  });

  it.runIf(process.platform === 'linux')(
    'takes over a lock whose pid now names another process; never one whose holder still runs',
    async () => {
      const dir = join(tempDir(), 'data');
      const forge = (ticks: string) => {
        rmSync(join(dir, 'tally.lock'), { recursive: true, force: true });
        mkdirSync(join(dir, 'tally.lock'), { recursive: true });
        const id = `${process.pid}.${ticks}.forged`;
        const since = '2001-01-01T00:00:00.000Z'; // however long it has held the lock
        const record = { id, pid: process.pid, hostname: hostname(), command: 'forged', since, socket: null };
        writeFileSync(
          join(dir, 'tally.lock', `holder.${id}.json`),
          JSON.stringify({ ...record, bootId: null }),
        );
      };
      forge(String(Number(processStartTicks(process.pid)) + 1)); // this pid, but another start: reused
      const db = await pglite(dir);
      await db.close();
      forge(processStartTicks(process.pid)!); // this very process, alive
      const err = await refusal(pglite(dir));
      expect(err.message).toContain('(forged)');
      expect(err.message).toContain('since 2001-01-01');
      rmSync(join(dir, 'tally.lock'), { recursive: true, force: true });
    },
  );
});

describe('one owner per PGlite data directory, across processes', () => {
  it(
    'refuses a second process, library and CLI, naming the holder; the holder loses nothing',
    async () => {
      const dir = join(tempDir(), 'data');
      const holder = run({ mode: 'hold', dir, share: false });
      await holder.next((m) => m.ready === true);
      await holder.next((m) => Number(m.transitions) >= 5);

      const second = run({ mode: 'write', dir, ifHeld: 'connect', id: 100 });
      const refused = await second.next((m) => 'error' in m);
      expect(refused.error).toBe('DATA_DIR_LOCKED');
      expect(refused.message).toContain(`is held by pid ${holder.pid} (node `);
      expect(refused.message).toContain('pglite-proc.ts');
      expect(refused.message).toMatch(/since \d{4}-\d\d-\d\dT/);
      expect(refused.message).toContain('{ share: true }');
      expect((await second.exited).code).toBe(1);

      const log = await cli(['log', '--entity', 'resource', '--key', '1', '--data-dir', dir]);
      expect(log.code).toBe(1);
      expect(log.stderr).toMatch(new RegExp(`^error DATA_DIR_LOCKED: .*held by pid ${holder.pid} \\(node `));
      const repair = await cli([
        'repair',
        ...ENTITY,
        '--apply',
        '--actor',
        'ops',
        '--reason',
        'try',
        '--data-dir',
        dir,
      ]);
      expect(repair.code).toBe(1);
      expect(repair.stderr).toContain('error DATA_DIR_LOCKED');
      expect(repair.stdout).toBe('');

      holder.poke();
      const closed = await holder.next((m) => m.closed === true);
      expect((await holder.exited).code).toBe(0);
      const one = await stateOf(dir, 1);
      expect(one.logRows).toBe(closed.transitions); // every transition the holder made is there
      expect(one.version).toBe(closed.transitions);
      expect((await stateOf(dir, 100)).state).toBeUndefined(); // refused, not written and lost
    },
    SLOW,
  );

  it(
    'lets a second process in through the socket of a holder that shares: both writes stay',
    async () => {
      const dir = join(tempDir(), 'data');
      const holder = run({ mode: 'hold', dir, share: true });
      await holder.next((m) => m.ready === true);
      expect(readDataDirHolder(dir)?.socket).toBe(join(dir, 'tally-socket'));

      const second = run({ mode: 'write', dir, ifHeld: 'connect', id: 100 });
      expect(await second.next((m) => 'ok' in m || 'error' in m)).toEqual({ ok: true, dialect: 'postgres' });
      expect((await second.exited).code).toBe(0);
      // Without ifHeld: 'connect' the library still refuses, and says how to come in.
      const plain = run({ mode: 'write', dir, id: 101 });
      const told = await plain.next((m) => 'error' in m);
      expect(told.error).toBe('DATA_DIR_LOCKED');
      expect(told.message).toContain(`through its socket in ${join(dir, 'tally-socket')}`);

      // The CLI comes in through the socket and sees the history as it is now.
      await holder.next((m) => Number(m.transitions) >= 10);
      const log = await cli(['log', '--entity', 'resource', '--key', '100', '--data-dir', dir]);
      expect(log.stderr).toBe('');
      expect(log.code).toBe(0);
      expect(log.stdout).toContain('second');
      const reconcile = await cli(['reconcile', ...ENTITY, '--data-dir', dir]);
      expect(reconcile.stderr).not.toContain('error');
      expect(reconcile.code).toBe(0);

      holder.poke();
      const closed = await holder.next((m) => m.closed === true);
      expect((await holder.exited).code).toBe(0);
      expect(existsSync(join(dir, 'tally-socket', '.s.PGSQL.5432'))).toBe(false);
      const one = await stateOf(dir, 1);
      expect(one.logRows).toBe(closed.transitions);
      expect(await stateOf(dir, 100)).toMatchObject({ state: 'frozen', logRows: 2 });
      const after = await cli(['reconcile', ...ENTITY, '--data-dir', dir]);
      expect(after.stderr).not.toContain('error');
      expect(after.code).toBe(0);
    },
    SLOW,
  );

  it(
    'takes over the lock of a holder killed with SIGKILL, and the directory is whole',
    async () => {
      const dir = join(tempDir(), 'data');
      const holder = run({ mode: 'hold', dir, share: true });
      await holder.next((m) => Number(m.transitions) >= 5);
      holder.child.kill('SIGKILL');
      expect((await holder.exited).signal).toBe('SIGKILL');
      const left = readdirSync(join(dir, 'tally.lock'));
      expect(left).toEqual([expect.stringMatching(new RegExp(`^holder\\.${holder.pid}\\.`))]);
      expect(readDataDirHolder(dir)).toBeNull(); // dead: nobody holds it

      const db = await pglite(dir, { share: true }); // the dead owner's socket file is replaced too
      expect(readDataDirHolder(dir)).toMatchObject({ pid: process.pid });
      await db.close();
      const one = await stateOf(dir, 1);
      expect(one.logRows).toBe(one.version);
      const r = await cli(['reconcile', ...ENTITY, '--data-dir', dir]);
      expect(r.stderr).not.toContain('error');
      expect(r.code).toBe(0);
    },
    SLOW,
  );

  for (const stale of [false, true]) {
    it(
      `two processes racing for ${stale ? "a dead holder's lock" : 'an empty directory'}: exactly one owns it`,
      async () => {
        const dir = join(tempDir(), 'data');
        if (stale) {
          const holder = run({ mode: 'hold', dir });
          await holder.next((m) => m.ready === true);
          holder.child.kill('SIGKILL');
          await holder.exited;
        }
        const racers = [run({ mode: 'open', dir }), run({ mode: 'open', dir })];
        await Promise.all(racers.map((r) => r.next((m) => m.loaded === true)));
        for (const r of racers) r.poke(); // they leave together
        const first = await Promise.all(racers.map((r) => r.next((m) => 'owner' in m || 'error' in m)));
        const owners = racers.filter((_, i) => first[i]!.owner === true);
        expect(owners).toHaveLength(1);
        const loser = first.find((m) => 'error' in m)!;
        expect(loser.error).toBe('DATA_DIR_LOCKED');
        expect(loser.message).toContain(`held by pid ${owners[0]!.pid}`);
        owners[0]!.poke();
        expect((await owners[0]!.exited).code).toBe(0);
        expect(await stateOf(dir, 2)).toEqual({ state: 'active', version: 0, logRows: 0 });
        expect(existsSync(join(dir, 'tally.lock'))).toBe(false);
      },
      SLOW,
    );
  }
});
