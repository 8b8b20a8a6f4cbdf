import { OPTIONS as ACTIONS_OPTIONS, actionsCommand } from './actions.js';
import { ACTIONS_DOC, JOBS_DOC, RETRY_DOC } from './actions-help.js';
import { OPTIONS as ADOPT_OPTIONS, adoptCommand } from './adopt.js';
import { ADOPT_DOC } from './adopt-help.js';
import { OPTIONS as ALERTS_OPTIONS, alertsCommand } from './alerts.js';
import { ALERTS_DOC } from './alerts-help.js';
import { OPTIONS as ARCHIVE_OPTIONS, archiveCommand } from './archive.js';
import { ARCHIVE_DOC } from './archive-help.js';
import type { CommandDoc } from './command-doc.js';
import { HELP_DOC, LOG_DOC, MIGRATE_DOC } from './core-help.js';
import { OPTIONS as DOWNSTREAMS_OPTIONS, downstreamsCommand } from './downstreams.js';
import { EXIT_OK, UsageError } from './errors.js';
import { PROOF_DOC, SEAL_DOC, VERIFY_DOC, VERIFY_PROOF_DOC } from './evidence-help.js';
import { commandHelp, overview } from './help.js';
import { OPTIONS as INSPECT_OPTIONS, inspectCommand } from './inspect.js';
import type { Io } from './io.js';
import { OPTIONS as JOBS_OPTIONS, jobsCommand } from './jobs.js';
import { OPTIONS as LOG_OPTIONS, logCommand } from './log.js';
import { OPTIONS as MIGRATE_OPTIONS, migrateCommand } from './migrate.js';
import { DOWNSTREAMS_DOC, REQUEUE_DOC } from './ops-help.js';
import { OPTIONS as PROOF_OPTIONS, proofCommand } from './proof.js';
import { RECONCILE_OPTIONS, reconcileCommand } from './reconcile.js';
import { RECONCILE_DOC, REPAIR_DOC } from './reconcile-help.js';
import { OPTIONS as REDRIVE_OPTIONS, redriveCommand } from './redrive.js';
import { REDRIVE_DOC } from './redrive-help.js';
import { OPTIONS as RELAY_OPTIONS, relayCommand } from './relay.js';
import { RELAY_DOC } from './relay-help.js';
import { OPTIONS as REPAIR_OPTIONS, repairCommand } from './repair.js';
import { OPTIONS as REQUEUE_OPTIONS, requeueCommand } from './requeue.js';
import { OPTIONS as RETRY_OPTIONS, retryCommand } from './retry.js';
import { OPTIONS as SEAL_OPTIONS, sealCommand } from './seal.js';
import { OPTIONS as SERVE_OPTIONS, serveCommand } from './serve.js';
import { SERVE_DOC } from './serve-help.js';
import { OPTIONS as SIM_OPTIONS, simCommand } from './sim.js';
import { SIM_DOC } from './sim-help.js';
import { OPTIONS as VERIFY_OPTIONS, verifyCommand } from './verify.js';
import { OPTIONS as VERIFY_PROOF_OPTIONS, verifyProofCommand } from './verify-proof.js';
import { OPTIONS as WORKER_OPTIONS, workerCommand } from './worker.js';
import { INSPECT_DOC, WORKER_DOC } from './worker-help.js';

/** One `tally` command: its name, how it is described, the options its parser takes, and what runs it. */
export interface CommandEntry {
  readonly name: string;
  readonly doc: CommandDoc;
  /** The options its parser accepts (node:util parseArgs); each one is named in its help (a test checks). */
  readonly options: Readonly<Record<string, { type: 'string' | 'boolean'; short?: string }>>;
  readonly run: (args: string[], io: Io) => Promise<number>;
}

/**
 * Every command, in the order help lists them: the one source of the synopsis, the overview, each
 * command's help and the dispatch in run.ts.
 */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'migrate', doc: MIGRATE_DOC, options: MIGRATE_OPTIONS, run: migrateCommand },
  { name: 'log', doc: LOG_DOC, options: LOG_OPTIONS, run: logCommand },
  {
    name: 'worker',
    doc: WORKER_DOC,
    options: WORKER_OPTIONS,
    run: (a, io) => workerCommand(a, io, io.signals),
  },
  { name: 'inspect', doc: INSPECT_DOC, options: INSPECT_OPTIONS, run: inspectCommand },
  { name: 'downstreams', doc: DOWNSTREAMS_DOC, options: DOWNSTREAMS_OPTIONS, run: downstreamsCommand },
  { name: 'requeue', doc: REQUEUE_DOC, options: REQUEUE_OPTIONS, run: requeueCommand },
  { name: 'retry', doc: RETRY_DOC, options: RETRY_OPTIONS, run: retryCommand },
  { name: 'alerts', doc: ALERTS_DOC, options: ALERTS_OPTIONS, run: alertsCommand },
  { name: 'jobs', doc: JOBS_DOC, options: JOBS_OPTIONS, run: jobsCommand },
  { name: 'actions', doc: ACTIONS_DOC, options: ACTIONS_OPTIONS, run: actionsCommand },
  { name: 'serve', doc: SERVE_DOC, options: SERVE_OPTIONS, run: (a, io) => serveCommand(a, io, io.signals) },
  { name: 'adopt', doc: ADOPT_DOC, options: ADOPT_OPTIONS, run: adoptCommand },
  { name: 'reconcile', doc: RECONCILE_DOC, options: RECONCILE_OPTIONS, run: reconcileCommand },
  { name: 'repair', doc: REPAIR_DOC, options: REPAIR_OPTIONS, run: repairCommand },
  { name: 'redrive', doc: REDRIVE_DOC, options: REDRIVE_OPTIONS, run: redriveCommand },
  { name: 'relay', doc: RELAY_DOC, options: RELAY_OPTIONS, run: (a, io) => relayCommand(a, io, io.signals) },
  { name: 'seal', doc: SEAL_DOC, options: SEAL_OPTIONS, run: sealCommand },
  { name: 'proof', doc: PROOF_DOC, options: PROOF_OPTIONS, run: proofCommand },
  { name: 'verify', doc: VERIFY_DOC, options: VERIFY_OPTIONS, run: verifyCommand },
  { name: 'verify-proof', doc: VERIFY_PROOF_DOC, options: VERIFY_PROOF_OPTIONS, run: verifyProofCommand },
  { name: 'archive', doc: ARCHIVE_DOC, options: ARCHIVE_OPTIONS, run: archiveCommand },
  { name: 'sim', doc: SIM_DOC, options: SIM_OPTIONS, run: simCommand },
  { name: 'help', doc: HELP_DOC, options: {}, run: (a, io) => helpCommand(a, io) },
];

/** The command named `name`, or a usage error listing them all. */
export function findCommand(name: string | undefined): CommandEntry {
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) {
    throw new UsageError(
      `unknown command ${JSON.stringify(String(name).slice(0, 64))}; commands: ${COMMANDS.map((x) => x.name).join(', ')}`,
    );
  }
  return c;
}

/**
 * `tally help [COMMAND]`: prints the overview or one command's usage.
 *
 * @example
 * await helpCommand(['migrate'], io);
 */
export async function helpCommand(args: string[], io: Io): Promise<number> {
  if (args.length > 1) throw new UsageError('tally help takes at most one command name');
  io.out(args[0] === undefined ? overview(COMMANDS) : commandHelp(findCommand(args[0])));
  return EXIT_OK;
}
