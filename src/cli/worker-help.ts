// How `tally worker` and `tally inspect` are described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const WORKER_DOC: CommandDoc = {
  usage: [
    'worker --module PATH [--once] [--batch-size N] [--concurrency N]',
    '[--poll-ms N] [--id NAME] [--seal-every SECONDS] [--seal-after ROWS] [--sink SPEC]...',
    '[--key-file PATH] [--origin NAME] [--nats SERVERS] [--alerts-webhook URL] [--alerts-subject SUBJECT]',
    '[--schema NAME] [DATABASE]',
  ],
  summary: 'drive unfinished commands (retry, query, compensate) declared by a module',
  about: `Drives every unfinished command (retry, query after its delay, compensate, give up after the
attempt limit) of the types the module declares, until SIGINT or SIGTERM. Several workers may run
at once: claims use FOR UPDATE SKIP LOCKED and a lease.`,
  options: [
    [
      '--module PATH',
      `a module whose default export, or export \`setup\`, is a function receiving the
Tally instance: it declares the entities and commands, e.g.
  export default (tally) => { tally.command('redeem', { ... }) }
A .ts module is loaded through tsx when the tsx package can be imported`,
    ],
    ['--once', 'stop when a round finds nothing due (for cron and tests)'],
    ['--batch-size N', 'commands claimed per round (default 16)'],
    ['--concurrency N', 'commands driven at once (default 4)'],
    ['--poll-ms N', 'pause between rounds that found nothing (default 1000)'],
    ['--id NAME', "this worker's name in leases and timelines (default worker:<uuid>)"],
    [
      '--seal-every SECONDS',
      'seal the log this often and copy each checkpoint to every --sink (docs/evidence.md; default 60 with --seal-after)',
    ],
    ['--seal-after ROWS', 'also seal as soon as about ROWS log rows wait'],
    [
      '--sink SPEC',
      'where checkpoints go (repeatable): file:PATH, nats:SUBJECT or an http(s):// webhook URL',
    ],
    ['--key-file PATH', 'the seal key (else TALLY_SEAL_KEY or TALLY_SEAL_KEY_FILE)'],
    ['--origin NAME', "the log's name in its checkpoints (else TALLY_SEAL_ORIGIN, else tally SCHEMA)"],
    [
      '--nats SERVERS',
      'NATS servers for nats: sinks and --alerts-subject (else NATS_URL, else 127.0.0.1:4222)',
    ],
    [
      '--alerts-webhook URL',
      'deliver every alert to this webhook, at least once, with a delivery id (docs/alerts.md; else TALLY_ALERTS_WEBHOOK)',
    ],
    [
      '--alerts-subject SUBJECT',
      'deliver every alert on this NATS subject (JetStream: a stream must capture it)',
    ],
  ],
};

export const INSPECT_DOC: CommandDoc = {
  usage: [
    'inspect ID|KEY [--type NAME] [--principal P] [--json] [--failover DATABASE]',
    '[--schema NAME] [DATABASE]',
  ],
  summary: "print a command's timeline: attempts, decisions, snapshots, outcomes",
  about: `Prints a command's timeline: status, decisions, stored outbound requests and their outcomes,
and every event (submitted, claimed, step_done, send, query, outcome, backoff, ...) with its
time, oldest first, then alerts. Needs no command definitions. With --failover it reads the
failover store too: a command recorded there while the primary was down is shown, and each
event says which store (primary or secondary) recorded it.`,
  options: [
    ['ID|KEY', "the command's id (a UUID) or the idempotency key it was submitted with"],
    ['--type NAME', 'narrow a key to one command type'],
    ['--principal P', 'narrow a key to one principal'],
    ['--json', 'one JSON document: { command, calls, events, alerts, intake, stores }'],
    [
      '--failover DATABASE',
      `the failover store (a postgres:// URL or a PGlite directory; default:
the FAILOVER_DATABASE_URL environment variable). If it cannot be read,
the primary's records are shown with a warning`,
    ],
  ],
  notes: `A key several commands share (other types or principals) exits with 1 (AMBIGUOUS_COMMAND)
and lists them.`,
};
