import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TallyError } from '../../errors.js';
import { loadDriver } from '../driver.js';

/**
 * A new PGlite database runs initdb inside WebAssembly: about 5 s on a 2-core machine, far more than the
 * rest of a typical test. `TALLY_PGLITE_TEMPLATE` names a data directory dump (`PGlite#dumpDataDir()`,
 * uncompressed tar) that new databases start from instead — an in-memory one, or a data directory that
 * holds no database yet — in about 1 s. An existing directory is never touched. Decision 0114.
 */
export const PGLITE_TEMPLATE_ENV = 'TALLY_PGLITE_TEMPLATE';

let cached: { path: string; bytes: Buffer } | null = null;

/**
 * PGlite.create options for a new database at `dataDir` (undefined: in memory): the template's dump when
 * TALLY_PGLITE_TEMPLATE names one and `dataDir` holds no database yet, otherwise none. For code that makes
 * its own PGlite instance (to keep the raw instance) and still wants the template.
 *
 * @example
 * const embedded = await PGlite.create(pgliteTemplateOptions());
 */
export function templateOptions(
  dataDir?: string,
  env: NodeJS.ProcessEnv = process.env,
): { loadDataDir?: Blob } {
  const path = env[PGLITE_TEMPLATE_ENV]?.trim();
  if (!path) return {};
  if (dataDir !== undefined && existsSync(join(dataDir, 'PG_VERSION'))) return {};
  if (cached?.path !== path) {
    try {
      cached = { path, bytes: readFileSync(path) };
    } catch (err) {
      throw new TallyError(
        'INVALID_CONFIG',
        `${PGLITE_TEMPLATE_ENV} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): unset it or make the dump again`,
        { cause: err },
      );
    }
  }
  return { loadDataDir: new Blob([cached.bytes]) };
}

/**
 * Makes a template for `TALLY_PGLITE_TEMPLATE` at `path` (a fresh database's dump; written to a temporary
 * name and renamed, so a reader never sees half a file) unless one is there. A template is tied to the
 * PGlite version that made it: put the version in the path.
 *
 * @example
 * // vitest globalSetup: every test process then starts its databases from the dump
 * process.env.TALLY_PGLITE_TEMPLATE = await ensurePgliteTemplate('node_modules/.cache/tally/pglite-0.5.16.tar');
 */
export async function ensurePgliteTemplate(path: string): Promise<string> {
  if (existsSync(path)) return path;
  const { PGlite } = await loadDriver('@electric-sql/pglite', () => import('@electric-sql/pglite'));
  const db = await PGlite.create();
  try {
    const dump = await db.dumpDataDir('none');
    mkdirSync(dirname(path), { recursive: true });
    const part = `${path}.${process.pid}.part`;
    writeFileSync(part, Buffer.from(await dump.arrayBuffer()));
    renameSync(part, path);
  } finally {
    await db.close();
  }
  return path;
}
