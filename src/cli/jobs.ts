import type { JobStatus } from '../changes/jobs/types.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import {
  DATABASE_OPTIONS,
  databaseOptions,
  intOption,
  parseWithPositionals,
  stringOption,
} from './options.js';
import { runSetupModule } from './worker-module.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  actor: { type: 'string' },
  reason: { type: 'string' },
  module: { type: 'string' },
  'max-chunks': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function line(s: JobStatus): string {
  const lease = s.lease ? `, held by ${s.lease.owner} until ${s.lease.until.toISOString()}` : '';
  return `job ${s.id} (${s.entity}): ${s.status}, ${s.total - s.pending}/${s.total} done (changed ${s.changed}, unchanged ${s.unchanged}, rejected ${s.rejected})${lease}${s.error ? `; error: ${s.error}` : ''}`;
}

/**
 * `tally jobs JOB` shows a job's progress; `tally jobs resume JOB --actor WHO --reason WHY --module PATH`
 * resumes it (tally.actions.resumeJob, decision 0145), the module declaring its entity.
 *
 * @example
 * await jobsCommand(['resume', jobId, '--actor', 'ops:ana', '--reason', 'runner died', '--module', 'setup.mjs'], io);
 */
export async function jobsCommand(args: string[], io: Io): Promise<number> {
  const resuming = args[0] === 'resume';
  const command = resuming ? 'jobs resume' : 'jobs';
  const { values, positionals } = parseWithPositionals(command, resuming ? args.slice(1) : args, OPTIONS, 1);
  const opts = databaseOptions(values, command);
  const id = positionals[0];
  const actor = stringOption(values, 'actor', command);
  const reason = stringOption(values, 'reason', command);
  const modulePath = stringOption(values, 'module', command);
  const maxChunks = intOption(values, 'max-chunks', command, 1, 1_000_000_000);
  if (id === undefined) throw new UsageError(`tally ${command}: JOB (its id) is required`);
  if (resuming && (!actor || !reason || modulePath === undefined)) {
    throw new UsageError(
      'tally jobs resume: --actor WHO, --reason WHY and --module PATH (declaring the entity) are required',
    );
  }
  if (!resuming && (actor || reason || modulePath !== undefined || maxChunks !== undefined)) {
    throw new UsageError(
      'tally jobs: --actor, --reason, --module and --max-chunks are for `tally jobs resume`',
    );
  }
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    let status: JobStatus;
    if (resuming) {
      await runSetupModule(modulePath!, io.cwd, tally);
      status = await tally.actions.resumeJob(id, {
        actor: actor!,
        reason: reason!,
        ...(maxChunks === undefined ? {} : { maxChunks }),
      });
    } else {
      status = await tally.jobs.get(id);
    }
    io.out(values.json ? JSON.stringify(status, null, 2) : line(status));
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
