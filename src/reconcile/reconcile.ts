import type { Entity } from '../changes/entity.js';
import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import { observedReconcile } from '../observe/reconcile.js';
import { verifyChains } from './chain.js';
import type { ColumnChoice } from './columns.js';
import { recordRuns } from './runs.js';
import type { RunRow } from './runs-sql.js';
import { checkStateLog } from './state-log.js';
import type { EntitySummary, Finding, FindingKind, ReconcileProgress, ReconcileReport } from './types.js';

export interface ReconcileOptions {
  /** Rows per state <-> log chunk (default 1,000,000: each chunk scans the entity's log once). */
  chunkSize?: number;
  /** Log entries per chain chunk (default 200,000). */
  chainChunkSize?: number;
  /** Check each log against itself too: before images, and legacy (pre-migration-10) hashes (default true). */
  chains?: boolean;
  /** Findings kept in the report (counts stay exact). Default 100,000. */
  maxFindings?: number;
  /** PostgreSQL work_mem for the check (default '256MB'). */
  workMem?: string;
  /**
   * Compare every row column by column, trusting no tuple header (default false). Rows the log's own
   * statement wrote are otherwise taken as matching their entry (decision 0057); use this for a periodic
   * deep check, e.g. after a schema change that did not rewrite the table (ADD COLUMN with a default,
   * RENAME COLUMN), which the header proof does not see.
   */
  precise?: boolean;
  /** Per entity name: which columns to compare with the log. */
  columns?: Readonly<Record<string, ColumnChoice>>;
  onProgress?: (p: ReconcileProgress) => void;
  /** Injected clock for the report's times. */
  clock?: () => Date;
  /**
   * Record each entity type's result (rows checked, findings) in reconcile_runs, for the console's
   * Overview (decision 0146). Default true; skipped inside a caller's transaction, and best effort (a
   * read-only database leaves `recorded` false, the report stands).
   */
  record?: boolean;
}

function intOption(v: unknown, name: string, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', `${name} must be an integer from 1 to ${max}`);
  }
  return v;
}

/**
 * Checks each entity's table against its log (and, by default, each log against itself: before images,
 * and the hashes of entries written before the chain left the write path, decision 0065) and returns
 * one report.
 * Reads only: nothing is written. Repair with `planRepair` + `applyRepair`.
 *
 * @example
 * const report = await reconcile([resources], { onProgress: (p) => console.log(p.entity, p.done, p.total) });
 * if (!report.ok) console.log(formatReport(report));
 */
export async function reconcile(
  entities: readonly Entity[],
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const o = (entities as readonly Partial<Entity>[] | undefined)?.[0]?.runtime?.config.observer;
  return o?.on ? observedReconcile(o, () => check(entities, options)) : check(entities, options);
}

async function check(entities: readonly Entity[], options: ReconcileOptions): Promise<ReconcileReport> {
  if (
    !Array.isArray(entities) ||
    entities.length === 0 ||
    entities.some((e) => typeof e?.runtime !== 'object')
  ) {
    throw new TallyError(
      'INVALID_RECONCILE_OPTIONS',
      'reconcile needs a non-empty list of entities (tally.entity(...))',
    );
  }
  const chunkSize = intOption(options.chunkSize, 'chunkSize', 1_000_000, 100_000_000);
  const chainChunkSize = intOption(options.chainChunkSize, 'chainChunkSize', 200_000, 100_000_000);
  const maxFindings = intOption(options.maxFindings, 'maxFindings', 100_000, 10_000_000);
  const workMem = options.workMem ?? '256MB';
  if (typeof workMem !== 'string' || !/^\d{1,7}\s*(kB|MB|GB)$/.test(workMem)) {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', "workMem must look like '256MB'");
  }
  if (options.precise !== undefined && typeof options.precise !== 'boolean') {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'precise must be true or false');
  }
  const clock = options.clock ?? (() => new Date());
  const started = clock();
  const t0 = performance.now();
  const summaries: EntitySummary[] = [];
  const findings: Finding[] = [];
  const counts: Partial<Record<FindingKind, number>> = {};
  let total = 0;
  const keep = (list: Finding[]) => {
    for (const f of list) {
      counts[f.kind] = (counts[f.kind] ?? 0) + 1;
      total++;
      if (findings.length < maxFindings) findings.push(f);
    }
  };
  for (const entity of entities) {
    const rt = entity.runtime;
    const db = rt.config.db;
    const s0 = performance.now();
    const state = await checkStateLog(rt, db, {
      ...options.columns?.[entity.name],
      chunkSize,
      workMem,
      precise: options.precise === true,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const stateMs = performance.now() - s0;
    let chainMs: number | null = null;
    let chainFindings: Finding[] = [];
    if (options.chains !== false) {
      const c0 = performance.now();
      const chain = await verifyChains(rt, db, {
        chunkSize: chainChunkSize,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      chainFindings = chain.findings;
      chainMs = performance.now() - c0;
    }
    const mine = [...state.findings, ...chainFindings];
    keep(mine);
    summaries.push({
      entity: entity.name,
      table: rt.def.table.sql,
      rows: state.rows,
      logEntries: state.logEntries,
      chunks: state.chunks,
      findings: mine.length,
      ms: { state: Math.round(stateMs), chain: chainMs === null ? null : Math.round(chainMs) },
    });
  }
  const finished = clock();
  // Each entity's result goes to its own Tally's schema (entities of two instances may be checked at once).
  const runs = new Map<TallyConfig, RunRow[]>();
  summaries.forEach((e, i) => {
    const config = entities[i]!.runtime.config;
    const list = runs.get(config) ?? [];
    list.push({
      entityType: e.entity,
      kind: 'check',
      checked: e.rows,
      logEntries: e.logEntries,
      findings: e.findings,
      repaired: null,
      durationMs: e.ms.state + (e.ms.chain ?? 0),
    });
    runs.set(config, list);
  });
  let recorded = options.record !== false;
  for (const [config, rows] of recorded ? runs : []) {
    recorded = (await recordRuns(config, finished, rows)) && recorded;
  }
  return {
    ok: total === 0,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    recorded,
    durationMs: Math.round(performance.now() - t0),
    entities: summaries,
    counts,
    total,
    findings,
    truncated: total > findings.length,
  };
}
