import type { Lsn } from '../../lsn.js';

interface Sample {
  readonly file: string;
  readonly offset: number;
  readonly seq: Lsn;
}

/**
 * Samples of (binlog file, offset) → the primary's GTID seq, so that a consistent snapshot's binlog offset
 * can be turned into a version without `BINLOG_GTID_POS`, which reads the binlog file from its start (about
 * 45 ms at a 20 MB offset here, linear in the offset: seconds near the 1 GiB `max_binlog_size`).
 *
 * A sample is kept only when `@@gtid_binlog_pos` read before and after `SHOW MASTER STATUS` agree: the
 * status waits for the binlog lock, so it sees whole commit groups, and no GTID was written in between —
 * every transaction up to `seq` ends at or before `offset`. A snapshot at offset P therefore holds at least
 * the seq of the newest sample at or before P in the same file: a lower bound, the safe side for a cache
 * version (a fill it makes too old is refused, never a stale one accepted).
 */
export class BinlogMap {
  private samples: Sample[] = [];

  record(file: string, offset: number, seq: Lsn): void {
    const last = this.samples.at(-1);
    if (last && last.file === file && last.offset >= offset) return;
    this.samples.push({ file, offset, seq });
    if (this.samples.length > 256) this.samples.splice(0, this.samples.length - 256);
  }

  /** True when a sample of `file` lies at or past `offset` (a new sample could not land on it any more). */
  reaches(file: string, offset: number): boolean {
    const last = this.samples.at(-1);
    return last !== undefined && last.file === file && last.offset >= offset;
  }

  /** The highest seq wholly at or before (file, offset), or null when no sample of that file is that old. */
  at(file: string, offset: number): Lsn | null {
    for (let i = this.samples.length - 1; i >= 0; i--) {
      const s = this.samples[i]!;
      if (s.file === file && s.offset <= offset) return s.seq;
    }
    return null;
  }
}
