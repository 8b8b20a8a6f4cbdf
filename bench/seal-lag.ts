// How far sealing trails the write path: the seconds between a row's commit and the first checkpoint
// that covers it, while a sealer runs at a given interval beside a running writer (issue 16:
// "at the batch benchmark's rate the checkpoint lags by at most a few seconds"). Used by
// `npm run bench -- seal` and, beside its writer, by `npm run bench -- batch` (`seal_lag_s`).
import { generateSealKey, type SealKey } from '../src/evidence/index.js';
import { type SealRound, SealSchedule } from '../src/evidence/seal-loop.js';
import { sealOnce } from '../src/evidence/sealer.js';
import type { CheckpointSink } from '../src/evidence/sink.js';
import type { HasTallyConfig } from '../src/feed/consumer.js';

const CONSUMER = 'tally-bench-seal-lag';

export interface SealLagOptions {
  /** The sealer's interval. Default 1000 ms. */
  intervalMs?: number;
  /** How often the lag is sampled. Default 100 ms. */
  sampleMs?: number;
  key?: SealKey;
  origin?: string;
  /** Where checkpoints go; default a sink that keeps them in memory (the database is what is measured). */
  sinks?: readonly CheckpointSink[];
}

export interface SealLag {
  /** The largest lag seen: now minus the time of the oldest committed row no checkpoint covers yet. */
  maxS: number;
  /** The mean over samples taken while the writer ran. */
  meanS: number;
  /** After the writer's last commit, until a checkpoint covered every row. */
  catchUpS: number;
  samples: number;
  rounds: number;
  sealedRows: number;
}

/** A sink that holds checkpoints in memory: for measuring, never for evidence. */
export function memorySink(): CheckpointSink {
  const notes: string[] = [];
  return {
    name: 'memory',
    publish: async (note) => {
      notes.push(note);
    },
    latest: async () => notes.at(-1) ?? null,
  };
}

/**
 * Runs a sealer every `intervalMs` while `writer` runs, sampling how far the newest checkpoint trails the
 * log: at each sample, the age of the oldest row above the newest row a checkpoint covers (its `at`, the
 * writing transaction's start: an upper bound on the time since its commit). Resolves once the writer has
 * finished and a checkpoint covers everything it wrote. Pass the writer as a function to have the log's
 * existing rows sealed before it starts.
 *
 * @example
 * const lag = await measureSealLag(tally, () => writeFor(10_000), { intervalMs: 1000 });
 * console.log(lag.maxS);
 */
export async function measureSealLag(
  tally: HasTallyConfig,
  writer: Promise<unknown> | (() => Promise<unknown>),
  options: SealLagOptions = {},
): Promise<SealLag> {
  const { db, s } = tally.config;
  const origin = options.origin ?? 'tally bench-seal-lag';
  const key = options.key ?? generateSealKey();
  if (typeof writer === 'function') {
    // Given as a function, the writer starts once the log's backlog (a benchmark's seeded history, say) is
    // sealed, so the lag measured is the writer's, not the backlog's.
    await sealOnce(tally, { key, origin, consumer: CONSUMER });
  }
  const running = typeof writer === 'function' ? writer() : writer;
  const rounds: SealRound[] = [];
  const schedule = new SealSchedule(tally, {
    key,
    origin,
    sinks: options.sinks ?? [memorySink()],
    everyMs: options.intervalMs ?? 1000,
    consumer: CONSUMER,
    onRound: (r) => rounds.push(r),
    onError: (err) => {
      throw err;
    },
  });
  const lagSql = {
    text: `SELECT coalesce(extract(epoch FROM clock_timestamp() - min(l.at)), 0)::float8 AS lag
             FROM ${s}.log l
            WHERE l.id > coalesce((SELECT max(k.log_id) FROM ${s}.seal_leaves k
                                    WHERE k.origin = $1 AND k.position <
                                          (SELECT coalesce(max(c.tree_size), 0) FROM ${s}.checkpoints c
                                            WHERE c.origin = $1)), 0)`,
    values: [origin],
  };
  const sample = async () => Number((await db.query<{ lag: number }>(lagSql))[0]?.lag ?? 0);
  let done = false;
  let writerError: unknown = null;
  const finished = running.then(
    () => {
      done = true;
    },
    (err) => {
      writerError = err;
      done = true;
    },
  );
  schedule.start();
  const lags: number[] = [];
  try {
    while (!done) {
      lags.push(await sample());
      await Promise.race([finished, new Promise((r) => setTimeout(r, options.sampleMs ?? 100))]);
    }
    if (writerError) throw writerError;
    const t0 = performance.now();
    const [last] = await db.query<{ id: string }>({ text: `SELECT max(id)::text AS id FROM ${s}.log` });
    for (;;) {
      const lag = await sample();
      const [covered] = await db.query<{ id: string | null }>({
        text: `SELECT max(k.log_id)::text AS id FROM ${s}.seal_leaves k
                WHERE k.origin = $1 AND k.position < (SELECT coalesce(max(c.tree_size), 0)
                                                       FROM ${s}.checkpoints c WHERE c.origin = $1)`,
        values: [origin],
      });
      lags.push(lag);
      if (BigInt(covered?.id ?? 0) >= BigInt(last?.id ?? 0)) break;
      await new Promise((r) => setTimeout(r, options.sampleMs ?? 100));
    }
    const catchUpS = (performance.now() - t0) / 1000;
    return {
      maxS: Math.max(0, ...lags),
      meanS: lags.reduce((a, b) => a + b, 0) / Math.max(1, lags.length),
      catchUpS,
      samples: lags.length,
      rounds: rounds.length,
      sealedRows: rounds.reduce((a, r) => a + r.appended, 0),
    };
  } finally {
    await schedule.stop();
  }
}
