#!/usr/bin/env node
// Builds the web console into console/dist/ (decision 0143): tsc compiles console/src to browser ES modules,
// then the static files (index.html, the stylesheet) are copied beside them. No bundler, no dependencies:
// `tally serve` serves the folder as it is, and it ships in the package ("files": console/dist).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
// An out folder may be given (the browser tests build into their own, so two runs never share one).
const OUT = resolve(process.argv[2] ?? join(HERE, 'dist'));

rmSync(OUT, { recursive: true, force: true }); // no file left from a source that no longer exists
execFileSync(
  process.execPath,
  [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(HERE, 'tsconfig.json'), '--outDir', OUT],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);
mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(join(HERE, 'static'))) copyFileSync(join(HERE, 'static', f), join(OUT, f));
