import type { Lsn } from '../../lsn.js';

// GTID text as the servers print it, reduced to the one number a token carries per shard (decision 0136).
//   MariaDB:   a list of domain-server-seq, one per replication domain: '0-1-11,1-5-3'. With
//              gtid_strict_mode a domain's seq only grows, whichever server wrote it.
//   MySQL 8.0: a set of uuid:intervals: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77:79-80,<uuid>:1-5'.

const MARIADB_GTID = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/;

/** One MariaDB GTID (`@@last_gtid`), or null for anything else (including the empty string). */
export function parseMariadbGtid(text: unknown): { domain: number; server: number; seq: Lsn } | null {
  if (typeof text !== 'string') return null;
  const m = MARIADB_GTID.exec(text.trim());
  if (!m) return null;
  const seq = BigInt(m[3]!);
  return seq < 1n << 64n ? { domain: Number(m[1]), server: Number(m[2]), seq } : null;
}

/**
 * The seq of `domain` in a MariaDB GTID position list (`@@gtid_binlog_pos`, `@@gtid_slave_pos`): 0 when the
 * domain has no transaction yet, null when the text is not a position list.
 *
 * @example
 * mariadbSeq('0-1-11,1-5-3', 1) // 3n
 */
export function mariadbSeq(text: unknown, domain: number): Lsn | null {
  if (typeof text !== 'string') return null;
  const list = text.trim();
  if (list === '') return 0n;
  let seq = 0n;
  for (const part of list.split(',')) {
    const g = parseMariadbGtid(part);
    if (!g) return null;
    if (g.domain === domain && g.seq > seq) seq = g.seq;
  }
  return seq;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * How many of `uuid`'s transactions a MySQL 8.0 GTID set holds without a gap from 1 (`uuid:1-77:79-80` → 77):
 * a replica at N has applied every transaction 1..N of that source. 0 when the source is absent, null when
 * the text is not a GTID set. (Tagged GTIDs of 8.3+, `uuid:tag:1-5`, count as another source.)
 *
 * @example
 * mysqlSeq('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77:79-80', '3e11fa47-71ca-11e1-9e33-c80aa9429562') // 77n
 */
export function mysqlSeq(text: unknown, uuid: string): Lsn | null {
  if (typeof text !== 'string') return null;
  const set = text.replace(/\s+/g, '');
  if (set === '') return 0n;
  const want = uuid.toLowerCase();
  for (const member of set.split(',')) {
    const [id, ...intervals] = member.split(':');
    if (!id || !UUID.test(id.toLowerCase()) || intervals.length === 0) return null;
    if (id.toLowerCase() !== want) continue;
    let end = 0n;
    for (const iv of intervals) {
      const m = /^(\d{1,20})(?:-(\d{1,20}))?$/.exec(iv);
      if (!m) return 0n; // a tag: not the untagged source we track
      const lo = BigInt(m[1]!);
      const hi = m[2] === undefined ? lo : BigInt(m[2]);
      if (lo > end + 1n) break;
      if (hi > end) end = hi;
    }
    return end;
  }
  return 0n;
}
