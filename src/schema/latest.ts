import type { DialectName } from '../db/types.js';
import { LATEST_VERSION } from './migrations.js';
import { MYSQL_LATEST_VERSION } from './mysql-migrations.js';

/** The newest migration of each dialect's list (MySQL/MariaDB keep their own, decision 0131). */
const LATEST: Readonly<Record<DialectName, number>> = {
  postgres: LATEST_VERSION,
  pglite: LATEST_VERSION,
  mysql: MYSQL_LATEST_VERSION,
};

/** The version a migrated schema of `dialect` is at. */
export function latestVersionOf(dialect: DialectName): number {
  return LATEST[dialect];
}
