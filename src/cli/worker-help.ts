// Usage texts of `tally worker` and `tally inspect` (kept beside their commands, registered in help.ts).

const DATABASE = `Database (the first that applies): --database-url URL, --data-dir DIR, DATABASE_URL,
else embedded PGlite in ./.tally-data. --schema NAME: schema of Tally's tables (default tally).`;

export const WORKER_HELP = `Usage: tally worker --module PATH [--once] [--batch-size N] [--concurrency N]
                    [--poll-ms N] [--id NAME] [--schema NAME] [DATABASE]

Drives every unfinished command (retry, query after its delay, compensate, give up after the
attempt limit) of the types the module declares, until SIGINT or SIGTERM. Several workers may run
at once: claims use FOR UPDATE SKIP LOCKED and a lease.

  --module PATH     a JavaScript module (TypeScript under tsx) whose default export, or export
                    \`setup\`, is a function receiving the Tally instance: it declares the
                    entities and commands, e.g.
                      export default (tally) => { tally.command('redeem', { ... }) }
  --once            stop when a round finds nothing due (for cron and tests)
  --batch-size N    commands claimed per round (default 16)
  --concurrency N   commands driven at once (default 4)
  --poll-ms N       pause between rounds that found nothing (default 1000)
  --id NAME         this worker's name in leases and timelines (default worker:<uuid>)

${DATABASE}`;

export const INSPECT_HELP = `Usage: tally inspect ID|KEY [--type NAME] [--principal P] [--json] [--schema NAME] [DATABASE]

Prints a command's timeline: status, decisions, stored outbound requests and their outcomes,
and every event (submitted, claimed, step_done, send, query, outcome, backoff, ...) with its
time, oldest first, then alerts. Needs no command definitions.

  ID|KEY           the command's id (a UUID) or the idempotency key it was submitted with
  --type NAME      narrow a key to one command type
  --principal P    narrow a key to one principal
  --json           one JSON document: { command, calls, events, alerts }

A key several commands share (other types or principals) exits with 1 (AMBIGUOUS_COMMAND)
and lists them. ${DATABASE}`;
