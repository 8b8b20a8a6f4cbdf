import type { Entity } from '../changes/entity.js';
import { quoteIdent } from '../db/ident.js';
import { type ReconcileOptions, reconcile } from '../reconcile/reconcile.js';
import { formatReport } from '../reconcile/report.js';
import type { ReconcileReport } from '../reconcile/types.js';
import { createTally, type Tally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseCommand, stringOption } from './options.js';
import { compareEntities, formatCompares } from './reconcile-compare.js';
import {
  checkEntityOptions,
  ENTITY_OPTIONS,
  entitiesFromOptions,
  ignoredColumns,
} from './reconcile-entities.js';
import { type MaybeTtyIo, progressPrinter } from './reconcile-progress.js';

/** Exit code of `tally reconcile` (and of `tally repair --apply` when findings remain): drift found. */
export const EXIT_DRIFT = 3;

export const CHECK_OPTIONS = {
  ...DATABASE_OPTIONS,
  ...ENTITY_OPTIONS,
  'chunk-size': { type: 'string' },
  'skip-chains': { type: 'boolean' },
  precise: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export const RECONCILE_OPTIONS = { ...CHECK_OPTIONS, 'compare-with': { type: 'string' } } as const;

function chunkSize(values: Record<string, unknown>, command: string): number | undefined {
  const v = stringOption(values, 'chunk-size', command);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v) || Number(v) < 1)
    throw new UsageError(`tally ${command}: --chunk-size must be a positive integer`);
  return Number(v);
}

/**
 * Opens the database the options name, declares the entities they name on a Tally instance, and runs
 * `fn` with them; closes the database afterwards. Shared by `tally reconcile` and `tally repair`.
 */
export async function withEntities<T>(
  command: string,
  values: Record<string, unknown>,
  io: Io,
  fn: (tally: Tally, entities: Entity[], check: (quiet?: boolean) => Promise<ReconcileReport>) => Promise<T>,
): Promise<T> {
  const opts = databaseOptions(values, command);
  quoteIdent(opts.schema, '--schema');
  const size = chunkSize(values, command);
  const ignore = ignoredColumns(values, command);
  checkEntityOptions(values, command);
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const entities = await entitiesFromOptions(values, command, io.cwd, tally);
    const check = async (quiet = false) => {
      const progress = progressPrinter(io as MaybeTtyIo);
      const options: ReconcileOptions = {
        chains: !values['skip-chains'],
        precise: values.precise === true,
        ...(size === undefined ? {} : { chunkSize: size }),
        ...(ignore ? { columns: Object.fromEntries(entities.map((e) => [e.name, { ignore }])) } : {}),
        ...(quiet || values.json ? {} : { onProgress: progress.update }),
      };
      const report = await reconcile(entities, options);
      progress.end();
      return report;
    };
    return await fn(tally, entities, check);
  } finally {
    await conn.close();
  }
}

/**
 * `tally reconcile`: checks each entity's table against its log and its hash chains; prints a summary
 * (or the JSON report with --json). Exits 0 when everything tallies, 3 when drift is found.
 *
 * @example
 * await reconcileCommand(['--entity', 'resource', '--table', 'resources', '--json'], io);
 */
export async function reconcileCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('reconcile', args, RECONCILE_OPTIONS);
  const compareWith = stringOption(values, 'compare-with', 'reconcile');
  if (compareWith !== undefined && !/^postgres(ql)?:\/\//.test(compareWith)) {
    throw new UsageError('tally reconcile: --compare-with must be a postgres:// URL');
  }
  return withEntities('reconcile', values, io, async (_tally, entities, check) => {
    const report = await check();
    if (compareWith === undefined) {
      io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
      return report.ok ? EXIT_OK : EXIT_DRIFT;
    }
    const compares = await compareEntities(
      entities,
      compareWith,
      ignoredColumns(values, 'reconcile'),
      io,
      values.json === true,
    );
    const equal = compares.every((c) => c.report.equal);
    if (values.json) io.out(JSON.stringify({ ...report, compare: compares }, null, 2));
    else io.out(`${formatReport(report)}\n${formatCompares(compares)}`);
    return report.ok && equal ? EXIT_OK : EXIT_DRIFT;
  });
}
