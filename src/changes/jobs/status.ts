import type { TallyConfig } from '../../config.js';
import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { itemsSql, type JobRow, jobByIdSql } from './sql.js';
import type { JobItem, JobItemStatus, JobItemsOptions, JobItemsPage, JobState, JobStatus } from './types.js';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ITEM_STATUSES = new Set<JobItemStatus>(['pending', 'changed', 'unchanged', 'rejected']);

const date = (v: Date | string) => (v instanceof Date ? v : new Date(v));

/** A job id as given, checked to be a UUID (anything else cannot name a job). */
export function jobId(id: unknown): string {
  if (typeof id !== 'string' || !UUID.test(id)) {
    throw new TallyError('JOB_NOT_FOUND', 'a job id is a UUID; this one is not');
  }
  return id.toLowerCase();
}

export function notFound(): TallyError {
  return new TallyError('JOB_NOT_FOUND', 'no job has this id');
}

export function toStatus(row: JobRow): JobStatus {
  const total = Number(row.total);
  const changed = Number(row.changed);
  const unchanged = Number(row.unchanged);
  const rejected = Number(row.rejected);
  return {
    id: row.id,
    key: row.key,
    entity: row.entity_type,
    status: row.status as JobState,
    total,
    changed,
    unchanged,
    rejected,
    pending: total - changed - unchanged - rejected,
    chunksDone: Number(row.chunks_done),
    chunkSize: Number(row.chunk_size),
    error: row.error,
    lease:
      row.lease_owner === null || row.lease_until === null
        ? null
        : { owner: row.lease_owner, until: date(row.lease_until) },
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    finishedAt: row.finished_at === null ? null : date(row.finished_at),
  };
}

export async function readJob(config: TallyConfig, db: Executor, id: unknown): Promise<JobRow> {
  const [row] = await db.query<JobRow & Record<string, unknown>>(jobByIdSql(config.s, jobId(id)));
  if (!row) throw notFound();
  return row;
}

/** A job's record and counts; JOB_NOT_FOUND if there is none. */
export async function jobStatus(config: TallyConfig, db: Executor, id: unknown): Promise<JobStatus> {
  return toStatus(await readJob(config, db, id));
}

/** One page of a job's per-item results, in item order. */
export async function jobItems(
  config: TallyConfig,
  db: Executor,
  id: unknown,
  options: JobItemsOptions = {},
): Promise<JobItemsPage> {
  const job = jobId(id);
  const limit = options.limit ?? 1000;
  const after = options.after ?? 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new TallyError('INVALID_SELECTION', 'limit must be an integer from 1 to 10,000');
  }
  if (!Number.isInteger(after) || after < 0) {
    throw new TallyError('INVALID_SELECTION', 'after must be a non-negative integer');
  }
  if (options.status !== undefined && !ITEM_STATUSES.has(options.status)) {
    throw new TallyError('INVALID_SELECTION', 'status must be pending, changed, unchanged or rejected');
  }
  await readJob(config, db, job);
  const rows = await db.query<JobItem & Record<string, unknown>>(
    itemsSql(config.s, job, after, limit, options.status ?? null),
  );
  const items = rows.map((r) => ({
    seq: Number(r.seq),
    key: r.key,
    status: r.status,
    reason: r.reason,
    message: r.message,
  }));
  return { items, next: items.length === limit ? items[items.length - 1]!.seq : null };
}
