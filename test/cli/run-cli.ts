import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const MAIN = join(ROOT, 'src/cli/main.ts');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tally ...args` (the TypeScript source, through tsx) as a child process. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  const env = { ...process.env, ...options.env };
  if (options.env && 'DATABASE_URL' in options.env && options.env.DATABASE_URL === undefined)
    delete env.DATABASE_URL;
  return new Promise((done) => {
    execFile(
      TSX,
      [MAIN, ...args],
      { cwd: options.cwd ?? ROOT, env, timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Runs `tally ...args` in this process, through the same entry the binary uses (no tsx start-up per run:
 * a file with many runs stays quick). `env` is all the environment the command sees.
 */
export async function runCliInProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd = ROOT,
): Promise<CliRun> {
  const { run } = await import('../../src/cli/run.js');
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { out: (t) => out.push(t), err: (t) => err.push(t), env, cwd });
  const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
  return { code, stdout: text(out), stderr: text(err) };
}

/**
 * A new empty directory under the OS temp dir. Made inside a test, it is removed when the test ends (a
 * PGlite data directory in it is tens of MB); made while a file is collected, the caller removes it.
 */
export function tempDir(prefix = 'tally-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  } catch {
    // not inside a running test: the caller's afterAll removes it (test/cli/cli.test.ts)
  }
  return dir;
}
