// How `tally serve` is described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const SERVE_DOC: CommandDoc = {
  usage: [
    'serve [--port N] [--host HOST] [--read-token TOKEN] [--operator-token TOKEN]',
    '[--module PATH] [--read-limit N] [--check-limit N] [--schema NAME] [DATABASE]',
  ],
  summary: 'serve the web console, its JSON API and /metrics until stopped',
  about: `Serves the operator's console on http://127.0.0.1:4680: every command's timeline, entity
histories, jobs, feed consumers and alerts, the actions (requeue, resolve an alert), the JSON API
under /api/ (docs/console-api.md) and Prometheus text on /metrics. No command definitions are
needed to read; --module PATH (the module tally worker takes) gives it the app's entity and
command declarations, so resume-job and repair work, and its exported downstreams list the
sources the Reconcile view checks commands against. It listens on 127.0.0.1 unless --host says otherwise; any other host needs a token, and
refuses to start without one. With tokens, every /api and /metrics request carries
Authorization: Bearer TOKEN: the read token reads, the operator token also acts. An embedded
directory it opens is shared: the other commands reach it through its socket. SIGINT or SIGTERM
stops it.`,
  options: [
    ['--port N', 'port to listen on (default 4680; 0: any free port)'],
    ['--host HOST', 'address to listen on (default 127.0.0.1)'],
    ['--read-token TOKEN', 'token that reads (or TALLY_READ_TOKEN); 16-512 characters'],
    ['--operator-token TOKEN', 'token that reads and acts (or TALLY_OPERATOR_TOKEN)'],
    ['--module PATH', "the app's setup module: its entities, commands and downstreams"],
    ['--read-limit N', 'list and search requests a token may make a minute (default 300; 0: no limit)'],
    ['--check-limit N', 'reconcile checks a token may run a minute (default 10; 0: no limit)'],
  ],
};
