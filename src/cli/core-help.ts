// How `tally migrate`, `tally log` and `tally help` are described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const MIGRATE_DOC: CommandDoc = {
  usage: ['migrate [--print] [--schema NAME] [DATABASE]'],
  summary: "apply Tally's pending migrations (--print: write the SQL instead)",
  about: `Applies Tally's pending migrations under an advisory lock, so several processes may run it at
once. Running it again is a no-op. On PostgreSQL each migration applies online: indexes are built
CONCURRENTLY, and each DDL waits at most 500 ms for its lock and is then retried, so writers never queue
behind it (docs/migrations.md). On PGlite each migration is one transaction.`,
  options: [
    [
      '--print',
      `write the SQL of every migration to stdout for a DBA (psql -f); statements that must run
outside a transaction are marked; no database is touched`,
    ],
  ],
};

export const LOG_DOC: CommandDoc = {
  usage: ['log --entity NAME --key KEY [--json] [--schema NAME] [DATABASE]'],
  summary: "print an entity's operation log and check it",
  about: `Prints an entity's operation-log rows, oldest first, and checks them: versions follow each other
by one, and each entry's before image is the previous entry's after image. New entries carry no hash:
the sealed checkpoints are the log's evidence (tally seal, tally verify). Entries written before
migration 10 keep the per-entity hash chain they were written with, and each such hash must still match
its row and link to the previous one. A broken log exits with 1 (error LOG_CHAIN_BROKEN).`,
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
