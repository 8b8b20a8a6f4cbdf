// How `tally redrive` is described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const REDRIVE_DOC: CommandDoc = {
  usage: [
    'redrive --module PATH --downstream NAME [--type NAME] [--since TIME] [--until TIME] [--all]',
    '[--apply --actor WHO --reason WHY] [--json] [--schema NAME] [DATABASE]',
  ],
  summary: "check commands against a downstream's records; re-drive the mismatches (dry run first)",
  about: `Compares each call of a command type with the downstream's own record of it (the
downstream's source comes from the module's downstreams export, as for tally serve) and prints
the differences and the re-drive plan: needs_attention or backing-off commands go back to the
worker, finished ones are for a person. Without --apply it is a dry run and writes nothing (no
alert, no settle mark). With --apply --actor WHO --reason WHY it checks again (marking agreeing
calls settled; alerting stays with the app's scheduled round) and re-drives the planned commands,
each recorded on its timeline and as an operator action. The same as the console's Reconcile view and tally.actions.redrive.`,
  options: [
    ['--module PATH', 'the setup module; its `downstreams` export lists the downstreams'],
    ['--downstream NAME', 'the downstream to check against (a name in that list); required'],
    ['--type NAME', "the command type (default: the downstream's only type)"],
    ['--since TIME', 'only commands received at or after TIME (ISO 8601)'],
    ['--until TIME', 'only commands received before TIME'],
    ['--all', 'every call in range, also those a round has settled (an audit)'],
    ['--apply', 're-drive the planned commands (needs --actor and --reason)'],
    ['--actor WHO', 'who re-drives (recorded)'],
    ['--reason WHY', 'why (recorded too)'],
    ['--json', 'the report and plan (and what was re-driven) as JSON'],
  ],
};
