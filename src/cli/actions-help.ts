// How `tally retry`, `tally jobs` and `tally actions` are described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const RETRY_DOC: CommandDoc = {
  usage: ['retry COMMAND --actor WHO --reason WHY [--schema NAME] [DATABASE]'],
  summary: 'make a pending or backing-off command due now, recorded with who and why',
  about: `Makes one command that is waiting out a backoff (or paused on an open breaker) due now; a
running worker drives it on its next round. Its budget is untouched: the attempt counts as any retry
does. A retry_now event on its timeline and an operator action record who and why. Refused
(ACTION_NOT_APPLICABLE) when the command finished or waits for a person (requeue that one), and
COMMAND_IN_FLIGHT while a worker drives it.`,
  options: [
    ['COMMAND', 'the command id'],
    ['--actor WHO', 'who retries it (recorded); required'],
    ['--reason WHY', 'why (recorded too); required'],
  ],
};

export const JOBS_DOC: CommandDoc = {
  usage: [
    'jobs [resume] JOB [--actor WHO --reason WHY --module PATH] [--max-chunks N]',
    '[--json] [--schema NAME] [DATABASE]',
  ],
  summary: "show a chunked job's progress, or resume it with who and why",
  about: `Shows a job's status and counts. \`jobs resume JOB\` resumes an unfinished job (never started,
its runner gone, or failed: from its first unprocessed item) and runs it to its end, the operator
action recorded with who and why before it runs. The module declares the job's entity (as for tally
worker). Refused when the job is done; JOB_BUSY while a live runner holds it.`,
  options: [
    ['JOB', 'the job id'],
    ['--actor WHO', 'resume: who resumes it (recorded); required'],
    ['--reason WHY', 'resume: why (recorded too); required'],
    ['--module PATH', 'resume: a setup module that declares the entity'],
    ['--max-chunks N', 'resume: stop after N chunks, leaving the job running'],
    ['--json', 'the job status as JSON'],
  ],
};

export const ACTIONS_DOC: CommandDoc = {
  usage: ['actions [--target ID] [--action NAME] [--limit N] [--json] [--schema NAME] [DATABASE]'],
  summary: 'list the operator actions recorded, with who and why',
  about: `Lists what operators did, newest first: retry_now, requeue (also one per command of a bulk
tally requeue), resolve_alert, resume_job, repair (also tally repair --apply) and redrive, each
with its actor, reason and what it found.`,
  options: [
    ['--target ID', 'only actions on this command, alert or job id (or entity, for repairs)'],
    ['--action NAME', 'only this action'],
    ['--limit N', 'at most N (default 100)'],
    ['--json', 'one JSON array'],
  ],
};
