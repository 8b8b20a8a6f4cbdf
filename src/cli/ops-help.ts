// How `tally downstreams` and `tally requeue` are described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const DOWNSTREAMS_DOC: CommandDoc = {
  usage: ['downstreams [--json] [--schema NAME] [DATABASE]'],
  summary: 'show the breakers of the downstreams commands call, and what waits on them',
  about: `Prints each downstream's breaker: closed or open, consecutive calls that could not connect,
since when it is open, when the next probe goes out, the last error, and how many commands are
paused on it. No command definitions are needed: everything shown is what Tally recorded.`,
  options: [['--json', 'one JSON array of the breakers']],
};

export const REQUEUE_DOC: CommandDoc = {
  usage: [
    'requeue --actor WHO --reason WHY [--type NAME] [--id ID] [--since TIME]',
    '[--until TIME] [--downstream NAME --module PATH] [--limit N] [--dry-run]',
    '[--schema NAME] [DATABASE]',
  ],
  summary: 'free stranded (needs_attention) commands: back to the worker with a new budget',
  about: `Gives every needs_attention command that matches the filters a new budget: back to pending
(or to compensating, if it was undoing a definite failure), attempts from 0, its deadline counting
from now, due now. Each gets a requeued event with who and why; its open alert is resolved. A
running worker then drives them. Run it with --dry-run first to see which commands it takes.`,
  options: [
    ['--actor WHO', 'who frees them (recorded on each timeline); required'],
    ['--reason WHY', 'why (recorded too); required'],
    ['--type NAME', 'only commands of this type'],
    ['--id ID', 'only this command'],
    ['--since TIME', 'only commands received at or after TIME (ISO 8601, e.g. 2026-12-07T10:00:00Z)'],
    ['--until TIME', 'only commands received before TIME'],
    [
      '--downstream NAME',
      `only commands stopped at a call to this downstream; needs --module, whose
declarations say which calls name it`,
    ],
    ['--module PATH', 'a setup module that declares the commands (as for tally worker)'],
    ['--limit N', 'at most N commands, oldest first (default 10000)'],
    ['--dry-run', 'list the commands it would take; change nothing'],
  ],
};
