// How `tally relay` is described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const RELAY_DOC: CommandDoc = {
  usage: [
    'relay [--nats SERVERS] [--stream NAME] [--prefix P] [--sources LIST] [--name NAME]',
    '[--duplicate-window DURATION] [--batch-size N] [--poll-ms N] [--lease-ms N] [--schema NAME] [DATABASE]',
  ],
  summary: 'relay the log and command events to NATS JetStream (message id = entry id)',
  about: `Relays the operation log and command events to NATS JetStream in commit order, until SIGINT/SIGTERM
(the batch in hand is published and checkpointed first). Subjects: <prefix>.<schema>.log.<entity_type>
and <prefix>.<schema>.commands.<command_type>; message id <source>-<id>, so the broker drops entries a
crashed relay had already published, inside the duplicate window.`,
  options: [
    ['--nats SERVERS', 'host:port list (default: NATS_URL, else 127.0.0.1:4222)'],
    ['--stream NAME', 'JetStream stream, created or widened (default TALLY_<schema>)'],
    ['--prefix P', 'first subject token (default tally)'],
    ['--sources LIST', 'log,command_events (default both)'],
    ['--name NAME', 'feed consumer name; one per source as NAME:<source> (default nats-relay)'],
    ['--duplicate-window D', 'how long the broker remembers message ids: 90s, 15m, 2h (default 15m)'],
    ['--batch-size N', 'entries per batch (default 1000)'],
    ['--poll-ms N', 'longest idle wait between reads (default 100)'],
    ['--lease-ms N', 'how soon a standby takes over from a dead relay (default 30000)'],
  ],
};
