import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `script` (TypeScript, through tsx's loader) with `cfg` as its JSON argument, hands every JSON line
 * it prints to `onLine`, and SIGKILLs it as soon as `onLine` returns true: the crash tests' harness.
 * Resolves when the process has exited, with how it ended and what it wrote to stderr.
 */
export function runUntilKilled(
  script: string,
  cfg: object,
  onLine: (msg: Record<string, unknown>) => boolean,
): Promise<{ signal: string | null; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(cfg)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.stdout!.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) {
        if (onLine(JSON.parse(line) as Record<string, unknown>)) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ signal, code, stderr }));
  });
}
