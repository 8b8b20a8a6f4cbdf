import { wrapDbError } from '../../../db/errors.js';
import { type PgPoolLike, postgres } from '../../../db/postgres/index.js';
import type { QueryableLike, Row, SqlQuery } from '../../../db/types.js';
import { classifyStatement } from '../../classify.js';
import { type Lsn, parseLsn, replayedPast } from '../../lsn.js';
import { sleep } from '../../sleep.js';
import type { ReadsDialect, ReplicaPool } from '../types.js';
import { readsSql } from './sql.js';

/**
 * Reads on PostgreSQL: positions are WAL byte offsets (decision 0100), replicas are hot standbys polled
 * with `pg_last_wal_replay_lsn()`, waits poll every `waitPollMs`.
 */
export async function postgresReads(pool: PgPoolLike, waitPollMs: number): Promise<ReadsDialect> {
  const primary = postgres(pool);
  const rows = await primary.query<{ wal_block_size: string }>({ text: 'SHOW wal_block_size' });
  const block = BigInt(rows[0]?.wal_block_size ?? 8192);
  const position = async (): Promise<Lsn> => {
    const r = await primary.query<{ lsn: string }>(readsSql.primaryPosition());
    return parseLsn(r[0]?.lsn)!;
  };
  const replay = async (p: ReplicaPool): Promise<Lsn | null> => {
    const res = await (p as QueryableLike).query(readsSql.replayPosition().text);
    return parseLsn(res.rows[0]?.lsn);
  };
  return Object.freeze({
    name: 'postgres' as const,
    primary,
    classify: (text: string, safe: ReadonlySet<string>) => classifyStatement(text, safe),
    primaryPosition: position,
    async writeOnPrimary<R extends Row>(q: SqlQuery) {
      const out = await primary.query<R>(q);
      return { rows: out, position: await position() };
    },
    // The insert position X read before the statement: any write whose token is below X was visible
    // before X was read, so before this statement's snapshot. X - 1, never X (decision 0100).
    async readOnPrimary<R extends Row>(q: SqlQuery, withVersion: boolean) {
      const version = withVersion ? (await position()) - 1n : null;
      return { rows: await primary.query<R>(q), version };
    },
    // The replay position R read before the statement: every commit ending at or before R is visible.
    async readOnReplica<R extends Row>(p: ReplicaPool, q: SqlQuery, withVersion: boolean) {
      try {
        const version = withVersion ? await replay(p) : null;
        const res = await (p as QueryableLike).query(q.text, (q.values ?? []) as unknown[]);
        return { rows: res.rows as R[], version };
      } catch (err) {
        throw wrapDbError(err);
      }
    },
    async probe(p: ReplicaPool) {
      const res = await (p as QueryableLike).query(readsSql.replicaStatus().text);
      const row = res.rows[0] ?? {};
      return { standby: row.standby === true, replay: parseLsn(row.replay) };
    },
    async advance(p: ReplicaPool, _target: Lsn, waitMs: number) {
      await sleep(Math.min(waitMs, waitPollMs));
      return replay(p);
    },
    reached: (r: Lsn | null, target: Lsn) => replayedPast(r, target, block),
    distance: (p: Lsn, r: Lsn) => (replayedPast(r, p, block) ? 0 : Number(p - r)),
  });
}
