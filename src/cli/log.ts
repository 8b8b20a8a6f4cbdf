import type { LogEntry } from '../changes/history.js';
import { quoteIdent } from '../db/ident.js';
import { TallyError } from '../errors.js';
import { plural } from '../plural.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseCommand, stringOption } from './options.js';
import { entityLogRowsSql, logTablePresentSql } from './sql.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  entity: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** One log row as `tally log` reports it: the library's entry, its time as ISO text for printing. */
export type LogRow = Omit<LogEntry, 'entity_type' | 'entity_key' | 'at'> & { at: string };

/** The chain check over an entity's log: versions contiguous, images joined, (legacy) hashes right and linked. */
export interface ChainCheck {
  ok: boolean;
  problems: string[];
}

/**
 * `tally log --entity NAME --key KEY [--json]`: prints an entity's operation-log rows, oldest first,
 * and checks their chain: versions contiguous, each before image the previous after image, and on entries
 * written before migration 10 the hash chain. A broken chain exits with 1 (`error LOG_CHAIN_BROKEN`).
 *
 * @example
 * await logCommand(['--entity', 'resource', '--key', '42'], io);
 */
export async function logCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('log', args, OPTIONS);
  const entity = stringOption(values, 'entity', 'log');
  const key = stringOption(values, 'key', 'log');
  if (entity === undefined || key === undefined) {
    throw new UsageError('tally log: --entity NAME and --key KEY are required');
  }
  const opts = databaseOptions(values, 'log');
  const s = quoteIdent(opts.schema, '--schema');

  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  let rows: LogRow[];
  try {
    const [t] = await conn.db.query<{ present: boolean }>(logTablePresentSql(s));
    if (!t?.present) {
      throw new TallyError(
        'SCHEMA_NOT_MIGRATED',
        `schema ${opts.schema} in ${conn.label} has no Tally log table: run \`tally migrate\` (or pass the right --schema)`,
      );
    }
    const raw = await conn.db.query<Record<string, unknown>>(entityLogRowsSql(s, entity, key));
    rows = raw.map(normalize);
    const check = checkChain(raw);
    if (values.json) {
      io.out(JSON.stringify({ schema: opts.schema, entity, key, entries: rows, chain: check }, null, 2));
    } else {
      printHuman(io, entity, key, rows, check);
    }
    if (!check.ok) {
      throw new CliError(
        'LOG_CHAIN_BROKEN',
        `${entity} ${key}: ${plural(check.problems.length, 'problem')} in the log chain; the log was edited or rows were removed`,
      );
    }
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

/**
 * Reads the database's per-row checks into a list of problems.
 *
 * @example
 * checkChain([{ version: 1, hash_ok: true, link_ok: true, version_ok: true, image_ok: true }]); // { ok: true, problems: [] }
 */
export function checkChain(raw: readonly Record<string, unknown>[]): ChainCheck {
  const problems: string[] = [];
  for (const r of raw) {
    const v = Number(r.version);
    if (!r.version_ok) problems.push(`version ${v} does not follow the previous entry (a row is missing)`);
    if (!r.hash_ok)
      problems.push(
        r.hash === null || r.hash === undefined
          ? `version ${v}: no hash, but written while the chain was kept (its hash was removed)`
          : `version ${v}: hash does not match the entry (edited)`,
      );
    if (!r.link_ok) problems.push(`version ${v}: prev_hash does not link to the previous entry's hash`);
    if (r.image_ok === false)
      problems.push(`version ${v}: before image differs from the previous entry's after image`);
  }
  return { ok: problems.length === 0, problems };
}

function normalize(r: Record<string, unknown>): LogRow {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown> | null;
  const at = r.at instanceof Date ? r.at : new Date(String(r.at));
  return {
    id: String(r.id),
    version: Number(r.version),
    action: String(r.action),
    actor: String(r.actor),
    source_ip: (r.source_ip as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    request_id: (r.request_id as string | null) ?? null,
    command_id: (r.command_id as string | null) ?? null,
    before: json(r.before),
    after: json(r.after),
    changed: (r.changed as string[]) ?? [],
    at: at.toISOString(),
    txid: String(r.txid),
    prev_hash: (r.prev_hash as string | null) ?? null,
    hash: (r.hash as string | null) ?? null,
  };
}

function printHuman(io: Io, entity: string, key: string, rows: LogRow[], check: ChainCheck): void {
  if (rows.length === 0) {
    io.out(
      `${entity} ${key}: no log entries (the key as Tally stores it: integers in decimal, UUIDs in lower case)`,
    );
    return;
  }
  io.out(`${entity} ${key}: ${plural(rows.length, 'log entry', 'log entries')}, oldest first`);
  for (const r of rows) {
    const where = [r.source_ip && `ip ${r.source_ip}`, r.request_id && `request ${r.request_id}`]
      .concat(r.command_id ? [`command ${r.command_id}`] : [])
      .filter(Boolean);
    io.out('');
    io.out(
      `v${r.version}  ${r.at}  ${r.action}  by ${r.actor}${where.length ? `  (${where.join(', ')})` : ''}`,
    );
    for (const field of r.changed) {
      const before = r.before ? show(r.before[field]) : null;
      const after = r.after ? show(r.after[field]) : 'null';
      io.out(before === null ? `    ${field} = ${after}` : `    ${field}: ${before} → ${after}`);
    }
    if (r.reason) io.out(`    reason: ${r.reason}`);
  }
  io.out('');
  if (check.ok) {
    io.out(
      `chain: ok (versions ${rows[0]!.version}..${rows[rows.length - 1]!.version} contiguous; each before image is the previous after image; ${hashesChecked(rows)})`,
    );
  } else {
    io.out('chain: BROKEN');
    for (const p of check.problems) io.out(`  - ${p}`);
  }
}

// Entries written since migration 10 carry no hash (decision 0065): say what was checked, not more.
function hashesChecked(rows: readonly LogRow[]): string {
  const hashed = rows.filter((r) => r.hash !== null).length;
  if (hashed === rows.length) return 'every hash matches its entry and links to the previous one';
  const sealed = 'entries without a hash are covered by the sealed checkpoints: `tally verify`';
  if (hashed === 0) return sealed;
  return `the ${hashed} hashed entries match and link; ${sealed}`;
}

function show(v: unknown): string {
  const text = v === undefined ? 'null' : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
