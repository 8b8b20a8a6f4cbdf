import type { Entity } from '../changes/entity.js';
import { quoteIdent, quoteQualified } from '../db/ident.js';
import type { Tally } from '../tally.js';
import { CliError, UsageError } from './errors.js';
import { optionCheck, stringOption } from './options.js';
import { runSetupModule } from './worker-module.js';

/** The options `tally reconcile` and `tally repair` take to name the entities to check. */
export const ENTITY_OPTIONS = {
  module: { type: 'string' },
  entity: { type: 'string' },
  table: { type: 'string' },
  key: { type: 'string' },
  state: { type: 'string' },
  version: { type: 'string' },
  ignore: { type: 'string' },
} as const;

/** Usage errors about the entity options, before any database is opened. */
export function checkEntityOptions(values: Record<string, unknown>, command: string): void {
  const modulePath = stringOption(values, 'module', command);
  const table = stringOption(values, 'table', command);
  if (modulePath !== undefined && table !== undefined) {
    throw new UsageError(`tally ${command}: pass --module or --table, not both`);
  }
  if (
    modulePath === undefined &&
    (table === undefined || stringOption(values, 'entity', command) === undefined)
  ) {
    throw new UsageError(
      `tally ${command}: name the entities: --module PATH, or --entity NAME --table TABLE [--key COL] [--state COL] [--version COL]`,
    );
  }
  optionCheck(command, () => {
    if (table !== undefined) quoteQualified(table, '--table');
    for (const col of ['key', 'state', 'version'] as const) {
      const v = stringOption(values, col, command);
      if (v !== undefined) quoteIdent(v, `--${col}`);
    }
    for (const col of ignoredColumns(values, command) ?? []) quoteIdent(col, '--ignore');
  });
  if (ignoredColumns(values, command)?.length === 0) {
    throw new UsageError(`tally ${command}: --ignore needs column names, comma-separated`);
  }
}

/**
 * The entities to check: those a `--module` declares (the same kind of module `tally worker` loads; its
 * setup may declare only entities), narrowed by `--entity`; or one entity described on the command line
 * (`--entity NAME --table TABLE [--key COL] [--state COL] [--version COL]`). The state machine is not
 * needed to reconcile, so the command-line form declares none of it.
 *
 * @example
 * const entities = await entitiesFromOptions(values, 'reconcile', io.cwd, tally);
 */
export async function entitiesFromOptions(
  values: Record<string, unknown>,
  command: string,
  cwd: string,
  tally: Tally,
): Promise<Entity[]> {
  const modulePath = stringOption(values, 'module', command);
  const name = stringOption(values, 'entity', command);
  const table = stringOption(values, 'table', command);
  checkEntityOptions(values, command);
  if (modulePath !== undefined) {
    const declared = await loadEntities(modulePath, cwd, tally);
    const chosen = name === undefined ? declared : declared.filter((e) => e.name === name);
    if (chosen.length === 0) {
      throw new CliError(
        name === undefined ? 'NO_ENTITIES' : 'UNKNOWN_ENTITY',
        name === undefined
          ? `${modulePath} declared no entities: call tally.entity(...) in its setup`
          : `${modulePath} declares no entity named ${JSON.stringify(name.slice(0, 64))} (it declares ${declared.map((e) => e.name).join(', ')})`,
      );
    }
    return chosen;
  }
  const col = (n: string) => stringOption(values, n, command);
  return [
    tally.entity(name!, {
      table: table!,
      ...(col('key') ? { key: col('key')! } : {}),
      ...(col('state') ? { state: col('state')! } : {}),
      ...(col('version') ? { version: col('version')! } : {}),
      states: { any: [] },
    }),
  ];
}

/** `--ignore a,b`: columns not compared with the log, per entity checked. */
export function ignoredColumns(values: Record<string, unknown>, command: string): string[] | undefined {
  const v = stringOption(values, 'ignore', command);
  return v === undefined
    ? undefined
    : v
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
}

async function loadEntities(path: string, cwd: string, tally: Tally): Promise<Entity[]> {
  return (await runSetupModule(path, cwd, tally)).entities;
}
