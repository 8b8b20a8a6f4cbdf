import { TallyError } from '../errors.js';

/** The optional peer packages Tally loads itself, when first used. */
export type DriverPackage =
  | 'pg'
  | '@electric-sql/pglite'
  | 'nats'
  | 'mysql2'
  | 'prom-client'
  | '@opentelemetry/api';

/**
 * Loads an optional peer package at its point of first use. A package that is not installed is a
 * DRIVER_MISSING TallyError naming what to install, never Node's raw ERR_MODULE_NOT_FOUND; any other
 * failure (the package is there but broken, a dependency of it is missing) is passed on as it is.
 *
 * @example
 * const { PGlite } = await loadDriver('@electric-sql/pglite', () => import('@electric-sql/pglite'));
 */
export async function loadDriver<T>(pkg: DriverPackage, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isMissing(err, pkg)) {
      throw new TallyError(
        'DRIVER_MISSING',
        `the ${pkg} package is not installed (an optional peer dependency of tally): npm install ${pkg}`,
        { cause: err, details: { package: pkg } },
      );
    }
    throw err;
  }
}

// Node: "Cannot find package 'pg' imported from ..." (ESM) or "Cannot find module 'pg'" (CommonJS).
// Quoted, so that a missing 'pg-pool' inside an installed pg is not taken for pg itself.
function isMissing(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = String((err as Error).message);
  return message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`);
}
