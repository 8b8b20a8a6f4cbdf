// The points-redemption chain, three real processes: A (page) → B (Tally, PGlite) → C (prize platform).
// Run: `npm start`. Set DATABASE_URL=postgres://... to run B on PostgreSQL instead of embedded PGlite —
// each start drops and recreates the schemas points_b and points_tally in that database.
//
// Stopping: any of SIGINT (Ctrl-C), SIGTERM and SIGHUP, to this process or to npm, stops A, B and C and
// removes B's temporary data directory. package.json runs this file with `exec node --import tsx`: npm
// passes a signal on to its child, and without `exec` that child is a shell that dies of SIGTERM or holds a
// SIGINT, and never passes either on (nor does tsx's CLI, which also SIGKILLs a child slow to answer). This
// process also stops when any process it runs under is gone. A, B and C exit when this process does (their
// IPC channel to it closes), and chain.ts's janitor removes the directory even when this one is killed outright.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChain } from './chain.js';

const watched = ancestors(); // first: a parent that dies during start-up must still be noticed
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const readme = relative(process.cwd(), fileURLToPath(new URL('./README.md', import.meta.url)));
const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';
const starting = startChain({
  echo: process.argv.includes('--verbose'),
  // PostgreSQL outlives the run, C's in-memory records do not: B starts from nothing there too.
  ...(onPostgres ? { bEnv: { DATABASE_URL: process.env.DATABASE_URL! }, resetB: true } : {}),
});

let stopping = false;
let operator: ChildProcess | undefined; // `tally serve`: the console on B's database
async function stop(why: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${why}: stopping A, B and C ...`);
  if (operator?.exitCode === null) operator.kill('SIGTERM');
  const started = await starting.catch(() => undefined); // a failed start has stopped what it started
  await started?.stop();
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(sig, 0));
setInterval(() => {
  if (!watched.every(alive)) void stop('the process that started it is gone', 0);
}, 250).unref();
const chain = await starting;
for (const n of [chain.a, chain.b, chain.c]) {
  void n.exited.then((code) => {
    if (stopping) return;
    console.error(`${n.name} exited (${code}); stopping the chain.\n${n.output()}`);
    void stop(`${n.name} exited`, 1);
  });
}

for (const user of ['alice', 'bob', 'carol']) {
  await fetch(`${chain.b.url}/admin/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, points: 100 }),
  });
}
const db = onPostgres
  ? 'PostgreSQL at DATABASE_URL; schemas points_b and points_tally dropped and recreated'
  : `PGlite in ${chain.dataDir}, removed on exit`;
const consoleUrl = await startConsole();
console.log(`Points redemption A → B → C is up (alice, bob and carol have 100 points each).
  Open the page:    ${chain.a.url}
  B's report:       ${chain.b.url}/admin/report   (balances, points moved per the log, commands)
  C's faults:       ${chain.c.url}/admin/faults   (POST JSON, e.g. {"delayMs": 3000}; GET ${chain.c.url}/admin/state)
  The console:      ${consoleUrl}   (the chain from the operator's side: commands, timelines, alerts, history)
  What to try:      ${readme}
B points service: ${chain.b.url} (${db})
Ctrl-C stops all of them.`);

/**
 * Starts `tally serve --module b/operator.ts` (the built CLI: prestart built dist/ and console/dist; the
 * module through tsx) on B's database — through the
 * socket B shares its PGlite directory on, or on DATABASE_URL — with B's Tally schema, on a free loopback
 * port. The preload makes it exit when this process is gone (its IPC channel closes), as A, B and C do.
 * Resolves with its address; a console that does not start is reported and the chain runs on without it.
 */
function startConsole(): Promise<string> {
  const where = onPostgres ? ['--database-url', process.env.DATABASE_URL!] : ['--data-dir', chain.dataDir];
  const exitWithParent = `data:text/javascript,process.on('disconnect',()=>process.exit(0))`;
  const cli = resolve(ROOT, 'dist/src/cli/main.js');
  const child = spawn(
    process.execPath,
    [
      ...['--import', exitWithParent, cli, 'serve', '--port', '0', '--schema', 'points_tally', ...where],
      // B's declarations (resume and repair from the page) and C as the Reconcile view's downstream.
      ...['--module', resolve(ROOT, 'examples/points-redemption/b/operator.ts')],
    ],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '', C_URL: chain.c.url },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  operator = child;
  let out = '';
  return new Promise((done) => {
    const seen = (d: Buffer) => {
      out += d.toString();
      const m = /console on (http:\/\/\S+)/.exec(out);
      if (m) done(m[1]!);
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.once('exit', (c) => done(`(not started: tally serve exited ${c})\n${out.trim()}`));
  });
}

/**
 * The processes this one runs under, up to init: npm, its shell, tsx's CLI, and whatever started npm. When
 * any of them is gone, the run is over: SIGINT to npm alone ends npm but not its shell, SIGTERM ends both,
 * and neither reaches this process.
 */
function ancestors(): number[] {
  const parentOf = new Map<number, number>();
  try {
    for (const line of execFileSync('ps', ['-A', '-o', 'pid=,ppid=']).toString().split('\n')) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (pid !== undefined && ppid !== undefined) parentOf.set(pid, ppid);
    }
  } catch {}
  const out: number[] = [];
  for (let pid = process.ppid; pid > 1 && out.length < 32 && !out.includes(pid); pid = parentOf.get(pid) ?? 0)
    out.push(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
