// Starts the three nodes as separate processes on free local ports and wires them together:
// A → B (/redemptions), B → C (/issue, /issue/:key), C → B (/callbacks/prizes).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

export interface Node {
  readonly name: 'A' | 'B' | 'C';
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves when the process prints a line containing `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

export interface ChainOptions {
  /**
   * B's PGlite data directory. Default: a fresh temporary one, removed by `stop()` — or, when this
   * process dies without stopping (SIGKILL), by a janitor process once B has exited. Ignored with DATABASE_URL.
   */
  dataDir?: string;
  /** Extra environment for B (e.g. QUERY_AFTER_MS, LEASE_MS, DATABASE_URL). */
  bEnv?: Record<string, string>;
  cEnv?: Record<string, string>;
  /** B's first start drops its schemas (RESET=1); restarts keep them. For PostgreSQL, which outlives runs. */
  resetB?: boolean;
  /** Print the nodes' output to this process's stdout. */
  echo?: boolean;
}

export interface Chain {
  a: Node;
  b: Node;
  c: Node;
  dataDir: string;
  /** Starts B again on the same port and data (after a kill), with extra environment. */
  restartB(env?: Record<string, string>): Promise<Node>;
  /** Stops A, B and C (SIGTERM; SIGKILL after `graceMs`, default 10 s), removes a temporary data directory. */
  stop(graceMs?: number): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

function startNode(
  name: Node['name'],
  file: string,
  port: number,
  env: Record<string, string>,
  echo: boolean,
) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, file)], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'], // the channel closes if this process dies: the node exits too
  });
  let out = '';
  const waiters: { text: string; done: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    const s = chunk.toString();
    out += s;
    if (echo) process.stdout.write(s.replace(/^(?=.)/gm, `[${name}] `));
    for (const w of waiters.splice(0)) {
      if (out.includes(w.text)) w.done();
      else waiters.push(w);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const node: Node = {
    name,
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => out,
    exited,
    waitFor(text, timeoutMs = 60_000) {
      if (out.includes(text)) return Promise.resolve();
      return new Promise((done, fail) => {
        const t = setTimeout(
          () => fail(new Error(`${name} did not print "${text}" within ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        );
        waiters.push({
          text,
          done: () => {
            clearTimeout(t);
            done();
          },
        });
        void exited.then((code) => fail(new Error(`${name} exited (${code}) before "${text}":\n${out}`)));
      });
    },
  };
  return node;
}

/** Starts janitor.ts for a temporary directory; `watch(pid)` tells it about B's process. */
function startJanitor(dir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'janitor.ts'), dir], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.unref(); // it never keeps this process alive: when this process ends, the channel closes
  (child.channel as { unref?: () => void } | undefined)?.unref?.();
  const ready = new Promise<void>((r) => child.once('message', () => r()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    watch: (pid: number | undefined) => {
      if (pid !== undefined) void ready.then(() => child.connected && child.send({ pid }));
    },
    async stop() {
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

/**
 * Starts C, then B (on PGlite in `dataDir` unless DATABASE_URL is given), then A; resolves when all three
 * listen.
 *
 * @example
 * const chain = await startChain();
 * console.log(`open ${chain.a.url}`);
 */
export async function startChain(o: ChainOptions = {}): Promise<Chain> {
  const [pa, pb, pc] = [await freePort(), await freePort(), await freePort()];
  const echo = o.echo ?? false;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'tally-points-b-'));
  const janitor = o.dataDir === undefined ? startJanitor(dataDir) : undefined;
  const startB = (env: Record<string, string>) => {
    const b = startNode('B', 'b/server.ts', pb, bEnvOf(env), echo);
    janitor?.watch(b.process.pid);
    return b;
  };
  const bUrl = `http://127.0.0.1:${pb}`;
  const cUrl = `http://127.0.0.1:${pc}`;
  const bEnvOf = (extra: Record<string, string> = {}) => ({
    C_URL: cUrl,
    DATA_DIR: dataDir,
    ...o.bEnv,
    ...extra,
  });
  const c = startNode('C', 'c/server.ts', pc, { CALLBACK_URL: `${bUrl}/callbacks/prizes`, ...o.cEnv }, echo);
  const chain: Chain = {
    c,
    b: startB(o.resetB ? { RESET: '1' } : {}),
    a: startNode('A', 'a/server.ts', pa, { B_URL: bUrl }, echo),
    dataDir,
    async restartB(env) {
      chain.b = startB(env ?? {});
      await chain.b.waitFor('listening on');
      return chain.b;
    },
    async stop(graceMs = 10_000) {
      const nodes = [chain.a, chain.b, chain.c];
      const running = (n: Node) => n.process.exitCode === null && n.process.signalCode === null;
      for (const n of nodes) if (running(n)) n.process.kill('SIGTERM');
      const late = setTimeout(() => {
        for (const n of nodes) if (running(n)) n.process.kill('SIGKILL');
      }, graceMs);
      await Promise.all(nodes.map((n) => n.exited));
      clearTimeout(late);
      if (o.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
      await janitor?.stop();
    },
  };
  try {
    await Promise.all([
      chain.c.waitFor('listening on'),
      chain.b.waitFor('listening on'),
      chain.a.waitFor('listening on'),
    ]);
  } catch (err) {
    await chain.stop();
    throw err;
  }
  return chain;
}
