import type { DialectName } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { mysqlChanges } from './mysql/index.js';
import { postgresChanges } from './postgres.js';
import type { Capability, ChangeDialect } from './types.js';

export type { Capability, ChangeDialect } from './types.js';

/**
 * The changes module's adapter for a dialect, chosen once (decision 0130).
 *
 * @example
 * const dialect = changeDialect(config.db.dialect);
 * await dialect.apply(rt, db, { keys: [1] }, op, ctx, {});
 */
export function changeDialect(name: DialectName): ChangeDialect {
  return name === 'mysql' ? MYSQL : name === 'pglite' ? PGLITE : POSTGRES;
}

const POSTGRES = postgresChanges('postgres');
const PGLITE = postgresChanges('pglite');
const MYSQL = mysqlChanges();

/**
 * Refuses an operation the dialect does not have yet, naming it; the one place a capability is checked.
 *
 * @example
 * requireCapability(dialect, 'jobs', 'entity.job');
 */
export function requireCapability(d: ChangeDialect, what: Capability, operation: string): void {
  if (!d.can[what]) {
    throw new TallyError(
      'INVALID_CONFIG',
      `${operation} is not available on the ${d.name} dialect yet (docs/mysql.md lists what runs there)`,
      { details: { dialect: d.name, capability: what } },
    );
  }
}
