import type { LogEntry } from '../changes/history.js';
import type { Executor, Row } from '../db/types.js';
import { pageSql } from './sql.js';
import type { CommandEventEntry, FeedEntry, FeedPosition } from './types.js';

export interface Page {
  readonly entries: FeedEntry[];
  /** Where the consumer stands once these entries are handled. */
  readonly next: FeedPosition;
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));

// The JSON text each log entry was read as (see LOG_FIELDS in sql.ts), for publishers that send it on.
const RAW = new WeakMap<FeedEntry, string>();

/**
 * The entry's `entry` part as JSON text when it was read from the log, else undefined. Same keys and
 * values as `JSON.stringify(e.entry)` (images keep the database's jsonb spelling).
 */
export function rawEntryJson(e: FeedEntry): string | undefined {
  return RAW.get(e);
}

function logEntry(r: Row): FeedEntry {
  const text = String(r.j);
  const o = JSON.parse(text) as Omit<LogEntry, 'at'> & { at: string };
  const entry: LogEntry = { ...o, at: new Date(o.at) };
  const e: FeedEntry = Object.freeze({ source: 'log', id: entry.id, txid: entry.txid, entry });
  RAW.set(e, text);
  return e;
}

function eventEntry(r: Row): FeedEntry {
  const entry: CommandEventEntry = {
    id: String(r.id),
    command_id: String(r.command_id),
    command_type: String(r.command_type),
    kind: String(r.kind),
    step: (r.step as string | null) ?? null,
    data: json(r.data),
    at: date(r.at),
    txid: String(r.txid),
  };
  return Object.freeze({ source: 'command_events', id: entry.id, txid: entry.txid, entry });
}

/** An entry of a positions-only page: where it stands, no row (see ResolvedConsumerOptions.positionsOnly). */
const positionEntry =
  (source: FeedEntry['source']) =>
  (r: Row): FeedEntry =>
    Object.freeze({ source, id: String(r.id), txid: String(r.txid), entry: undefined as never });

/**
 * Reads one page of the feed from `pos` (decision 0040). A full page leaves the consumer inside the
 * window (upper + afterId); a short page closes the window: the next position is its upper snapshot.
 */
export async function readPage(
  db: Executor,
  s: string,
  pos: FeedPosition,
  limit: number,
  types: readonly string[] | null,
  positionsOnly = false,
): Promise<Page> {
  const rows = await db.query(pageSql(s, pos, limit, types, positionsOnly));
  const upper = pos.upper ?? String(rows[0]!.upper);
  const found = rows.filter((r) => r.id !== null && r.id !== undefined);
  const entries = found.map(
    positionsOnly ? positionEntry(pos.source) : pos.source === 'log' ? logEntry : eventEntry,
  );
  if (entries.length === 0 && pos.upper !== null) {
    // The window ended exactly on the last page boundary: close it and read the next window at once.
    const closed: FeedPosition = { source: pos.source, snapshot: pos.upper, upper: null, afterId: null };
    return readPage(db, s, closed, limit, types, positionsOnly);
  }
  const next: FeedPosition =
    entries.length >= limit
      ? { source: pos.source, snapshot: pos.snapshot, upper, afterId: entries[entries.length - 1]!.id }
      : { source: pos.source, snapshot: upper, upper: null, afterId: null };
  return { entries, next: Object.freeze(next) };
}
