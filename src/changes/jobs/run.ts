import type { TallyConfig } from '../../config.js';
import type { ChangeContext } from '../../context.js';
import type { Executor } from '../../db/types.js';
import { isTallyError, TallyError } from '../../errors.js';
import { applyChange, type EntityRuntime } from '../apply.js';
import type { ChangeOp } from '../sql.js';
import { type StoredOp, toChangeOp } from './op.js';
import {
  claimSql,
  failSql,
  finishSql,
  type JobRow,
  leaseAndNextChunkSql,
  recordChunkSql,
  releaseSql,
} from './sql.js';
import { jobStatus, readJob, toStatus } from './status.js';
import type { JobStatus, RunOptions } from './types.js';

/** Finds the declared entity a job belongs to; throws UNKNOWN_ENTITY when this Tally has none. */
export type EntityLookup = (name: string) => EntityRuntime;

interface Runner {
  config: TallyConfig;
  id: string;
  owner: string;
  rt: EntityRuntime;
  op: StoredOp;
}

/**
 * Runs a job to its end (or `maxChunks`): takes the lease, then one transaction per chunk that
 * re-checks the lease, applies the change in `partial` mode through the one change path and records
 * every item's outcome. A done job is returned as it is, with no write at all.
 */
export async function runJob(
  config: TallyConfig,
  lookup: EntityLookup,
  id: unknown,
  options: RunOptions = {},
): Promise<JobStatus> {
  const maxChunks = options.maxChunks ?? Number.POSITIVE_INFINITY;
  if (maxChunks !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxChunks) || maxChunks < 1)) {
    throw new TallyError('INVALID_SELECTION', 'maxChunks must be a positive integer');
  }
  const db = config.db;
  const job = await readJob(config, db, id);
  if (job.status === 'done') return toStatus(job);
  const rt = lookup(job.entity_type);

  const owner = config.ids();
  const now = config.clock();
  const [claimed] = await db.query<JobRow & Record<string, unknown>>(
    claimSql(config.s, job.id, owner, now, leaseEnd(config, now)),
  );
  if (!claimed) {
    const current = await readJob(config, db, job.id);
    if (current.status === 'done') return toStatus(current);
    throw new TallyError('JOB_BUSY', `job ${job.id} is leased by another runner until its lease expires`, {
      details: { jobId: job.id },
    });
  }
  const op = (typeof claimed.op === 'string' ? JSON.parse(claimed.op) : claimed.op) as StoredOp;
  const runner: Runner = { config, id: job.id, owner, rt, op };

  let last = toStatus(claimed);
  try {
    let changeOp: ChangeOp;
    try {
      changeOp = toChangeOp(rt.def, op.change);
    } catch (err) {
      return await fail(runner, err);
    }
    for (let chunks = 0; chunks < maxChunks && last.status === 'running'; chunks++) {
      try {
        last = await db.transaction((tx) => runChunk(runner, tx, changeOp));
      } catch (err) {
        if (isTallyError(err, 'JOB_LEASE_LOST')) throw err;
        return await fail(runner, err);
      }
      await options.onChunk?.(last);
    }
  } finally {
    if (last.status === 'running')
      await db.query(releaseSql(config.s, job.id, owner, config.clock())).catch(() => {});
  }
  return last.status === 'running' ? jobStatus(config, db, job.id) : last;
}

/** One chunk, one transaction: lease check, the change, the per-item record, the counters. */
async function runChunk(r: Runner, tx: Executor, changeOp: ChangeOp): Promise<JobStatus> {
  const { config, id, owner } = r;
  const now = config.clock();
  const [c] = await tx.query<{ held: boolean; seqs: number[]; keys: string[] }>(
    leaseAndNextChunkSql(config.s, id, owner, now, leaseEnd(config, now)),
  );
  if (!c?.held) {
    throw new TallyError(
      'JOB_LEASE_LOST',
      `job ${id}: another runner took the job over; this runner stopped`,
      {
        details: { jobId: id },
      },
    );
  }
  if (c.keys.length === 0) {
    const [row] = await tx.query<JobRow & Record<string, unknown>>(finishSql(config.s, id, owner, now));
    if (!row)
      throw new TallyError('DB_ERROR', `job ${id}: no pending items but the job could not be finished`);
    return toStatus(row);
  }
  // The stored context is the whole context: its nulls (no ip, no reason) are kept as nulls, so a
  // runner's own async scope cannot leak into the job's log rows.
  const context = r.op.context as unknown as ChangeContext;
  const result = await applyChange(r.rt, tx, { keys: c.keys }, changeOp, context, {
    mode: 'partial',
    action: r.op.action,
  });
  const seqOf = new Map<string, number>();
  for (let i = 0; i < c.keys.length; i++) seqOf.set(c.keys[i]!, Number(c.seqs[i]));
  const rec = {
    seqs: [] as number[],
    statuses: [] as string[],
    reasons: [] as (string | null)[],
    messages: [] as (string | null)[],
  };
  const add = (key: unknown, status: string, reason: string | null, message: string | null) => {
    const seq = seqOf.get(String(key));
    if (seq === undefined)
      throw new TallyError('DB_ERROR', `job ${id}: a result names a key outside the chunk`);
    rec.seqs.push(seq);
    rec.statuses.push(status);
    rec.reasons.push(reason);
    rec.messages.push(message);
  };
  for (const k of result.changed) add(k, 'changed', null, null);
  for (const k of result.unchanged) add(k, 'unchanged', null, null);
  for (const x of result.rejected) add(x.key, 'rejected', x.reason, x.message);
  const [row] = await tx.query<JobRow & Record<string, unknown> & { recorded: number }>(
    recordChunkSql(config.s, id, config.clock(), rec),
  );
  if (!row || Number(row.recorded) !== c.keys.length) {
    throw new TallyError(
      'DB_ERROR',
      `job ${id}: recorded ${row?.recorded ?? 0} of ${c.keys.length} item results`,
    );
  }
  return toStatus(row);
}

/** Marks the job failed with the error's code and message (never parameter values), if still ours. */
async function fail(r: Runner, err: unknown): Promise<JobStatus> {
  const code = isTallyError(err) ? err.code : 'ERROR';
  const message = err instanceof Error ? err.message : String(err);
  const text = `${code}: ${message}`.slice(0, 1000);
  let rows: (JobRow & Record<string, unknown>)[];
  try {
    rows = await r.config.db.query<JobRow & Record<string, unknown>>(
      failSql(r.config.s, r.id, r.owner, r.config.clock(), text),
    );
  } catch {
    throw err; // the database is unreachable: the lease expires and a later resume picks the job up
  }
  if (rows.length === 0) throw err;
  return toStatus(rows[0]!);
}

function leaseEnd(config: TallyConfig, now: Date): Date {
  return new Date(now.getTime() + config.jobLeaseMs);
}
