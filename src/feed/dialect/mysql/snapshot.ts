import type { MysqlExecutor } from '../../../db/mysql/join.js';
import type { Executor, SqlQuery } from '../../../db/types.js';
import { snapshotXmax, snapshotXmin } from '../../position.js';

/**
 * A MySQL feed snapshot (decision 0134): which log-writing statements' seqs (tally_log_tx) a reader
 * treats as finished, in pg_snapshot's text form `xmin:xmax:xip`. Seqs below xmin and seqs below xmax not
 * listed in xip are visible: committed at one instant t (one consistent read), or dead (proven never to
 * commit). Everything else is not.
 */
export interface Snapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  readonly xip: readonly bigint[];
}

/** Gaps probed (one NOWAIT read each) per snapshot; the rest stay in xip until the next one. */
const PROBES = 200;

export function parseSnapshot(text: string): Snapshot {
  const xip = text.slice(text.lastIndexOf(':') + 1);
  return {
    xmin: BigInt(snapshotXmin(text)),
    xmax: BigInt(snapshotXmax(text)),
    xip: xip === '' ? [] : xip.split(',').map(BigInt),
  };
}

export function snapshotText(s: Snapshot): string {
  return `${s.xmin}:${s.xmax}:${s.xip.join(',')}`;
}

/** A seq as mysql2 should send it: a number while exact, else text (compared as an integer by the server). */
export const seqValue = (x: bigint): number | string =>
  x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString();

/** A seq list for `IN (?)`; never empty (seqs start at 1, so 0 matches nothing). */
export const seqList = (xs: readonly bigint[]): (number | string)[] =>
  xs.length === 0 ? [0] : xs.map(seqValue);

/**
 * The committed seqs from `from` (or the floor, when higher) on, as the boundaries of their gaps, in ONE
 * statement (one read view, hence one instant): each seq row is followed by a gap (nxt > seq + 1) or is
 * the last one (nxt NULL); `lo` is the first committed seq. One more row (seq NULL) carries the floor:
 * every seq below it is finished and its row may be pruned (decision 0135).
 */
const gapsSql = (logTx: string, floor: string, from: bigint): SqlQuery => ({
  text: `WITH f AS (SELECT GREATEST(below, ?) AS below FROM ${floor} WHERE id = 1)
         SELECT CAST(seq AS CHAR) AS seq, CAST(nxt AS CHAR) AS nxt, CAST(lo AS CHAR) AS lo, NULL AS floor
           FROM (SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS nxt, MIN(seq) OVER () AS lo
                   FROM ${logTx} WHERE seq >= (SELECT below FROM f)) g
          WHERE nxt IS NULL OR nxt > seq + 1
         UNION ALL SELECT NULL, NULL, NULL, CAST(below AS CHAR) FROM f`,
  values: [seqValue(from)],
});

/**
 * Takes a snapshot no older than `after` (a position's snapshot text: the result's xmin and xmax are at
 * least its own, so windows only move forward).
 *
 * 1. One consistent read lists the committed seqs from after.xmin on (instant t); the largest + 1 is xmax,
 *    every missing seq below it is a gap: in flight at t, rolled back, or (an instant) allocated and not
 *    yet inserted.
 * 2. Each gap is probed with `FOR UPDATE NOWAIT`: locked means in flight (kept); a row means it committed
 *    after t (kept: the snapshot is t's) unless it is a dead marker; nothing means no one holds it now.
 * 3. Those are fenced: the reader inserts them as dead. A writer that allocated one of them and had not
 *    inserted it yet gets a duplicate key and takes another seq (registerLogTx), so a dead seq never has
 *    log rows and leaves xip. A fence that meets a racing writer's row waits at most 1 s (MariaDB) and the
 *    gaps stay in xip.
 */
export async function takeSnapshot(
  db: Executor,
  logTx: string,
  floor: string,
  after: string,
): Promise<string> {
  const lo = parseSnapshot(after);
  const all = await db.query<{ seq: string; nxt: string | null; lo: string; floor: string | null }>(
    gapsSql(logTx, floor, lo.xmin),
  );
  // Seqs below the floor are finished (committed or dead): none of them is a gap.
  const from = BigInt(all.find((r) => r.floor !== null)?.floor ?? lo.xmin.toString());
  const rows = all.filter((r) => r.seq !== null);
  let xmax = lo.xmax > from ? lo.xmax : from;
  const gaps: bigint[] = [];
  const addRange = (a: bigint, b: bigint) => {
    for (let x = a; x < b; x++) gaps.push(x);
  };
  if (rows.length > 0) {
    const first = BigInt(rows[0]!.lo);
    const last = rows.find((r) => r.nxt === null)!;
    if (BigInt(last.seq) + 1n > xmax) xmax = BigInt(last.seq) + 1n;
    addRange(from, first < xmax ? first : xmax);
    for (const r of rows) if (r.nxt !== null) addRange(BigInt(r.seq) + 1n, BigInt(r.nxt));
    if (BigInt(last.seq) + 1n < xmax) addRange(BigInt(last.seq) + 1n, xmax);
  } else {
    addRange(from, xmax);
  }
  const dead = await resolveGaps(db, logTx, gaps.slice(0, PROBES));
  const xip = gaps.filter((g) => !dead.has(g));
  return snapshotText({ xmin: xip[0] ?? xmax, xmax, xip });
}

/** The gaps proven dead (step 2 and 3 of takeSnapshot). */
async function resolveGaps(db: Executor, logTx: string, gaps: readonly bigint[]): Promise<Set<bigint>> {
  const dead = new Set<bigint>();
  const absent: bigint[] = [];
  for (const g of gaps) {
    try {
      const [r] = await db.query<{ dead: number }>({
        text: `SELECT dead FROM ${logTx} WHERE seq = ? FOR UPDATE NOWAIT`,
        values: [seqValue(g)],
      });
      if (r === undefined) absent.push(g);
      else if (Number(r.dead) === 1) dead.add(g);
    } catch {
      // Locked (55P03): a writer holds it, in flight. Anything else: keep it too, the next poll retries.
    }
  }
  if (absent.length === 0) return dead;
  const server = await (db as MysqlExecutor).server?.();
  // Only a writer that allocated the seq in the last instant can hold it now; do not wait on it long.
  const bounded = server?.kind === 'mariadb' ? 'SET STATEMENT innodb_lock_wait_timeout = 1 FOR ' : '';
  try {
    await db.query({
      text: `${bounded}INSERT IGNORE INTO ${logTx} (seq, dead) VALUES ?`,
      values: [absent.map((g) => [seqValue(g), 1])],
    });
  } catch {
    return dead; // a racing writer: the gaps stay in xip this time
  }
  const rows = await db.query<{ seq: string }>({
    text: `SELECT CAST(seq AS CHAR) AS seq FROM ${logTx} WHERE seq IN (?) AND dead`,
    values: [absent.map(seqValue)],
  });
  for (const r of rows) dead.add(BigInt(r.seq));
  return dead;
}
