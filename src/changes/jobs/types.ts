import type { ChangeContext } from '../../context.js';
import type { Executor, QueryableLike } from '../../db/types.js';
import type { EntityKey } from '../keys.js';

/**
 * What a job does: the same selection and change as `transition` / `update`, applied in chunks.
 * Give `key` to make creation idempotent: the same key with the same operation returns the same job.
 */
export interface JobInput extends ChangeContext {
  /** Idempotency key of the job (1-200 characters). Reusing it for a different operation is refused. */
  key?: string;
  /** The items: explicit keys, or an equality filter resolved to keys when the job is created. */
  keys?: readonly EntityKey[];
  where?: Readonly<Record<string, unknown>>;
  /** The change: a target state, or fields to set (exactly one). */
  to?: string;
  set?: Readonly<Record<string, unknown>>;
  /** Log action name. Defaults to `transition` / `update`. */
  action?: string;
  /** Items per chunk (each chunk is one transaction). Defaults to the Tally's `chunkSize`. */
  chunkSize?: number;
  /** Create the job record inside this transaction (the chunks always run in their own). */
  tx?: Executor | QueryableLike;
}

export type JobState = 'pending' | 'running' | 'done' | 'failed';

/** A job's record: progress counts, lease and outcome. */
export interface JobStatus {
  id: string;
  key: string | null;
  entity: string;
  status: JobState;
  total: number;
  changed: number;
  unchanged: number;
  rejected: number;
  /** Items not yet processed. */
  pending: number;
  chunksDone: number;
  chunkSize: number;
  /** Why the job failed (status `failed`), without SQL parameter values. */
  error: string | null;
  /** Who is working on the job, until when; null when nobody holds it. */
  lease: { owner: string; until: Date } | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export type JobItemStatus = 'pending' | 'changed' | 'unchanged' | 'rejected';

/** What the job did to one item. `key` is the key's canonical text. */
export interface JobItem {
  seq: number;
  key: string;
  status: JobItemStatus;
  /** For rejections: `not_found` or `illegal_transition`. */
  reason: string | null;
  message: string | null;
}

export interface JobItemsPage {
  items: JobItem[];
  /** Pass as `after` for the next page; null at the end. */
  next: number | null;
}

export interface JobItemsOptions {
  /** Only items with this outcome. */
  status?: JobItemStatus;
  /** Items after this sequence number (from the previous page's `next`). */
  after?: number;
  /** Page size, 1-10,000. Default 1,000. */
  limit?: number;
}

export interface RunOptions {
  /** Stop after this many chunks, leaving the job `running` for a later run or resume. */
  maxChunks?: number;
  /** Called after each chunk commits, with the job's progress. */
  onChunk?: (status: JobStatus) => void | Promise<void>;
}

export interface ResumeResult {
  /** Jobs this call worked on, as they ended. */
  resumed: JobStatus[];
  /**
   * Unfinished jobs it left alone: another runner holds them (or took them over mid-way), or their
   * entity is not declared in this instance.
   */
  skipped: { id: string; entity: string; code: 'JOB_BUSY' | 'JOB_LEASE_LOST' | 'UNKNOWN_ENTITY' }[];
}
