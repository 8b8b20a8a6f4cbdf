import type { AdoptResult } from '../changes/adopt.js';
import type { Entity } from '../changes/entity.js';
import { quoteIdent, quoteQualified } from '../db/ident.js';
import { plural } from '../plural.js';
import { createTally, type Tally } from '../tally.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import {
  DATABASE_OPTIONS,
  databaseOptions,
  intOption,
  optionCheck,
  parseWithPositionals,
  stringOption,
} from './options.js';
import { progressPrinter } from './reconcile-progress.js';
import { runSetupModule } from './worker-module.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  module: { type: 'string' },
  entity: { type: 'string' },
  key: { type: 'string' },
  state: { type: 'string' },
  version: { type: 'string' },
  'chunk-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * `tally adopt TABLE`: gives every existing row of TABLE at version >= 1 that has no log entry one genesis
 * log entry (decision 0053), a chunk of rows per short transaction, with progress on stderr; `--dry-run`
 * only counts. The first step of putting Tally on a table that already has data.
 *
 * @example
 * await adoptCommand(['resources', '--entity', 'resource', '--dry-run', 'postgres://app@db/app'], io);
 */
export async function adoptCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseWithPositionals('adopt', args, OPTIONS, 1);
  const table = positionals[0];
  if (table === undefined)
    throw new UsageError('tally adopt: the table to adopt is required: tally adopt TABLE');
  optionCheck('adopt', () => quoteQualified(table, 'TABLE'));
  const modulePath = stringOption(values, 'module', 'adopt');
  const name = stringOption(values, 'entity', 'adopt');
  if (modulePath === undefined && name === undefined) {
    throw new UsageError(
      'tally adopt: name the entity: --entity NAME (its type in the log) [--key COL] [--version COL], or --module PATH',
    );
  }
  for (const col of ['key', 'state', 'version'] as const) {
    const v = stringOption(values, col, 'adopt');
    if (v === undefined) continue;
    if (modulePath !== undefined)
      throw new UsageError(`tally adopt: --${col} describes the table without --module`);
    optionCheck('adopt', () => quoteIdent(v, `--${col}`));
  }
  const chunkSize = intOption(values, 'chunk-size', 'adopt', 1, 1_000_000);
  const reason = stringOption(values, 'reason', 'adopt');
  const dryRun = values['dry-run'] === true;
  const json = values.json === true;
  const opts = databaseOptions(values, 'adopt');
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const entity = await entityOf(tally, table, values, io.cwd);
    const progress = progressPrinter(io);
    const result = await entity.adopt({
      dryRun,
      ...(chunkSize === undefined ? {} : { chunkSize }),
      ...(reason === undefined ? {} : { reason }),
      ...(json ? {} : { onProgress: progress.update }),
    });
    progress.end();
    io.out(json ? JSON.stringify(result, null, 2) : formatAdopt(result, table));
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

/** The entity over TABLE: declared here from the options, or the one the module declares on it. */
async function entityOf(
  tally: Tally,
  table: string,
  values: Record<string, unknown>,
  cwd: string,
): Promise<Entity> {
  const modulePath = stringOption(values, 'module', 'adopt');
  const name = stringOption(values, 'entity', 'adopt');
  const wanted = quoteQualified(table, 'TABLE').sql;
  if (modulePath !== undefined) {
    const { entities } = await runSetupModule(modulePath, cwd, tally);
    const on = entities.filter(
      (e) => e.definition.table.sql === wanted && (name === undefined || e.name === name),
    );
    if (on.length !== 1) {
      throw new CliError(
        on.length === 0 ? 'UNKNOWN_ENTITY' : 'AMBIGUOUS_ENTITY',
        on.length === 0
          ? `${modulePath} declares no entity${name === undefined ? '' : ` named ${JSON.stringify(name.slice(0, 64))}`} on table ${wanted}`
          : `${modulePath} declares ${on.length} entities on table ${wanted}: choose one with --entity NAME`,
      );
    }
    return on[0]!;
  }
  const col = (n: string) => stringOption(values, n, 'adopt');
  // Adoption needs no state machine: it changes no state.
  return tally.entity(name!, {
    table,
    ...(col('key') ? { key: col('key')! } : {}),
    ...(col('state') ? { state: col('state')! } : {}),
    ...(col('version') ? { version: col('version')! } : {}),
    states: { any: [] },
  });
}

/** What adoption did, or would do (a dry run), in a few lines. */
export function formatAdopt(r: AdoptResult, table: string): string {
  const skipped = `${plural(r.logged, 'row')} already logged, ${plural(r.unversioned, 'row')} at version 0 (nothing to explain)`;
  if (r.dryRun) {
    return [
      `dry run: ${r.adopted} of ${plural(r.rows, 'row')} of ${table} would get a genesis entry (entity ${r.entity}); ${skipped}`,
      'nothing was written; run again without --dry-run to adopt, then `tally reconcile`',
    ].join('\n');
  }
  return [
    `adopted ${r.adopted} of ${plural(r.rows, 'row')} of ${table}: one genesis entry each (action adopt, actor tally-adopt, entity ${r.entity}); ${skipped}`,
    r.adopted === 0
      ? 'nothing to adopt: every versioned row has a log entry'
      : 'next: `tally reconcile` checks every row from its genesis entry on',
  ].join('\n');
}
