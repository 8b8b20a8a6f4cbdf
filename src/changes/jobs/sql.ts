import type { SqlQuery } from '../../db/types.js';
import type { EntityDefinition } from '../definition.js';

/** The job columns every read returns, from a table aliased `p` (or unaliased). */
const jobColumns = (p = '') =>
  `${p}id::text AS id, ${p}key, ${p}entity_type, ${p}op, ${p}fingerprint, ${p}status, ${p}total, ${p}changed,
   ${p}unchanged, ${p}rejected, ${p}chunks_done, ${p}chunk_size, ${p}lease_owner, ${p}lease_until, ${p}error,
   ${p}created_at, ${p}updated_at, ${p}finished_at`;
const JOB_COLUMNS = jobColumns();

export interface JobRow {
  id: string;
  key: string | null;
  entity_type: string;
  op: unknown;
  fingerprint: string;
  status: string;
  total: number;
  changed: number;
  unchanged: number;
  rejected: number;
  chunks_done: number;
  chunk_size: number;
  lease_owner: string | null;
  lease_until: Date | string | null;
  error: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  finished_at: Date | string | null;
}

/** Inserts the job record; with a key that exists already, inserts nothing and returns no row. */
export const insertJobSql = (
  s: string,
  j: {
    id: string;
    key: string | null;
    entity: string;
    op: unknown;
    fingerprint: string;
    chunkSize: number;
    at: Date;
  },
): SqlQuery => ({
  text: `INSERT INTO ${s}.jobs (id, key, entity_type, op, fingerprint, total, chunk_size, created_at, updated_at)
         VALUES ($1::uuid, $2::text, $3::text, $4::jsonb, $5::text, 0, $6::int, $7::timestamptz, $7::timestamptz)
         ON CONFLICT (key) DO NOTHING
         RETURNING id::text AS id`,
  values: [j.id, j.key, j.entity, JSON.stringify(j.op), j.fingerprint, j.chunkSize, j.at],
});

export const jobByIdSql = (s: string, id: string): SqlQuery => ({
  text: `SELECT ${JOB_COLUMNS} FROM ${s}.jobs WHERE id = $1::uuid`,
  values: [id],
});

export const jobByKeySql = (s: string, key: string): SqlQuery => ({
  text: `SELECT ${JOB_COLUMNS} FROM ${s}.jobs WHERE key = $1::text`,
  values: [key],
});

/** Snapshots explicit keys (canonical text, deduplicated, in order) as the job's items: one statement. */
export const insertItemsFromKeysSql = (s: string, id: string, keys: readonly string[]): SqlQuery => ({
  text: `WITH items AS (
           INSERT INTO ${s}.job_items (job_id, seq, key)
           SELECT $1::uuid, u.ord::int, u.k FROM unnest($2::text[]) WITH ORDINALITY AS u(k, ord)
           RETURNING 1)
         UPDATE ${s}.jobs SET total = (SELECT count(*) FROM items) WHERE id = $1::uuid
         RETURNING total`,
  values: [id, keys],
});

/**
 * Resolves an equality filter to keys, in key order, straight into the job's items: one statement,
 * nothing travels through the client. The filter compares text forms, like a direct `where` change.
 */
export const insertItemsFromWhereSql = (
  s: string,
  def: EntityDefinition,
  id: string,
  where: readonly [quotedColumn: string, values: readonly (string | null)[]][],
): SqlQuery => {
  const conds = where.map(([col], i) => `t.${col}::text = ANY($${i + 2}::text[])`);
  return {
    text: `WITH items AS (
             INSERT INTO ${s}.job_items (job_id, seq, key)
             SELECT $1::uuid, (row_number() OVER (ORDER BY t.${def.key.sql}))::int, t.${def.key.sql}::text
               FROM ${def.table.sql} t WHERE ${conds.join(' AND ')}
             RETURNING 1)
           UPDATE ${s}.jobs SET total = (SELECT count(*) FROM items) WHERE id = $1::uuid
           RETURNING total`,
    values: [id, ...where.map(([, v]) => v)],
  };
};

/**
 * Takes the lease: a pending, running or failed job (a failed one is retried; its error is cleared)
 * that nobody holds, whose lease expired, or that this owner holds already.
 */
export const claimSql = (s: string, id: string, owner: string, now: Date, until: Date): SqlQuery => ({
  text: `UPDATE ${s}.jobs
            SET lease_owner = $2::text, lease_until = $4::timestamptz, status = 'running', error = NULL,
                updated_at = $3::timestamptz
          WHERE id = $1::uuid AND status IN ('pending', 'running', 'failed')
            AND (lease_owner IS NULL OR lease_owner = $2::text OR lease_until < $3::timestamptz)
          RETURNING ${JOB_COLUMNS}`,
  values: [id, owner, now, until],
});

/**
 * Statement one of a chunk: checks and renews the lease (locking the job row, so a runner that took
 * the job over waits for this chunk to commit) and reads the next pending items in order.
 */
