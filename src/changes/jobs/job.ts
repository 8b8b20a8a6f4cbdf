import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import type { EntityRuntime } from '../apply.js';
import { createJob } from './create.js';
import { runJob } from './run.js';
import { jobItems, jobStatus } from './status.js';
import type { JobInput, JobItemsOptions, JobItemsPage, JobStatus, RunOptions } from './types.js';

/** A handle on one job, as `entity.job()` returns it. */
export class Job {
  /** True when this call created the job; false when an existing job with the same key was returned. */
  readonly created: boolean;
  readonly #rt: EntityRuntime;

  constructor(
    readonly id: string,
    readonly key: string | null,
    created: boolean,
    rt: EntityRuntime,
  ) {
    this.created = created;
    this.#rt = rt;
  }

  /**
   * Runs the job to its end (see `tally.jobs.run`).
   *
   * @example
   * const done = await job.run({ onChunk: (s) => console.log(`${s.total - s.pending}/${s.total}`) });
   */
  run(options?: RunOptions): Promise<JobStatus> {
    const rt = this.#rt;
    const lookup = (name: string) => {
      if (name !== rt.def.name) throw new TallyError('UNKNOWN_ENTITY', `job belongs to another entity`);
      return rt;
    };
    return runJob(rt.config, lookup, this.id, options);
  }

  /**
   * The job's status and counts.
   *
   * @example
   * const { status, pending } = await job.status();
   */
  status(): Promise<JobStatus> {
    return jobStatus(this.#rt.config, this.#rt.config.db, this.id);
  }

  /**
   * One page of per-item results (see `tally.jobs.items`).
   *
   * @example
   * const { items } = await job.items({ status: 'rejected' });
   */
  items(options?: JobItemsOptions): Promise<JobItemsPage> {
    return jobItems(this.#rt.config, this.#rt.config.db, this.id, options);
  }
}

/** Creates (or, by key, finds) a job for an entity and returns its handle. */
export async function entityJob(rt: EntityRuntime, db: Executor, input: JobInput): Promise<Job> {
  const { row, created } = await createJob(rt, db, input);
  return new Job(row.id, row.key, created, rt);
}
