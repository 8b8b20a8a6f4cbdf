import type { FeedEntry } from '../types.js';

/** A bytea as the sink's hex text: pg hands out Buffers, PGlite Uint8Arrays, text forms start with \x. */
export function hexOf(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  const s = String(v);
  return s.startsWith('\\x') ? s.slice(2) : s;
}

/** Splits a batch into the rows each target table takes, as plain JSON-ready objects. */
export function rowsOf(entries: readonly FeedEntry[]): {
  log: Record<string, unknown>[];
  commandEvents: Record<string, unknown>[];
} {
  const log: Record<string, unknown>[] = [];
  const commandEvents: Record<string, unknown>[] = [];
  for (const e of entries) {
    if (e.source === 'log') {
      const r = e.entry;
      log.push({
        ...r,
        id: e.id,
        txid: String(e.txid),
        at: r.at instanceof Date ? r.at.toISOString() : r.at,
        prev_hash: hexOf(r.prev_hash),
        hash: hexOf(r.hash),
      });
    } else {
      const r = e.entry;
      commandEvents.push({
        ...r,
        id: e.id,
        txid: String(e.txid),
        at: r.at instanceof Date ? r.at.toISOString() : r.at,
      });
    }
  }
  return { log, commandEvents };
}
