// How `tally alerts` is described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const ALERTS_DOC: CommandDoc = {
  usage: [
    'alerts [resolve ALERT --actor WHO --reason WHY] [--type NAME] [--id ID] [--open]',
    '[deliveries [--alert ID] [--pending]] [--limit N] [--json] [--schema NAME] [DATABASE]',
  ],
  summary: "list the commands' alerts, or resolve one with who and why",
  about: `Lists alerts, newest first: the attempt limits, contradicting messages and reconciler
mismatches Tally raised, open or resolved (and by whom). \`alerts resolve ALERT\` resolves one, recording
who and why (and an alert_resolved event on the command's timeline); the commands reconciler does not
raise that mismatch again until the command's status changes, and an undelivered alert is not sent.
Resolving a resolved alert changes nothing. \`alerts deliveries\` lists where each alert went (the
webhook and NATS subject of createTally's alerts option, docs/alerts.md): pending, delivered or
skipped, the channels that acknowledged it, attempts and the last error. No command definitions are
needed.`,
  options: [
    ['--type NAME', 'only alerts of this command type'],
    ['--id ID', 'only alerts of this command'],
    ['--open', 'only open (unresolved) alerts'],
    ['--limit N', 'at most N alerts, newest first (default 100)'],
    ['--json', 'one JSON array of the alerts'],
    ['ALERT', 'resolve: the alert id (as listed)'],
    ['--actor WHO', 'resolve: who resolves it (recorded); required'],
    ['--reason WHY', 'resolve: why (recorded too); required'],
    ['--alert ID', "deliveries: only this alert's"],
    ['--pending', 'deliveries: only those not yet acknowledged by every channel'],
  ],
};
