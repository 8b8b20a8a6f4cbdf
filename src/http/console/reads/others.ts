import type { Executor, Row } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { ConsoleError } from '../problem.js';
import { type Page, pageOf, type Query } from '../query.js';
import { alertJson, iso, json } from './json.js';
import {
  entityAsOfSql,
  entityHistorySql,
  entityTypesSql,
  jobSql,
  latestVersionSql,
  listAlertsPageSql,
  listJobsSql,
  rejectedItemsSql,
} from './reads-sql.js';

/**
 * GET /api/alerts: newest first, keyset on id.
 *
 * @example
 * const page = await listAlerts(db, '"tally"', new Query(url.searchParams));
 */
export async function listAlerts(
  db: Executor,
  s: string,
  q: Query,
): Promise<Page<ReturnType<typeof alertJson>>> {
  const after = q.text('after');
  const [afterId] = after === undefined ? [null] : decodeCursor('alerts', after, 's');
  if (afterId !== null && !/^\d{1,19}$/.test(String(afterId))) decodeCursor('alerts', '!', 's');
  const limit = q.limit();
  const rows = await db.query(
    listAlertsPageSql(s, {
      open: q.bool('open') ?? null,
      type: q.text('type') ?? null,
      commandId: q.uuid('commandId') ?? null,
      afterId: afterId === null ? null : String(afterId),
      limit,
    }),
  );
  return pageOf(rows, limit, alertJson, (r) => encodeCursor('alerts', [String(r.id)]));
}

/** GET /api/entities: the entity types the log holds. */
export async function entityTypes(db: Executor, s: string): Promise<{ items: { type: string }[] }> {
  const rows = await db.query<{ entity_type: string }>(entityTypesSql(s));
  return { items: rows.map((r) => ({ type: r.entity_type })) };
}

function logRow(r: Row) {
  const changed = (r.changed as string[] | null) ?? [];
  const after = json(r.after) ?? null;
  let before = json(r.before) ?? null;
  // Older rows hold the full before image (before_delta false, decision 0007): show the changed fields only.
  if (before && typeof before === 'object' && r.before_delta === false) {
    const full = before as Record<string, unknown>;
    before = Object.fromEntries(changed.filter((k) => k in full).map((k) => [k, full[k]]));
  }
  return {
    id: String(r.id),
    version: Number(r.version),
    action: String(r.action),
    actor: String(r.actor),
    sourceIp: (r.source_ip as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    requestId: (r.request_id as string | null) ?? null,
    commandId: (r.command_id as string | null) ?? null,
    changed,
    before,
    after,
    at: iso(r.at),
  };
}

/**
 * GET /api/entities/:type/:key/history: the audited history newest first (keyset on version), and with
 * `asOf` (a version number or an ISO time) the state then.
 *
 * @example
 * const h = await entityHistory(db, '"tally"', 'resource', 'r-1', new Query(url.searchParams));
 */
export async function entityHistory(db: Executor, s: string, type: string, key: string, q: Query) {
  if (type.length === 0 || type.length > 200 || key.length === 0 || key.length > 1000) {
    throw new ConsoleError('INVALID_QUERY', 'the entity type and key must be 1-200 and 1-1000 characters', {
      param: 'path',
    });
  }
  const limit = q.limit();
  const after = q.text('after');
  const [beforeVersion] = after === undefined ? [null] : decodeCursor('history', after, 'n');
  const asOfText = q.text('asOf');
  let asOf: { version: number } | { at: Date } | null = null;
  if (asOfText !== undefined) {
    asOf = /^\d{1,15}$/.test(asOfText) ? { version: Number(asOfText) } : { at: q.time('asOf')! };
  }
  const [latest] = await db.query<{ v: unknown }>(latestVersionSql(s, type, key));
  if (latest?.v === null || latest?.v === undefined) {
    throw new ConsoleError('ENTITY_NOT_FOUND', 'the log holds no entry for this entity');
  }
  const rows = await db.query(entityHistorySql(s, type, key, beforeVersion as number | null, limit));
  const page = pageOf(rows, limit, logRow, (r) => encodeCursor('history', [Number(r.version)]));
  let state = undefined as unknown;
  if (asOf !== null) {
    const [r] = await db.query(entityAsOfSql(s, type, key, asOf));
    state = r ? { version: Number(r.version), at: iso(r.at), state: json(r.after) ?? null } : null;
  }
  return {
    type,
    key,
    latestVersion: Number(latest.v),
    ...page,
    ...(asOf === null ? {} : { asOf: state }),
  };
}

function jobJson(r: Row) {
  const changed = Number(r.changed);
  const unchanged = Number(r.unchanged);
  const rejected = Number(r.rejected);
  return {
    id: String(r.id),
    key: (r.key as string | null) ?? null,
    entityType: String(r.entity_type),
    status: String(r.status),
    total: Number(r.total),
    changed,
    unchanged,
    rejected,
    done: changed + unchanged + rejected,
    chunksDone: Number(r.chunks_done),
    chunkSize: Number(r.chunk_size),
    error: (r.error as string | null) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    finishedAt: iso(r.finished_at),
  };
}

export { jobJson };

const JOB_STATUSES = ['pending', 'running', 'done', 'failed'] as const;

/** GET /api/jobs: newest first, keyset on (created_at, id). */
export async function listJobs(db: Executor, s: string, q: Query): Promise<Page<ReturnType<typeof jobJson>>> {
  const after = q.text('after');
  const cur = after === undefined ? null : decodeCursor('jobs', after, 'ss');
  const limit = q.limit();
  const rows = await db.query(
    listJobsSql(s, {
      statuses: q.oneOf('status', JOB_STATUSES) ?? null,
      after: cur === null ? null : [String(cur[0]), String(cur[1])],
      limit,
    }),
  );
  return pageOf(rows, limit, jobJson, (r) => encodeCursor('jobs', [String(r.at_key), String(r.id)]));
}

/** GET /api/jobs/:id: the job, its progress and a page of its rejected items with their reasons. */
export async function jobPage(db: Executor, s: string, id: string, q: Query) {
  const [row] = await db.query(jobSql(s, id));
  if (!row) throw new TallyError('JOB_NOT_FOUND', 'no job has this id');
  const after = q.text('after');
  const [afterSeq] = after === undefined ? [null] : decodeCursor('rejected', after, 'n');
  const limit = q.limit();
  const items = await db.query(rejectedItemsSql(s, id, afterSeq as number | null, limit));
  const rejected = pageOf(
    items,
    limit,
    (r) => ({
      seq: Number(r.seq),
      key: String(r.key),
      reason: (r.reason as string | null) ?? null,
      message: (r.message as string | null) ?? null,
    }),
    (r) => encodeCursor('rejected', [Number(r.seq)]),
  );
  return { job: { ...jobJson(row), op: json(row.op) ?? null }, rejected };
}
