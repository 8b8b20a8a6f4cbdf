import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./fixtures/pglite-proc.ts', import.meta.url));

export type Msg = Record<string, unknown>;

/** A fixtures/pglite-proc.ts process: its JSON lines as they come, and how it ended. */
export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: Msg[];
  /** The first line (seen or coming) that `pred` accepts. */
  next(pred: (m: Msg) => boolean, timeoutMs?: number): Promise<Msg>;
  /** Sends a line to its stdin (the hold and open modes stop on it). */
  poke(): void;
  readonly exited: Promise<{ code: number | null; signal: string | null; stderr: string }>;
}

/**
 * Starts `node --import tsx fixtures/pglite-proc.ts <cfg>`.
 *
 * @example
 * const holder = start({ mode: 'hold', dir, share: true }); await holder.next((m) => m.ready === true);
 */
export function start(cfg: object): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(cfg)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Msg[] = [];
  const waiters: { pred: (m: Msg) => boolean; done: (m: Msg) => void }[] = [];
  let out = '';
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  child.stdout!.on('data', (d) => {
    out += d;
    const parts = out.split('\n');
    out = parts.pop()!;
    for (const line of parts) {
      const msg = JSON.parse(line) as Msg;
      lines.push(msg);
      for (const w of [...waiters]) {
        if (w.pred(msg)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.done(msg);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return {
    child,
    pid: child.pid!,
    lines,
    next(pred, timeoutMs = 300_000) {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching line within ${timeoutMs} ms; lines ${JSON.stringify(lines)}; stderr ${stderr}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          done: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`exited first; lines ${JSON.stringify(lines)}; stderr ${stderr}`));
        });
      });
    },
    poke() {
      child.stdin!.write('stop\n');
    },
    exited,
  };
}
