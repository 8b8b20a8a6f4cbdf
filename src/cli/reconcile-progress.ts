import type { ReconcileProgress } from '../reconcile/types.js';
import type { Io } from './io.js';

/** An Io that may say whether stderr is a terminal (processIo sets it; test Ios leave it out). */
export type MaybeTtyIo = Io;

const WIDTH = 30;

/**
 * Progress for `tally reconcile`: on a terminal, one bar redrawn in place on stderr; otherwise a plain
 * line per phase change and at most one line per 10% (logs and CI stay readable).
 *
 * @example
 * const progress = progressPrinter(io); await reconcile(entities, { onProgress: progress.update }); progress.end();
 */
export function progressPrinter(io: MaybeTtyIo): { update: (p: ReconcileProgress) => void; end: () => void } {
  const tty = io.isTTY === true;
  let drawn = false;
  let last = '';
  let lastTenth = -1;
  const line = (p: ReconcileProgress) => {
    const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    const bar = '#'.repeat(Math.round(share * WIDTH)).padEnd(WIDTH, '.');
    return `${p.entity} ${p.phase.padEnd(5)} [${bar}] ${Math.round(share * 100)
      .toString()
      .padStart(3)}% ${p.done}/${p.total}, ${p.findings} findings`;
  };
  return {
    update(p) {
      if (tty) {
        // Io.err ends every line with a newline: go back up one line and clear it before redrawing.
        io.err(`${drawn ? '\x1b[1A\x1b[2K' : ''}${line(p)}`);
        drawn = true;
        return;
      }
      const phase = `${p.entity}/${p.phase}`;
      const tenth = p.total > 0 ? Math.floor((10 * p.done) / p.total) : 10;
      if (phase !== last || tenth > lastTenth) {
        io.err(line(p));
        last = phase;
        lastTenth = tenth;
      }
    },
    end() {
      drawn = false;
    },
  };
}
