#!/usr/bin/env node
// Builds dist/ when it is missing or older than src/ — the examples import 'tally', which resolves through
// package.json `exports` to dist/. Run by `npm start` and the example scripts (their `pre` scripts), so a
// fresh clone needs no `prepare` script: installing the published package runs nothing of ours, and
// `npm pack` / `npm publish` build through `prepack`. The web console (console/dist, which `npm start`'s
// `tally serve` shows) is built the same way when it is older than console/src or console/static. One
// build at a time (a lock directory in .tmp/, the same one the example tests take).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LOCK = join(ROOT, '.tmp', 'build.lock');
const BUILT = join(ROOT, 'dist/src/index.js');
const CONSOLE_BUILT = join(ROOT, 'console/dist/index.html');

function newest(dir, ext = '.ts') {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(ext))
      t = Math.max(t, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs);
  }
  return t;
}

function builtAt(file = BUILT) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

mkdirSync(dirname(LOCK), { recursive: true });
const deadline = Date.now() + 600_000;
for (;;) {
  try {
    mkdirSync(LOCK);
    break;
  } catch {
    if (Date.now() > deadline) throw new Error(`${LOCK} held for 10 minutes: remove it if no build runs`);
    sleep(200);
  }
}
try {
  if (builtAt() <= newest(join(ROOT, 'src'))) {
    process.stderr.write('building dist/ (tsc -p tsconfig.build.json) ...\n');
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
  }
  const consoleSources = Math.max(
    newest(join(ROOT, 'console/src')),
    newest(join(ROOT, 'console/static'), ''),
  );
  if (builtAt(CONSOLE_BUILT) <= consoleSources) {
    process.stderr.write('building console/dist/ (node console/build.mjs) ...\n');
    execFileSync(process.execPath, [join(ROOT, 'console/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  }
} finally {
  rmdirSync(LOCK);
}
