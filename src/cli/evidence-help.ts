// How `tally seal`, `proof`, `verify` and `verify-proof` are described (rendered by help.ts).
import type { CommandDoc } from './command-doc.js';

const ORIGIN_ROW: readonly [string, string] = [
  '--origin NAME',
  "the log's name in its checkpoints (default: TALLY_SEAL_ORIGIN, else 'tally SCHEMA')",
];
const KEY_ROW: readonly [string, string] = [
  '--key PEM_FILE',
  `a public key to trust (SPKI PEM; repeat it, or put several in one file, across a
rotation); default TALLY_SEAL_PUBLIC_KEY (the PEM) or TALLY_SEAL_PUBLIC_KEY_FILE`,
];

export const SEAL_DOC: CommandDoc = {
  usage: ['seal [--key-file PATH] [--origin NAME] [--out FILE] [--schema NAME] [DATABASE]'],
  summary: 'append the unsealed log rows to the Merkle tree and sign a checkpoint',
  about: `Appends every committed log row not yet sealed to the log's Merkle tree (in commit order),
then signs one checkpoint of the whole tree, chained to the one before, and prints its tree size,
root and note. Nothing new to seal: prints the tree size and signs nothing (docs/evidence.md).`,
  options: [
    [
      '--key-file PATH',
      `the Ed25519 private key (PKCS#8 PEM) that signs; default TALLY_SEAL_KEY (the PEM)
or TALLY_SEAL_KEY_FILE (a path)`,
    ],
    ORIGIN_ROW,
    [
      '--out FILE',
      `also append the new checkpoint to FILE, an append-only copy outside the database
(what tally verify --checkpoint reads)`,
    ],
  ],
};

const ARCHIVE_ROW: readonly [string, string] = [
  '--archive DIR',
  'where tally archive wrote the log ranges it moved out of the table (read back and checked)',
];

export const PROOF_DOC: CommandDoc = {
  usage: [
    'proof (--entity NAME --key KEY --version N | --id LOG_ID | --consistency-from FILE)',
    '[--archive DIR] [--origin NAME] [--out FILE] [--schema NAME] [DATABASE]',
  ],
  summary: 'print an inclusion proof of one log row against the latest checkpoint',
  about: `Prints a proof file (JSON, tally.inclusion-proof.v1) showing that the log row is in the tree
the latest checkpoint signed: the row, its tree position, the audit path and the checkpoint.
tally verify-proof checks it with nothing but the public key. A row after the latest checkpoint
is NOT_SEALED: run tally seal first.`,
  options: [
    ['--entity NAME', "the entity's declared name, e.g. resource"],
    ['--key KEY', 'its key as Tally stores it (integers in decimal, UUIDs in lower case)'],
    ['--version N', 'the version of the entity the row wrote'],
    ['--id LOG_ID', "the log row's id instead"],
    [
      '--consistency-from FILE',
      `instead of a row: a consistency proof (tally.consistency-proof.v1) that the latest
checkpoint extends the last one in FILE (a checkpoint file, e.g. tally seal --out's)`,
    ],
    ARCHIVE_ROW,
    ORIGIN_ROW,
    ['--out FILE', 'write the proof to FILE (print one line about it) instead of stdout'],
  ],
};

export const VERIFY_DOC: CommandDoc = {
  usage: [
    'verify [--key PEM_FILE]... [--checkpoint FILE | --sink SPEC [--nats SERVERS]] [--archive DIR]',
    '[--origin NAME] [--schema NAME] [DATABASE]',
  ],
  summary: "check the database's log against its signed checkpoints (and an external copy)",
  about: `Recomputes the Merkle tree from the log's rows and checks it against every checkpoint the
database holds (signatures, their chain, each root) and, with --checkpoint, against the latest
checkpoint of an external file (tally seal --out): that one catches a database rolled back or
with its newest rows deleted. Exits 1 naming what it found: ROOT_MISMATCH (a sealed row changed,
removed or moved; the tree positions between, and the rows there that are gone or no longer fit
their hash, version or images), ROWS_MISSING, CHECKPOINTS_MISSING, CHAIN_BROKEN, or a checkpoint's
UNKNOWN_KEY / BAD_SIGNATURE / BAD_CHECKPOINT. Log rows no checkpoint covers yet are counted.
Ranges tally archive moved out of the log are read back from --archive DIR (ARCHIVED without it,
ARCHIVE_UNUSABLE when a file is missing or not the one recorded).`,
  options: [
    KEY_ROW,
    ['--checkpoint FILE', 'a checkpoint file kept outside the database; its last note is checked too'],
    [
      '--sink SPEC',
      'the newest checkpoint a sink holds is checked too: file:PATH, or nats:SUBJECT (a JetStream subject)',
    ],
    ['--nats SERVERS', 'NATS servers for a nats: sink (else NATS_URL, else 127.0.0.1:4222)'],
    ARCHIVE_ROW,
    ORIGIN_ROW,
  ],
};

export const VERIFY_PROOF_DOC: CommandDoc = {
  usage: ['verify-proof FILE [--key PEM_FILE]... [--origin NAME]'],
  summary: 'check a proof file offline, with only the trusted public keys',
  about: `Checks a proof file (tally proof, or any tally.inclusion-proof.v1 / consistency-proof.v1)
without a database: the checkpoint's signature by a trusted key, then the Merkle path to its
signed root. Prints what it proved, or exits 1 with the reason: MALFORMED, BAD_CHECKPOINT,
UNKNOWN_KEY, BAD_SIGNATURE, ORIGIN_MISMATCH, OUT_OF_RANGE, PATH_LENGTH or ROOT_MISMATCH.`,
  options: [
    ['FILE', 'the proof file'],
    KEY_ROW,
    ['--origin NAME', 'refuse checkpoints of any other log (default: any)'],
  ],
  database: false,
};
