import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { ADOPT_ACTOR, adoptChunkEndSql, adoptCountSql, adoptLockSql, genesisSql } from './adopt-sql.js';
import type { EntityRuntime } from './apply.js';

export interface AdoptOptions {
  /** Rows per chunk: a key range, one short transaction each (default 10,000). */
  chunkSize?: number;
  /** Count what would be adopted; write nothing (the first step). */
  dryRun?: boolean;
  /** Recorded on every genesis entry (the actor is always `tally-adopt`). */
  reason?: string;
  /** Called after each chunk. */
  onProgress?: (p: AdoptProgress) => void;
}

/** Progress of one adoption, after each chunk (one transaction). */
export interface AdoptProgress {
  readonly entity: string;
  readonly phase: 'adopt';
  /** Rows looked at so far, and an estimate of the table's rows. */
  readonly done: number;
  readonly total: number;
  /** Genesis entries written so far (with `dryRun`: that would be written). */
  readonly adopted: number;
  readonly dryRun: boolean;
}

export interface AdoptResult {
  readonly entity: string;
  readonly dryRun: boolean;
  /** The table's rows, as the chunks found them. */
  readonly rows: number;
  /** Rows given a genesis entry (with `dryRun`: rows that would get one). */
  readonly adopted: number;
  /** Rows that had log entries already (skipped). */
  readonly logged: number;
  /** Rows at version 0 or NULL: never changed, nothing to explain, so nothing is written for them. */
  readonly unversioned: number;
  readonly chunks: number;
}

const MAX_CHUNK = 1_000_000;

/**
 * Adoption (decision 0053): gives every existing row at version >= 1 that has no log entry one genesis
 * entry (action `adopt`, actor `tally-adopt`): its image now as the after image, at the row's version, the
 * start of its version sequence in the log. Chunked by key range, one short transaction per chunk, rows locked as Tally's
 * own changes lock them. Idempotent: rows with log entries are skipped, so a second run writes nothing.
 */
export async function adoptRows(
  rt: EntityRuntime,
  db: Executor,
  options: AdoptOptions = {},
): Promise<AdoptResult> {
  const o = checkedOptions(options);
  const { def, config } = rt;
  const s = config.s;
  const { keyType } = await rt.shape(db);
  const [est] = await db.query<{ n: string | number }>({
    // Planner statistics, or a count when the table was never analyzed (progress needs a total).
    text: `SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 ELSE (SELECT count(*) FROM ${def.table.sql}) END AS n
             FROM pg_class c WHERE c.oid = to_regclass($1)`,
    values: [def.table.sql],
  });
  const estimate = Number(est?.n ?? 0);
  let rows = 0;
  let adopted = 0;
  let logged = 0;
  let unversioned = 0;
  let chunks = 0;
  let lo: string | null = null;
  for (;;) {
    const ends: { hi: string }[] = await db.query<{ hi: string }>(
      adoptChunkEndSql(def, keyType, lo, o.chunkSize),
    );
    const hi: string | null = ends[0]?.hi ?? null;
    const chunk = await db.transaction(async (tx) => {
      const [c] = await tx.query<{ n: string; unversioned: string; unlogged: string }>(
        adoptCountSql(s, def, keyType, lo, hi),
      );
      const n = Number(c!.n);
      const idle = Number(c!.unversioned);
      if (o.dryRun) return { n, idle, wrote: Number(c!.unlogged) };
      // Nothing to adopt in this range (a second run): no locks taken.
      if (Number(c!.unlogged) === 0) return { n, idle, wrote: 0 };
      const [lock] = await tx.query<{ keys: string[] }>(adoptLockSql(s, def, keyType, lo, hi));
      const keys = lock?.keys ?? [];
      if (keys.length === 0) return { n, idle, wrote: 0 };
      const [res] = await tx.query<{ updated: number; logged: number }>(
        genesisSql(s, def, keyType, keys, { actor: ADOPT_ACTOR, reason: o.reason, at: config.clock() }),
      );
      if (res!.updated !== res!.logged) {
        throw new TallyError(
          'DB_ERROR',
          `${def.name}: adoption rewrote ${res!.updated} rows but logged ${res!.logged}`,
        );
      }
      return { n, idle, wrote: res!.logged };
    });
    chunks++;
    rows += chunk.n;
    unversioned += chunk.idle;
    adopted += chunk.wrote;
    logged += chunk.n - chunk.idle - chunk.wrote;
    o.onProgress?.({
      entity: def.name,
      phase: 'adopt',
      done: rows,
      total: Math.max(estimate, rows),
      adopted,
      dryRun: o.dryRun,
    });
    if (hi === null) break;
    lo = hi;
  }
  return { entity: def.name, dryRun: o.dryRun, rows, adopted, logged, unversioned, chunks };
}

function checkedOptions(options: AdoptOptions) {
  if (options === null || typeof options !== 'object') {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'adopt options must be an object');
  }
  const { chunkSize = 10_000, dryRun = false, reason, onProgress } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK) {
    throw new TallyError(
      'INVALID_RECONCILE_OPTIONS',
      `adopt: chunkSize must be an integer from 1 to ${MAX_CHUNK}`,
    );
  }
  if (typeof dryRun !== 'boolean') {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'adopt: dryRun must be true or false');
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 2000)) {
    throw new TallyError(
      'INVALID_RECONCILE_OPTIONS',
      'adopt: reason must be a string of at most 2000 characters',
    );
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'adopt: onProgress must be a function');
  }
  return { chunkSize, dryRun, reason: reason ?? null, onProgress };
}
