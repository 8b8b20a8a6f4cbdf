// The feed bench's load: concurrent writers changing disjoint key ranges through Tally's public API,
// recording when each log entry committed (the moment transition() resolved, after COMMIT).
import type { Entity } from '../src/changes/entity.js';
import { seededRandom } from './_shared.js';

export const now = (): number => performance.timeOrigin + performance.now();

/** Commit times by `<key>:<version>` (the identity of a log row), filled by the writers. */
export type CommitTimes = Map<string, number>;

export interface LoadResult {
  /** Log entries the writers committed. */
  committed: number;
  transactions: number;
  startedAt: number;
  endedAt: number;
}

/**
 * Runs `writers` loops for `seconds`: each walks its own `perWriter` keys in batches of `batch`,
 * toggling them active <-> frozen, and records a commit time for every changed key's new version.
 * Versions start at `startVersion` (the table's version column before the run).
 */
export async function runWriters(
  entity: Entity,
  o: {
    writers: number;
    perWriter: number;
    batch: number;
    seconds: number;
    startVersion: number;
    /** Total entries per second to offer (paced); 0 or absent: as fast as the writers go. */
    ratePerS?: number;
  },
  commits: CommitTimes,
): Promise<LoadResult> {
  const startedAt = now();
  const deadline = startedAt + o.seconds * 1000;
  let committed = 0;
  let transactions = 0;
  const perWriterRate = o.ratePerS ? o.ratePerS / o.writers : 0;
  const writer = async (w: number) => {
    const first = w * o.perWriter + 1;
    const rand = seededRandom(7919 * (w + 1));
    const meanGapMs = perWriterRate > 0 ? (o.batch / perWriterRate) * 1000 : 0;
    const gap = () => -Math.log(1 - rand()) * meanGapMs;
    const sleepUntil = (t: number) =>
      t > now() ? new Promise((res) => setTimeout(res, t - now())) : Promise.resolve();
    // Paced: transactions are due at the arrivals of a Poisson process per writer (exponential gaps,
    // open loop: a writer that fell behind writes at once). Writers pacing in lockstep would commit
    // together and offer the relay four transactions at once every period instead.
    let due = startedAt + gap();
    await sleepUntil(due);
    const version = new Int32Array(o.perWriter).fill(o.startVersion);
    let pass = 0;
    while (now() < deadline) {
      const to = pass % 2 === 0 ? 'frozen' : 'active';
      for (let off = 0; off < o.perWriter && now() < deadline; off += o.batch) {
        const keys = Array.from({ length: Math.min(o.batch, o.perWriter - off) }, (_, i) => first + off + i);
        const r = await entity.transition({ keys, to, actor: `bench:writer${w}` });
        const at = now();
        transactions++;
        for (const k of r.changed) {
          const i = Number(k) - first;
          version[i] = version[i]! + 1;
          commits.set(`${k}:${version[i]}`, at);
        }
        committed += r.changed.length;
        if (perWriterRate > 0) {
          due += gap();
          await sleepUntil(due);
        }
      }
      pass++;
    }
  };
  await Promise.all(Array.from({ length: o.writers }, (_, w) => writer(w)));
  return { committed, transactions, startedAt, endedAt: now() };
}

/** p-th percentile (0..100) of a list, nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
