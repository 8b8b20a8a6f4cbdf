// What the console's browser tests share: the console built into a folder of the test's own, a real
// `startConsoleServer` on a real database, and headless Chromium (playwright-core drives Debian's chromium).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Builds console/src into a fresh temporary folder (console/build.mjs) and returns it. */
export function buildConsole(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tally-console-'));
  execFileSync(process.execPath, [join(ROOT, 'console/build.mjs'), dir], { cwd: ROOT, stdio: 'pipe' });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every built file's text (to check that no HTML sink is used anywhere). */
export function builtSources(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.js')) {
      const file = join(e.parentPath, e.name);
      out.push({ file, text: readFileSync(file, 'utf8') });
    }
  }
  return out;
}

/** Collects what went wrong on the page: uncaught errors and console errors. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
