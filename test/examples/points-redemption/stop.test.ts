// Stopping `npm start`: whichever signal ends it — SIGTERM or SIGINT to npm alone, Ctrl-C (SIGINT to the
// whole process group), or the launcher killed outright — no process of the run survives and B's PGlite
// folder is gone from the temp directory. Its first lines say where to go next.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureBuilt, sleep } from './support.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

interface Run {
  npm: ChildProcess;
  out: () => string;
  dataDir: string;
}
let run: Run | undefined;

/**
 * `npm start` in a process group of its own (its pgid is npm's pid), once it has printed the page. Built
 * here (ensureBuilt), so npm skips its prestart build (--ignore-scripts skips pre and post scripts only).
 */
async function npmStart(): Promise<Run> {
  await ensureBuilt();
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const npm = spawn('npm', ['start', '--silent', '--ignore-scripts'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  npm.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  npm.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const started: Run = { npm, out: () => out, dataDir: '' };
  run = started;
  for (const until = Date.now() + 180_000; !/Ctrl-C stops/.test(out); await sleep(100)) {
    if (Date.now() > until || npm.exitCode !== null) throw new Error(`npm start did not come up:\n${out}`);
  }
  started.dataDir = /PGlite in (\S+?),/.exec(out)![1]!;
  expect(existsSync(started.dataDir)).toBe(true);
  return started;
}

/** The run's processes (its process group), as ps shows them. */
function members(pgid: number): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,stat=,args=', '-g', String(pgid)])
      .toString()
      .split('\n')
      .filter((l) => l.trim() !== '' && !/\sZ/.test(l)); // zombies are gone, their parent has yet to reap them
  } catch {
    return []; // ps exits 1 when nothing matches
  }
}

async function expectAllGone(r: Run): Promise<void> {
  const pgid = r.npm.pid!;
  for (const until = Date.now() + 30_000; members(pgid).length > 0 && Date.now() < until; ) await sleep(200);
  expect(members(pgid)).toEqual([]);
  expect(existsSync(r.dataDir)).toBe(false);
}

afterEach(async () => {
  if (!run) return;
  // A test that failed half-way: stop the run as a user would, so the janitor can still remove B's
  // folder (it outlives SIGTERM, not SIGKILL); only what is left after that is killed.
  const pgid = run.npm.pid!;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {} // the group is gone already
  };
  signal('SIGTERM');
  for (const until = Date.now() + 20_000; members(pgid).length > 0 && Date.now() < until; ) await sleep(200);
  if (members(pgid).length > 0) signal('SIGKILL');
  if (run.dataDir) rmSync(run.dataDir, { recursive: true, force: true });
  run = undefined;
});

// Each test starts the chain anew (tsx compiles four processes): slow on a loaded machine.
describe('stopping npm start', { timeout: 300_000 }, () => {
  it('SIGTERM to npm ends the launcher, A, B and C and removes the folder; the first lines say where to go', async () => {
    const r = await npmStart();
    const out = r.out();
    const url = (label: string) => new RegExp(`${label}\\s+http://127\\.0\\.0\\.1:\\d+`).exec(out)?.[0];
    expect(url('Open the page:')).toBeDefined();
    expect(out).toMatch(/B's report:\s+http:\/\/127\.0\.0\.1:\d+\/admin\/report/);
    expect(out).toMatch(/C's faults:\s+http:\/\/127\.0\.0\.1:\d+\/admin\/faults/);
    expect(out).toContain('examples/points-redemption/README.md');
    expect(members(r.npm.pid!).filter((l) => /[abc]\/server\.ts/.test(l))).toHaveLength(3);
    process.kill(r.npm.pid!, 'SIGTERM');
    await expectAllGone(r);
  });

  it('SIGINT to npm alone ends everything and removes the folder', async () => {
    const r = await npmStart();
    process.kill(r.npm.pid!, 'SIGINT');
    await expectAllGone(r);
  });

  it('Ctrl-C (SIGINT to the process group) ends everything and removes the folder', async () => {
    const r = await npmStart();
    process.kill(-r.npm.pid!, 'SIGINT');
    await expectAllGone(r);
  });

  it('the launcher killed outright (SIGKILL): A, B and C exit and the folder is removed', async () => {
    const r = await npmStart();
    const launcher = members(r.npm.pid!).find((l) => /start\.ts/.test(l) && !/\.bin\/tsx|sh -c/.test(l));
    expect(launcher).toBeDefined();
    process.kill(Number(launcher!.trim().split(/\s+/)[0]), 'SIGKILL');
    await expectAllGone(r);
  });
});
