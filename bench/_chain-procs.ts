// Child processes for `npm run bench -- chain`: the example's nodes and the hand-written service, each its own
// Node process (so its CPU time can be read from /proc), tied to this process by an IPC channel.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Proc {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** CPU seconds (user + system) the process has used so far, from /proc; null where unreadable. */
  cpu(): number | null;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** CPU seconds used so far by a process (utime + stime in USER_HZ, 100 on Linux); null if unreadable. */
export function cpuOf(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** Starts `file` (relative to the repository) under tsx on a free port; resolves once it prints `ready`. */
export async function startProc(
  name: string,
  file: string,
  env: Record<string, string>,
  o: { ready?: string; nodeArgs?: string[]; port?: number } = {},
): Promise<Proc> {
  const port = o.port ?? (await freePort());
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', join(ROOT, file)], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'], // the channel closes if the bench dies: the child exits too
  });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = o.ready ?? 'listening on';
  await new Promise<void>((done, fail) => {
    const t = setTimeout(() => fail(new Error(`${name} did not start within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(ready)) {
        clearTimeout(t);
        done();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(t);
      fail(new Error(`${name} exited before it listened:\n${out}`));
    });
  });
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    cpu: () => cpuOf(child.pid),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith('.ts')) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  return t;
}

/**
 * The example imports 'tally' through the package's exports (dist/): builds it unless dist is newer than
 * src/, under the lock the example's tests use (.tmp/build.lock), so a concurrent test run does not build
 * at the same time.
 *
 * @example
 * await ensureBuilt();
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(ROOT, '.tmp', 'build.lock');
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
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
    if (built > newest(join(ROOT, 'src'))) return;
    console.log('building dist/ (the example imports tally from it) ...');
    // tsc emits even when it reports errors (others may be mid-edit in src/): go on with what it emitted
    // if the entry point is there, and say so.
    await new Promise<void>((done, fail) =>
      execFile('npm', ['run', 'build', '--silent'], { cwd: ROOT }, (err, out, errOut) => {
        if (!err) return done();
        try {
          statSync(join(ROOT, 'dist/src/http/index.js'));
          console.log(`npm run build reported errors; using what it emitted:\n${out}${errOut}`.trimEnd());
          done();
        } catch {
          fail(new Error(`npm run build failed:\n${out}${errOut}`));
        }
      }),
    );
  } finally {
    rmdirSync(lock);
  }
}