export const leaseAndNextChunkSql = (
  s: string,
  id: string,
  owner: string,
  now: Date,
  until: Date,
): SqlQuery => ({
  text: `WITH lease AS (
           UPDATE ${s}.jobs SET lease_until = $4::timestamptz, updated_at = $3::timestamptz
            WHERE id = $1::uuid AND lease_owner = $2::text AND status = 'running'
           RETURNING chunk_size),
         chunk AS (
           SELECT i.seq, i.key FROM ${s}.job_items i
            WHERE i.job_id = $1::uuid AND i.status = 'pending' AND EXISTS (SELECT 1 FROM lease)
            ORDER BY i.seq LIMIT (SELECT chunk_size FROM lease))
         SELECT EXISTS (SELECT 1 FROM lease) AS held,
                coalesce((SELECT array_agg(seq ORDER BY seq) FROM chunk), '{}') AS seqs,
                coalesce((SELECT array_agg(key ORDER BY seq) FROM chunk), '{}') AS keys`,
  values: [id, owner, now, until],
});

/**
 * Statement last of a chunk: records every item's outcome and bumps the counters in one statement;
 * the job becomes `done` in the same transaction as its last chunk.
 */
export const recordChunkSql = (
  s: string,
  id: string,
  now: Date,
  r: { seqs: number[]; statuses: string[]; reasons: (string | null)[]; messages: (string | null)[] },
): SqlQuery => ({
  text: `WITH r AS (
           SELECT * FROM unnest($3::int[], $4::text[], $5::text[], $6::text[]) AS r(seq, st, reason, message)),
         upd AS (
           UPDATE ${s}.job_items i SET status = r.st, reason = r.reason, message = r.message
             FROM r WHERE i.job_id = $1::uuid AND i.seq = r.seq AND i.status = 'pending'
           RETURNING i.status),
         n AS (
           SELECT count(*) FILTER (WHERE status = 'changed')::int AS c,
                  count(*) FILTER (WHERE status = 'unchanged')::int AS u,
                  count(*) FILTER (WHERE status = 'rejected')::int AS r,
                  count(*)::int AS all_n FROM upd)
         UPDATE ${s}.jobs j
            SET changed = j.changed + n.c, unchanged = j.unchanged + n.u, rejected = j.rejected + n.r,
                chunks_done = j.chunks_done + 1, updated_at = $2::timestamptz,
                status = CASE WHEN j.changed + j.unchanged + j.rejected + n.all_n >= j.total THEN 'done' ELSE j.status END,
                finished_at = CASE WHEN j.changed + j.unchanged + j.rejected + n.all_n >= j.total THEN $2::timestamptz END,
                lease_owner = CASE WHEN j.changed + j.unchanged + j.rejected + n.all_n >= j.total THEN NULL ELSE j.lease_owner END,
                lease_until = CASE WHEN j.changed + j.unchanged + j.rejected + n.all_n >= j.total THEN NULL ELSE j.lease_until END
           FROM n WHERE j.id = $1::uuid
         RETURNING n.all_n AS recorded, ${jobColumns('j.')}`,
  values: [id, now, r.seqs, r.statuses, r.reasons, r.messages],
});

/** Marks a job with no pending items done (a job of zero items, or counts already complete). */
export const finishSql = (s: string, id: string, owner: string, now: Date): SqlQuery => ({
  text: `UPDATE ${s}.jobs SET status = 'done', finished_at = $3::timestamptz, updated_at = $3::timestamptz, lease_owner = NULL, lease_until = NULL
          WHERE id = $1::uuid AND lease_owner = $2::text AND status = 'running'
            AND NOT EXISTS (SELECT 1 FROM ${s}.job_items WHERE job_id = $1::uuid AND status = 'pending')
         RETURNING ${JOB_COLUMNS}`,
  values: [id, owner, now],
});

/** Marks a job failed after an unexpected error, if this owner still holds it. */
export const failSql = (s: string, id: string, owner: string, now: Date, error: string): SqlQuery => ({
  text: `UPDATE ${s}.jobs SET status = 'failed', error = $4::text, updated_at = $3::timestamptz, lease_owner = NULL, lease_until = NULL
          WHERE id = $1::uuid AND lease_owner = $2::text AND status = 'running'
         RETURNING ${JOB_COLUMNS}`,
  values: [id, owner, now, error],
});

/** Gives the lease back (a run that stopped early), so the next runner need not wait for it to expire. */
export const releaseSql = (s: string, id: string, owner: string, now: Date): SqlQuery => ({
  text: `UPDATE ${s}.jobs SET lease_owner = NULL, lease_until = NULL, updated_at = $3::timestamptz
          WHERE id = $1::uuid AND lease_owner = $2::text`,
  values: [id, owner, now],
});

/** Unfinished jobs, oldest first; `held` when a runner's lease on it has not expired. */
export const resumableSql = (s: string, now: Date): SqlQuery => ({
  text: `SELECT id::text AS id, entity_type,
                lease_owner IS NOT NULL AND lease_until >= $1::timestamptz AS held
           FROM ${s}.jobs
          WHERE status IN ('pending', 'running')
          ORDER BY created_at, id`,
  values: [now],
});

export const itemsSql = (
  s: string,
  id: string,
  after: number,
  limit: number,
  status: string | null,
): SqlQuery => ({
  text: `SELECT seq, key, status, reason, message FROM ${s}.job_items
          WHERE job_id = $1::uuid AND seq > $2::int AND ($4::text IS NULL OR status = $4::text)
          ORDER BY seq LIMIT $3::int`,
  values: [id, after, limit, status],
});
