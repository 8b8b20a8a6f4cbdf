// How `tally archive` is described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

export const ARCHIVE_DOC: CommandDoc = {
  usage: [
    'archive --dir DIR (--older-than AGE | --before TIME) [--dry-run] [--rows-per-file N]',
    '[--chunk N] [--pause-ms N] [--verify [--key PEM_FILE]... [--checkpoint FILE]]',
    '[--prove (--entity NAME --row-key KEY --version N | --consistency-from FILE) [--out FILE]]',
    '[--origin NAME] [--schema NAME] [DATABASE]',
  ],
  summary: 'move sealed log rows older than a horizon to compressed archive files',
  about: `Writes the oldest part of the log to gzip NDJSON files in DIR (one per range of tree positions,
named by them and the checkpoint that sealed them, each listed with its sha256 in DIR/manifest.json),
then deletes those rows from the log in small chunks. Only rows a stored checkpoint has sealed, written
before the horizon, and handed to every log feed consumer move: it stops at the first other one. On a
terminal a progress bar is drawn on stderr. --verify instead checks the whole log, archived ranges read
from DIR, against its checkpoints, as tally verify does; --prove prints the proof tally proof would,
for an archived row or between two checkpoints, the archived leaves read from DIR (docs/retention.md).`,
  options: [
    ['--dir DIR', 'the archive directory (created if missing)'],
    ['--older-than AGE', "the horizon as an age: rows written more than AGE ago, e.g. '90d', '12h'"],
    ['--before TIME', 'the horizon as an ISO 8601 time'],
    ['--dry-run', 'print the files that would be written and the rows they would take; change nothing'],
    ['--rows-per-file N', 'rows per archive file (default 50000)'],
    ['--chunk N', 'log rows deleted per statement (default 1000)'],
    ['--pause-ms N', 'pause between those statements, to leave the server to the write path (default 0)'],
    ['--verify', 'audit the log and its archive against the checkpoints; exit 1 naming what differs'],
    [
      '--key PEM_FILE',
      'with --verify: a public key to trust (default TALLY_SEAL_PUBLIC_KEY or TALLY_SEAL_PUBLIC_KEY_FILE)',
    ],
    ['--checkpoint FILE', 'with --verify: a checkpoint file kept outside the database; its last note too'],
    ['--prove', 'print an inclusion proof of an archived row, or a consistency proof, reading the archive'],
    ['--entity NAME', "with --prove: the row's entity, e.g. resource"],
    ['--row-key KEY', "with --prove: the entity's key as Tally stores it (integers in decimal)"],
    ['--version N', 'with --prove: the version of the entity the row wrote'],
    [
      '--consistency-from FILE',
      'with --prove: a consistency proof from the last checkpoint of FILE to the latest',
    ],
    ['--out FILE', 'with --prove: write the proof to FILE instead of stdout'],
    ['--origin NAME', "the log's name in its checkpoints (default: TALLY_SEAL_ORIGIN, else 'tally SCHEMA')"],
  ],
};
