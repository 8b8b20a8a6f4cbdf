import type { SqlQuery } from '../../../db/types.js';

// The few statements the router sends on its own. Positions travel as text: an LSN is a 64-bit value
// that node-postgres would otherwise hand back as a string anyway.
export const readsSql = {
  /** The primary's insert position: after a commit returns it is at or past the commit record's end. */
  primaryPosition: (): SqlQuery => ({ text: 'SELECT pg_current_wal_insert_lsn()::text AS lsn' }),

  /** One health probe of a replica. */
  replicaStatus: (): SqlQuery => ({
    text: `SELECT pg_is_in_recovery() AS standby,
                  pg_last_wal_replay_lsn()::text AS replay,
                  pg_last_wal_receive_lsn()::text AS receive`,
  }),

  /** How far a replica has replayed: every commit that ends at or before it is visible there. */
  replayPosition: (): SqlQuery => ({ text: 'SELECT pg_last_wal_replay_lsn()::text AS lsn' }),
};
