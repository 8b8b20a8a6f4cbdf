import type { TallyConfig } from '../../config.js';
import { isTallyError } from '../../errors.js';
import { type EntityLookup, runJob } from './run.js';
import { resumableSql } from './sql.js';
import { jobItems, jobStatus } from './status.js';
import type { JobItemsOptions, JobItemsPage, JobStatus, ResumeResult, RunOptions } from './types.js';

/**
 * The jobs of one Tally instance: run one by id, resume every job whose runner is gone, read status
 * and per-item results. Jobs are created through an entity: `resources.job({ ... })`.
 */
export class Jobs {
  readonly #config: TallyConfig;
  readonly #lookup: EntityLookup;

  constructor(config: TallyConfig, lookup: EntityLookup) {
    this.#config = config;
    this.#lookup = lookup;
  }

  /**
   * Runs a job chunk by chunk until it is done (or `maxChunks`). A done job is returned untouched;
   * a failed job is retried from its first unprocessed item. JOB_BUSY while another runner holds it.
   *
   * @example
   * const status = await tally.jobs.run(job.id);
   * console.log(status.status, status.changed, status.rejected);
   */
  run(id: string, options?: RunOptions): Promise<JobStatus> {
    return runJob(this.#config, this.#lookup, id, options);
  }

  /**
   * Runs every unfinished job nobody holds (never started, or its runner's lease expired), oldest
   * first. Jobs another runner holds, or whose entity this instance does not declare, are skipped.
   *
   * @example
   * // at startup, after declaring the entities:
   * const { resumed, skipped } = await tally.jobs.resume();
   */
  async resume(options?: Omit<RunOptions, 'maxChunks'>): Promise<ResumeResult> {
    const out: ResumeResult = { resumed: [], skipped: [] };
    const rows = await this.#config.db.query<{ id: string; entity_type: string; held: boolean }>(
      resumableSql(this.#config.s, this.#config.clock()),
    );
    for (const { id, entity_type: entity, held } of rows) {
      // A live runner's job is reported, not tried: its lease says it is being worked on.
      if (held) {
        out.skipped.push({ id, entity, code: 'JOB_BUSY' });
        continue;
      }
      try {
        out.resumed.push(await runJob(this.#config, this.#lookup, id, { onChunk: options?.onChunk }));
      } catch (err) {
        if (
          isTallyError(err, 'UNKNOWN_ENTITY') ||
          isTallyError(err, 'JOB_BUSY') ||
          isTallyError(err, 'JOB_LEASE_LOST')
        ) {
          out.skipped.push({ id, entity, code: err.code as ResumeResult['skipped'][number]['code'] });
        } else {
          throw err;
        }
      }
    }
    return out;
  }

  /**
   * A job's status and counts. JOB_NOT_FOUND if there is no such job.
   *
   * @example
   * const s = await tally.jobs.get(id); // { status: 'running', total: 5000, changed: 1200, pending: 3800, ... }
   */
  get(id: string): Promise<JobStatus> {
    return jobStatus(this.#config, this.#config.db, id);
  }

  /**
   * One page of per-item results, in item order.
   *
   * @example
   * let page = await tally.jobs.items(id, { status: 'rejected' });
   * while (page.next !== null) page = await tally.jobs.items(id, { status: 'rejected', after: page.next });
   */
  items(id: string, options?: JobItemsOptions): Promise<JobItemsPage> {
    return jobItems(this.#config, this.#config.db, id, options);
  }
}
