import { TallyError } from '../errors.js';
import type { FeedPosition, FeedSource } from './types.js';

/**
 * The snapshot that sees no transaction at all: every xid8 is >= its xmax. A consumer that starts at
 * the beginning stands here, so its first window is everything committed so far.
 */
export const BEGINNING_SNAPSHOT = '1:1:';

// pg_snapshot text form: xmin:xmax:xip,xip,... (xids are 64-bit, epoch-qualified, ascending).
const SNAPSHOT = /^(\d{1,20}):(\d{1,20}):((?:\d{1,20}(?:,\d{1,20})*)?)$/;
const ID = /^\d{1,19}$/;

export const SOURCES: readonly FeedSource[] = ['log', 'command_events'];

/** The xmin of a snapshot in text form: every transaction below it is visible in the snapshot. */
export function snapshotXmin(snapshot: string): string {
  return snapshot.slice(0, snapshot.indexOf(':'));
}

/** The xmax of a snapshot in text form: no transaction at or above it is visible in the snapshot. */
export function snapshotXmax(snapshot: string): string {
  const a = snapshot.indexOf(':');
  return snapshot.slice(a + 1, snapshot.indexOf(':', a + 1));
}

function validSnapshot(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const m = SNAPSHOT.exec(text);
  if (!m) return false;
  const xmin = BigInt(m[1]!);
  const xmax = BigInt(m[2]!);
  if (xmin > xmax) return false;
  let last = -1n;
  for (const x of m[3] ? m[3].split(',') : []) {
    const v = BigInt(x);
    if (v < xmin || v >= xmax || v <= last) return false;
    last = v;
  }
  return true;
}

/**
 * Checks a position handed back by a user (parsed JSON, say) and returns a frozen copy. Positions are
 * checked before any statement runs: a bad one writes nothing.
 */
export function checkPosition(p: unknown, source?: FeedSource): FeedPosition {
  const bad = (why: string): never => {
    throw new TallyError('INVALID_FEED_POSITION', `feed position ${why}`);
  };
  if (!p || typeof p !== 'object') bad('must be an object { source, snapshot, upper, afterId }');
  const o = p as Record<string, unknown>;
  if (!SOURCES.includes(o.source as FeedSource)) bad(`source must be one of ${SOURCES.join(', ')}`);
  if (source !== undefined && o.source !== source) {
    bad(`is for source ${String(o.source)}, but this consumer reads ${source}`);
  }
  if (!validSnapshot(o.snapshot)) bad('snapshot must be a pg_snapshot in text form (xmin:xmax:xip,...)');
  const upper = o.upper ?? null;
  const afterId = o.afterId ?? null;
  if ((upper === null) !== (afterId === null)) bad('must carry both upper and afterId, or neither');
  if (upper !== null && !validSnapshot(upper)) bad('upper must be a pg_snapshot in text form');
  if (afterId !== null && (typeof afterId !== 'string' || !ID.test(afterId))) {
    bad('afterId must be a log id as a decimal string');
  }
  // A window's upper snapshot is taken after its lower one: it cannot start or end earlier.
  if (
    upper !== null &&
    (BigInt(snapshotXmin(upper as string)) < BigInt(snapshotXmin(o.snapshot as string)) ||
      BigInt(snapshotXmax(upper as string)) < BigInt(snapshotXmax(o.snapshot as string)))
  ) {
    bad('upper must not be older than snapshot');
  }
  return Object.freeze({
    source: o.source as FeedSource,
    snapshot: o.snapshot as string,
    upper: upper as string | null,
    afterId: afterId as string | null,
  });
}

/** A position from a feed_consumers row. */
export function positionOf(row: {
  source: unknown;
  snapshot: unknown;
  upper: unknown;
  after_id: unknown;
}): FeedPosition {
  return Object.freeze({
    source: row.source as FeedSource,
    snapshot: String(row.snapshot),
    upper: row.upper === null ? null : String(row.upper),
    afterId: row.after_id === null ? null : String(row.after_id),
  });
}
