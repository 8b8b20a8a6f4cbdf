import { asExecutor } from '../../db/joined.js';
import type { Executor, QueryableLike } from '../../db/types.js';
import { applyChange } from '../apply.js';
import { createRows } from '../create.js';
import { history, stateAt } from '../history.js';
import { introspect } from '../introspect.js';
import type { ChangeDialect } from './types.js';

/**
 * PostgreSQL and PGlite: the SQL beside each part (sql.ts, hash-sql.ts, history-sql.ts) as it was,
 * behind the dialect interface. PGlite speaks PostgreSQL's SQL, so the two share this adapter.
 */
export function postgresChanges(name: 'postgres' | 'pglite'): ChangeDialect {
  return {
    name: 'postgres',
    can: { update: true, jobs: true, adopt: true, verify: true },
    // A mysql2 connection here is a caller's mistake; the executor's first query reports it.
    join: (tx) => asExecutor(tx as Executor | QueryableLike, name),
    introspect,
    apply: applyChange,
    create: createRows,
    history: (rt, db, key, limit) => history(rt, db, key, limit),
    stateAt,
  };
}
