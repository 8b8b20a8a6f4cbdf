// Usage texts of `tally reconcile` and `tally repair` (kept beside their commands, registered in help.ts).

const ENTITIES = `Entities (one of):
  --module PATH       the module \`tally worker\` loads (default export or \`setup\` receives the
                      Tally instance); every entity it declares is checked (--entity NAME: only that one)
  --entity NAME --table TABLE [--key COL] [--state COL] [--version COL]
                      one entity described here: NAME is its entity type in the log; columns
                      default to id, state and version`;

const DATABASE = `Database (the first that applies): --database-url URL, --data-dir DIR, DATABASE_URL,
else embedded PGlite in ./.tally-data. --schema NAME: schema of Tally's tables (default tally).`;

export const RECONCILE_HELP = `Usage: tally reconcile (--module PATH [--entity NAME] | --entity NAME --table TABLE ...)
                       [--ignore COL,COL] [--chunk-size N] [--skip-chains] [--precise] [--compare-with URL] [--json]
                       [--schema NAME] [DATABASE]

Checks every row against its operation log, set-based in the database: rows changed around Tally,
rows ahead of their log (missing or deleted last entries), rows logged nowhere, logs ahead of their
row, version gaps, logs of rows that no longer exist; then every hash chain (edited entries, broken
links). Reads only. A progress bar on a terminal, plain lines otherwise (stderr).

${ENTITIES}
  --ignore COL,COL    columns not compared with the log (e.g. updated_at kept by a trigger)
  --chunk-size N      rows per chunk (default 1000000; each chunk scans the entity's log once)
  --skip-chains       check state against the log only, not the hash chains
  --precise           compare every row's columns, trusting no tuple header (a deep check, e.g. after
                      ADD COLUMN with a default or RENAME COLUMN; decision 0057)
  --compare-with URL  also compare each entity's table with the table of the same name in another
                      PostgreSQL database (chunk checksums with bisection); differences exit 3
  --json              the whole report as one JSON document on stdout

Exit codes: 0 everything tallies, 3 drift found, 1 error, 2 usage.
${DATABASE}`;

export const REPAIR_HELP = `Usage: tally repair (--module PATH [--entity NAME] | --entity NAME --table TABLE ...)
                    [--apply --actor WHO --reason WHY] [--ignore COL,COL] [--json] [--schema NAME] [DATABASE]

Reconciles, then prints the repair plan: each row the log does not explain (changed around Tally,
ahead of its log, never logged) gets a \`repair\` log entry whose before image is what the log says
and whose after image is the row, at the next log version, chained to the last entry's hash; the
row's version is set to match. Findings a repair cannot explain (log ahead of the row, gaps, edited
entries, logs without a row) are listed for a person. Without --apply nothing is written.

  --apply             write the repairs (one transaction per 1,000 rows, rows locked), then check again
  --actor WHO         recorded on every repair entry (required with --apply)
  --reason WHY        recorded on every repair entry (required with --apply)
${ENTITIES}

Repairs are idempotent: a second --apply finds nothing and writes nothing.
Exit codes: 0 done (or dry run), 3 findings remain for a person, 1 error, 2 usage.
${DATABASE}`;
