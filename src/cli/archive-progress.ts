import type { ArchiveProgress } from '../evidence/archive.js';
import type { Io } from './io.js';

const WIDTH = 30;
const QUIET_MS = 5000;

/**
 * Progress for `tally archive`, drawn as reconcile-progress.ts draws its bar: on a terminal one bar
 * redrawn in place on stderr; otherwise a line per file and per 10%, and at least every 5 s.
 *
 * @example
 * const p = archiveProgress(io); await archiveLog(tally, { ...o, onProgress: p.update }); p.end();
 */
export function archiveProgress(io: Io): { update: (p: ArchiveProgress) => void; end: () => void } {
  const tty = io.isTTY === true;
  let drawn = false;
  let lastFile: string | null = null;
  let lastTenth = -1;
  let lastAt = 0;
  const line = (p: ArchiveProgress) => {
    const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    const bar = '#'.repeat(Math.round(share * WIDTH)).padEnd(WIDTH, '.');
    const pct = Math.round(share * 100)
      .toString()
      .padStart(3);
    return `archive ${p.phase.padEnd(6)} [${bar}] ${pct}% ${p.done}/${p.total}${p.file ? ` ${p.file}` : ''}`;
  };
  return {
    update(p) {
      if (tty) {
        io.err(`${drawn ? '\x1b[1A\x1b[2K' : ''}${line(p)}`);
        drawn = true;
        return;
      }
      const tenth = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 10;
      const now = Date.now();
      if ((p.file !== null && p.file !== lastFile) || tenth > lastTenth || now - lastAt >= QUIET_MS) {
        io.err(line(p));
        if (p.file !== null) lastFile = p.file;
        lastTenth = tenth;
        lastAt = now;
      }
    },
    end() {
      drawn = false;
    },
  };
}
