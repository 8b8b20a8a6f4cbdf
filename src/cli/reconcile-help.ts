// How `tally reconcile` and `tally repair` are described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

const ENTITIES: readonly (readonly [string, string])[] = [
  [
    '--module PATH',
    `the module \`tally worker\` loads (default export or \`setup\` receives the Tally
instance); every entity it declares is checked`,
  ],
  ['--entity NAME', 'with --module: only this entity; with --table: its entity type in the log'],
  ['--table TABLE', 'one entity described here instead of a module (needs --entity)'],
  ['--key COL', 'with --table: the key column (default id)'],
  ['--state COL', 'with --table: the state column (default state)'],
  ['--version COL', 'with --table: the version column (default version)'],
  ['--ignore COL,COL', 'columns not compared with the log (e.g. updated_at kept by a trigger)'],
  ['--chunk-size N', "rows per chunk (default 1000000; each chunk scans the entity's log once)"],
  [
    '--skip-chains',
    `check state against the log only, not each log's own links (before images, and the
hashes of entries written before migration 10)`,
  ],
  [
    '--precise',
    `compare every row's columns, trusting no tuple header (a deep check, e.g. after
ADD COLUMN with a default or RENAME COLUMN; decision 0057)`,
  ],
];

export const RECONCILE_DOC: CommandDoc = {
  usage: [
    'reconcile (--module PATH [--entity NAME] | --entity NAME --table TABLE [--key COL] [--state COL] [--version COL])',
    '[--ignore COL,COL] [--chunk-size N] [--skip-chains] [--precise] [--compare-with URL] [--json]',
    '[--schema NAME] [DATABASE]',
  ],
  summary: 'check tables against their logs (exit 3 on drift)',
  about: `Checks every row against its operation log, set-based in the database: rows changed around Tally,
rows ahead of their log (missing or deleted last entries), rows logged nowhere, logs ahead of their
row, version gaps, logs of rows that no longer exist; then each log's own links: every entry's before
image against the previous entry, and the hashes of entries written before migration 10 (edited entries,
broken links). Whether the log itself was rewritten is \`tally verify\`'s question (sealed checkpoints).
Reads only. A progress bar on a terminal, plain lines otherwise (stderr).`,
  options: [
    ...ENTITIES,
    [
      '--compare-with URL',
      `also compare each entity's table with the table of the same name in another
PostgreSQL database (chunk checksums with bisection); differences exit 3`,
    ],
    ['--json', 'the whole report as one JSON document on stdout (no progress)'],
  ],
  notes: 'Exit codes: 0 everything tallies, 3 drift found, 1 error, 2 usage.',
};

export const REPAIR_DOC: CommandDoc = {
  usage: [
    'repair (--module PATH [--entity NAME] | --entity NAME --table TABLE [--key COL] [--state COL] [--version COL])',
    '[--apply --actor WHO --reason WHY [--accept-missing-log]] [--ignore COL,COL] [--chunk-size N]',
    '[--skip-chains] [--precise] [--json] [--schema NAME] [DATABASE]',
  ],
  summary: 'plan (dry run) or --apply repair entries for rows the log does not explain',
  about: `Reconciles, then prints the repair plan: each row the log does not explain gets a \`repair\` log
entry whose before image is what the log says and whose after image is the row, at the next log
version; the row's version is set to match. A row changed around
Tally is repaired with --apply. A row whose log entries are missing (the row is ahead of its log, or
has no log at all) may be a deletion of log entries: such repairs are applied only with
--accept-missing-log, after a person has checked. Findings a repair cannot explain (log ahead of the
row, gaps, edited entries, logs without a row) are listed for a person.
Without --apply nothing is written; with it, the plan is printed, then progress per chunk, then
the check runs again (with progress).`,
  options: [
    ['--apply', 'write the repairs (one transaction per 1,000 rows, rows locked), then check again'],
    ['--actor WHO', 'recorded on every repair entry (required with --apply)'],
    ['--reason WHY', 'recorded on every repair entry (required with --apply)'],
    [
      '--accept-missing-log',
      `also repair rows whose log entries are missing (they may have been deleted);
without it they are withheld and reported`,
    ],
    ...ENTITIES,
    ['--json', 'the plan, the result and the check after as one JSON document (no progress)'],
  ],
  notes: `Repairs are idempotent: a second --apply finds nothing and writes nothing.
Exit codes: 0 done (or dry run), 3 findings remain for a person, 1 error, 2 usage.`,
};
