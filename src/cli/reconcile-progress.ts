import type { AdoptProgress } from '../changes/adopt.js';
import { plural } from '../plural.js';
import type { RepairProgress } from '../reconcile/repair.js';
import type { ReconcileProgress } from '../reconcile/types.js';
import type { Io } from './io.js';

/** An Io that may say whether stderr is a terminal (processIo sets it; test Ios leave it out). */
export type MaybeTtyIo = Io;

/**
 * What the printer draws: a check's progress (findings so far), a repair's (rows repaired so far) or an
 * adoption's (genesis entries so far).
 */
export type Progress = ReconcileProgress | RepairProgress | AdoptProgress;

const WIDTH = 30;
/** Off a terminal, a line at least this often while anything moves, between the 10% steps. */
const QUIET_MS = 5000;

/**
 * Progress for `tally reconcile`, `tally repair` and `tally adopt`: on a terminal, one bar redrawn in place on stderr;
 * otherwise a plain line per phase change, per 10%, and at least every 5 s while chunks complete (logs and
 * CI stay readable, and a long phase is never silent).
 *
 * @example
 * const progress = progressPrinter(io); await reconcile(entities, { onProgress: progress.update }); progress.end();
 */
export function progressPrinter(io: MaybeTtyIo): { update: (p: Progress) => void; end: () => void } {
  const tty = io.isTTY === true;
  let drawn = false;
  let last = '';
  let lastTenth = -1;
  let lastAt = 0;
  const line = (p: Progress) => {
    const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    const bar = '#'.repeat(Math.round(share * WIDTH)).padEnd(WIDTH, '.');
    const count =
      'findings' in p
        ? plural(p.findings, 'finding')
        : 'repaired' in p
          ? `${p.repaired} repaired`
          : `${p.adopted} ${p.dryRun ? 'to adopt' : 'adopted'}`;
    return `${p.entity} ${p.phase.padEnd(5)} [${bar}] ${Math.round(share * 100)
      .toString()
      .padStart(3)}% ${p.done}/${p.total}, ${count}`;
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
      const now = Date.now();
      if (phase !== last || tenth > lastTenth || now - lastAt >= QUIET_MS) {
        io.err(line(p));
        last = phase;
        lastTenth = tenth;
        lastAt = now;
      }
    },
    end() {
      drawn = false;
      last = '';
      lastTenth = -1;
    },
  };
}
