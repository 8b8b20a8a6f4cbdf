// How `tally migrate`, `tally log` and `tally help` are described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const MIGRATE_DOC: CommandDoc = {
  usage: ['migrate [--print] [--schema NAME] [DATABASE]'],
  summary: "apply Tally's pending migrations (--print: write the SQL instead)",
  about: `Applies Tally's pending migrations, each in its own transaction under an advisory lock,
so several processes may run it at once. Running it again is a no-op.`,
  options: [['--print', 'write the SQL of every migration to stdout for a DBA; no database is touched']],
};

export const LOG_DOC: CommandDoc = {
  usage: ['log --entity NAME --key KEY [--json] [--schema NAME] [DATABASE]'],
  summary: "print an entity's operation log and check its hash chain",
  about: `Prints an entity's operation-log rows, oldest first, and checks the chain: versions follow
each other by one, each hash matches its row, each row links to the previous row's hash.
A broken chain exits with 1 (error LOG_CHAIN_BROKEN).`,
  options: [
    ['--entity NAME', "the entity's declared name, e.g. resource"],
    ['--key KEY', 'its key as Tally stores it (integers in decimal, UUIDs in lower case)'],
    ['--json', 'one JSON document: { schema, entity, key, entries, chain }'],
  ],
};

export const HELP_DOC: CommandDoc = {
  usage: ['help [COMMAND]'],
  summary: "this text, or a command's",
  about: "Prints the overview, or one command's usage (as `tally COMMAND --help` does).",
  options: [['COMMAND', 'one of the commands above']],
  database: false,
};
