import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { CliError } from './errors.js';

/** How a module is imported: natively, and through tsx's API for TypeScript (injectable for tests). */
export interface ModuleImporters {
  native(url: string): Promise<Record<string, unknown>>;
  /** tsx's `tsImport`, or null when the tsx package cannot be imported. */
  tsx(file: string): Promise<((specifier: string, parentURL: string) => Promise<unknown>) | null>;
}

const TS_FILE = /\.[cm]?tsx?$/i;

/**
 * Imports a user's module by path. A TypeScript file that Node cannot load by itself (Node 20 without a
 * loader: `Unknown file extension ".ts"`) is loaded through tsx (`tsx/esm/api`'s `tsImport`) when the
 * tsx package can be imported, from Tally's install or from the module's directory; when it cannot, the
 * error says how to run it (MODULE_NEEDS_TSX).
 *
 * @example
 * const mod = await importModule('/app/tally.setup.ts', 'tally.setup.ts');
 */
export async function importModule(
  file: string,
  shown: string,
  importers: ModuleImporters = defaultImporters,
): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return await importers.native(url);
  } catch (err) {
    if (!TS_FILE.test(file) || (err as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  }
  const tsImport = await importers.tsx(file);
  if (!tsImport) {
    throw new CliError(
      'MODULE_NEEDS_TSX',
      `${shown} is TypeScript, which Node does not load by itself. Install tsx (npm install -D tsx) and ` +
        `run this again, or run the CLI under tsx: \`npx tsx node_modules/.bin/tally ...\` or ` +
        `\`NODE_OPTIONS="--import tsx" npx tally ...\`; or compile the module to JavaScript`,
    );
  }
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

const TSX_API = 'tsx/esm/api';

const defaultImporters: ModuleImporters = {
  native: (url) => import(url) as Promise<Record<string, unknown>>,
  async tsx(file) {
    // From Tally's own install first, then from the user's module (a project that has tsx, Tally elsewhere).
    const candidates = [TSX_API];
    try {
      candidates.push(pathToFileURL(createRequire(file).resolve(TSX_API)).href);
    } catch {}
    for (const spec of candidates) {
      try {
        const api = (await import(spec)) as { tsImport?: unknown };
        if (typeof api.tsImport === 'function') {
          return api.tsImport as (specifier: string, parentURL: string) => Promise<unknown>;
        }
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
      }
    }
    return null;
  },
};
