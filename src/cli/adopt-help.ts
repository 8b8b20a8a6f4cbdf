// How `tally adopt` is described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const ADOPT_DOC: CommandDoc = {
  usage: [
    'adopt TABLE (--entity NAME [--key COL] [--state COL] [--version COL] | --module PATH [--entity NAME])',
    '[--dry-run] [--chunk-size N] [--reason WHY] [--json] [--schema NAME] [DATABASE]',
  ],
  summary: 'give the rows a table had before Tally one genesis log entry each (dry run first)',
  about: `The first step of putting Tally on a table that already has data. Every row at version >= 1 with
no log entry gets one genesis entry: action adopt, actor tally-adopt, the row's image now as its
after image, at the row's own version, starting its log. From then on \`tally reconcile\`
checks each adopted row from that baseline instead of reporting it as a row logged nowhere, and rows
written around Tally later are still reported. Rows at version 0 were never changed and need nothing.
One short transaction per chunk of rows (a key range); the rows are locked as Tally's own changes
lock them and rewritten unchanged with their entry, so a change through Tally running at the same
time never starts a second log for it. Rows that have log entries are skipped: running it again writes
nothing. A progress bar on a terminal, plain lines otherwise (stderr).`,
  options: [
    ['TABLE', 'the table: name or schema.name'],
    ['--entity NAME', "the entity's type in the log (with --module: which of its entities on TABLE)"],
    ['--key COL', 'without --module: the key column (default id)'],
    ['--state COL', 'without --module: the state column (default state)'],
    ['--version COL', 'without --module: the version column (default version)'],
    ['--module PATH', 'the module `tally worker` loads; the entity it declares on TABLE is adopted'],
    ['--dry-run', 'count the rows that would get a genesis entry; write nothing (run this first)'],
    ['--chunk-size N', 'rows per transaction (default 10000)'],
    ['--reason WHY', 'recorded on every genesis entry'],
    ['--json', 'the result as one JSON document on stdout (no progress)'],
  ],
  notes: `Run it once, before the first reconcile: a later run adopts whatever rows have no log entry by
then, rows written around Tally included (the reconciler reports those until then).
Exit codes: 0 done (or a dry run), 1 error, 2 usage.`,
};
