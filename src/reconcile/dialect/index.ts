import type { DialectName } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { mysqlReconcile } from './mysql/index.js';
import { postgresReconcile } from './postgres.js';
import type { ReconcileCapability, ReconcileDialect } from './types.js';

export type {
  FailingEntry,
  KeyDetails,
  ReconcileCapability,
  ReconcileDialect,
  RepairParams,
  RepairWrite,
} from './types.js';

const POSTGRES = postgresReconcile('postgres');
const PGLITE = postgresReconcile('pglite');
const MYSQL = mysqlReconcile();

/**
 * The reconciler's adapter for the executor's dialect, picked once per call (decision 0137).
 *
 * @example
 * const d = reconcileDialect(db.dialect); // d.name === 'mysql' on a mysql2 executor
 */
export function reconcileDialect(name: DialectName): ReconcileDialect {
  return name === 'mysql' ? MYSQL : name === 'pglite' ? PGLITE : POSTGRES;
}

/**
 * Refuses a reconciler operation the dialect does not have yet, naming it (the same INVALID_CONFIG the
 * changes module's capability check raises).
 *
 * @example
 * requireReconcileCapability(reconcileDialect(db.dialect), 'realtime', 'checkEntries');
 */
export function requireReconcileCapability(
  d: ReconcileDialect,
  what: ReconcileCapability,
  operation: string,
): void {
  if (!d.can[what]) {
    throw new TallyError(
      'INVALID_CONFIG',
      `${operation} is not available on the ${d.name} dialect yet (docs/mysql.md lists what runs there)`,
      { details: { dialect: d.name, capability: what } },
    );
  }
}
