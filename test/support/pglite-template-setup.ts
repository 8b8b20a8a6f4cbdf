import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePgliteTemplate, PGLITE_TEMPLATE_ENV } from '../../src/db/pglite/index.js';

/**
 * vitest globalSetup: one PGlite template for the whole run (decision 0114). Every test process — and every
 * process a test starts (the CLI, the examples) — inherits TALLY_PGLITE_TEMPLATE and starts each new
 * database from the dump instead of running initdb (~1 s instead of ~5 s each). Kept across runs under
 * node_modules/.cache, one file per PGlite version. TALLY_PGLITE_TEMPLATE= (empty) turns it off.
 */
export default async function setup(): Promise<void> {
  if (process.env[PGLITE_TEMPLATE_ENV] !== undefined) return;
  const root = join(import.meta.dirname, '../..');
  const pkg = join(root, 'node_modules/@electric-sql/pglite/package.json');
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  process.env[PGLITE_TEMPLATE_ENV] = await ensurePgliteTemplate(
    join(root, 'node_modules/.cache/tally', `pglite-${version}.tar`),
  );
}
