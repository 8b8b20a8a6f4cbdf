import type { Executor, SqlQuery } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { EntityRuntime } from './apply.js';
import { entityLogSql, firstLogSql, logAtTimeSql, logAtVersionSql, verifyEntitySql } from './history-sql.js';
import { canonicalKeys, type EntityKey } from './keys.js';

/** One operation-log row as read back. */
export interface LogEntry {
  id: string;
  entity_type: string;
  entity_key: string;
  version: number;
  action: string;
  actor: string;
  source_ip: string | null;
  reason: string | null;
  request_id: string | null;
  command_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  changed: string[];
  at: Date;
  txid: string;
  /** The per-entity chain (decision 0002); null on entries written since migration 10 (decision 0065). */
  prev_hash: string | null;
  hash: string | null;
}

/** The result of folding an entity's log against its row. `ok` only when there is no problem. */
export interface FoldCheck {
  ok: boolean;
  entries: number;
  lastVersion: number;
  rowVersion: number | null;
  problems: string[];
}

function normalize(row: Record<string, unknown>): LogEntry {
  const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  return {
    ...(row as unknown as LogEntry),
    version: Number(row.version),
    before: parse(row.before) as LogEntry['before'],
    after: parse(row.after) as LogEntry['after'],
    at: row.at instanceof Date ? row.at : new Date(String(row.at)),
  };
}

async function keyText(rt: EntityRuntime, db: Executor, key: EntityKey): Promise<[string, string]> {
  const shape = await rt.shape(db);
  const [text] = canonicalKeys([key], shape.keyType, rt.def.name);
  return [text!, shape.keyType];
}

/** An entity's log, oldest first. */
export async function history(
  rt: EntityRuntime,
  db: Executor,
  key: EntityKey,
  limit = 10_000,
): Promise<LogEntry[]> {
  const [k] = await keyText(rt, db, key);
  const rows = await db.query(entityLogSql(rt.config.s, rt.def.name, k, limit));
  return rows.map(normalize);
}

/**
 * The entity's row image as of a version or a time, from the log alone. Before the first logged
 * change it is the first entry's before image (the row as Tally first saw it); null if never logged.
 */
export async function stateAt(
  rt: EntityRuntime,
  db: Executor,
  key: EntityKey,
  at: { version: number } | { at: Date },
): Promise<Record<string, unknown> | null> {
  const [k] = await keyText(rt, db, key);
  const s = rt.config.s;
  let q: SqlQuery;
  if ('version' in at) {
    if (!Number.isInteger(at.version) || at.version < 0) {
      throw new TallyError('INVALID_SELECTION', 'version must be a non-negative integer');
    }
    q = logAtVersionSql(s, rt.def.name, k, at.version);
  } else {
    if (!(at.at instanceof Date) || Number.isNaN(at.at.getTime())) {
      throw new TallyError('INVALID_SELECTION', 'at must be a valid Date');
    }
    q = logAtTimeSql(s, rt.def.name, k, at.at);
  }
  const [row] = await db.query(q);
  if (row) return normalize(row).after;
  const [first] = await db.query(firstLogSql(s, rt.def.name, k));
  return first ? normalize(first).before : null;
}

/** Checks that folding the entity's log gives its row, and that its versions, images and (legacy) hash chain are intact. */
export async function verifyFold(rt: EntityRuntime, db: Executor, key: EntityKey): Promise<FoldCheck> {
  const [k, keyType] = await keyText(rt, db, key);
  const [r] = await db.query<Record<string, unknown>>(verifyEntitySql(rt.config.s, rt.def, keyType, k));
  const list = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as number[];
  const problems: string[] = [];
  const entries = Number(r!.entries);
  const lastVersion = r!.last_version === null ? 0 : Number(r!.last_version);
  const rowVersion = r!.row_version === null ? null : Number(r!.row_version);
  for (const v of list(r!.version_gaps)) problems.push(`version ${v} does not follow the previous entry`);
  for (const v of list(r!.broken_images))
    problems.push(`version ${v}: before image differs from the previous after image`);
  for (const v of list(r!.bad_hashes)) problems.push(`version ${v}: hash does not match the entry (edited)`);
  for (const v of list(r!.broken_links))
    problems.push(`version ${v}: does not link to the previous entry's hash`);
  if (rowVersion === null) {
    if (entries > 0) problems.push('the row does not exist but the log has entries');
  } else if (entries === 0) {
    if (rowVersion !== 0) problems.push(`the row is at version ${rowVersion} but the log is empty`);
  } else {
    if (rowVersion !== lastVersion) {
      problems.push(`the row is at version ${rowVersion} but the log ends at version ${lastVersion}`);
    }
    if (!r!.row_matches) problems.push('the row differs from the last logged after image');
  }
  return { ok: problems.length === 0, entries, lastVersion, rowVersion, problems };
}
