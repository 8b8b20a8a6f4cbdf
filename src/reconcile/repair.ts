import type { Entity } from '../changes/entity.js';
import { canonicalKeys } from '../changes/keys.js';
import { resolveContext } from '../context.js';
import { TallyError } from '../errors.js';
import { observedRepair } from '../observe/reconcile.js';
import { type ColumnChoice, trackedColumns } from './columns.js';
import { reconcileDialect } from './dialect/index.js';
import { recordRuns } from './runs.js';
import { type Finding, REPAIRABLE_KINDS, type ReconcileReport } from './types.js';

/** One planned repair: a `repair` log entry that explains the row as it is. */
export interface PlannedRepair {
  readonly entity: string;
  readonly key: string;
  readonly kind: Finding['kind'];
  /** The row's version now, and the version the row and its repair entry will have. */
  readonly fromVersion: number | null;
  readonly toVersion: number | null;
  /**
   * The row claims log entries the log does not have (it is ahead of its log, or has none): they were
   * never written, or they were deleted. A repair entry would make such a history look whole again, so
   * `applyRepair` writes it only with `acceptMissingLog: true`.
   */
  readonly missingLog: boolean;
}

/** The dry run: what `applyRepair` would write, and what it leaves to a person. */
export interface RepairPlan {
  readonly repairs: readonly PlannedRepair[];
  /** Findings a repair entry cannot explain (the log ahead of the row, gaps, edited entries, orphans). */
  readonly manual: readonly Finding[];
}

export interface RepairResult {
  /** Rows given a repair entry. */
  readonly repaired: number;
  /**
   * Planned rows that needed nothing any more (repaired before, consistent by now), or no longer needed
   * what was planned (a row whose log entries went missing since, without `acceptMissingLog`).
   */
  readonly skipped: number;
  /** Planned repairs over missing log entries that were not applied: `acceptMissingLog` was not given. */
  readonly withheld: readonly PlannedRepair[];
  readonly keys: Readonly<Record<string, string[]>>;
}

/** Progress of `applyRepair`, after each chunk (one transaction). */
export interface RepairProgress {
  readonly entity: string;
  readonly phase: 'repair';
  /** Planned rows of this entity done so far, and in all. */
  readonly done: number;
  readonly total: number;
  /** Rows given a repair entry so far (this entity). */
  readonly repaired: number;
}

/** The kinds whose repair covers log entries that are missing: they may have been deleted. */
export const MISSING_LOG_KINDS: ReadonlySet<Finding['kind']> = new Set(['version_ahead_of_log', 'no_log']);

/**
 * The plan for a report: every repairable finding becomes a planned repair entry. Nothing is written.
 *
 * @example
 * const plan = planRepair(await rec.check());
 * console.log(formatPlan(plan));
 */
export function planRepair(report: Pick<ReconcileReport, 'findings'>): RepairPlan {
  const repairs: PlannedRepair[] = [];
  const manual: Finding[] = [];
  const seen = new Set<string>();
  for (const f of report.findings) {
    if (!REPAIRABLE_KINDS.has(f.kind)) {
      manual.push(f);
      continue;
    }
    const id = `${f.entity}\u0000${f.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const d = f.details as { rowVersion?: number; lastVersion?: number; version?: number };
    const fromVersion = d.rowVersion ?? d.version ?? null;
    const toVersion = f.kind === 'no_log' ? 1 : (d.lastVersion ?? d.version ?? 0) + 1;
    // Sealed checkpoints (the evidence issue) will add a check here: a missing entry inside a sealed
    // range is tampering — reported as its own finding, listed for a person, never planned as a repair,
    // whether or not acceptMissingLog is given.
    const missingLog = MISSING_LOG_KINDS.has(f.kind);
    repairs.push({ entity: f.entity, key: f.key, kind: f.kind, fromVersion, toVersion, missingLog });
  }
  return { repairs, manual };
}

export interface ApplyRepairOptions extends ColumnChoice {
  /** Who repairs (recorded on every repair entry). Required. */
  actor: string;
  /** Why (recorded on every repair entry). Required. */
  reason: string;
  requestId?: string;
  /** Keys per transaction (default 1,000). */
  chunkSize?: number;
  /**
   * Also apply the repairs over missing log entries (`version_ahead_of_log`, `no_log`; default false).
   * Those entries may have been deleted: pass it only after a person has checked. Without it such repairs
   * are withheld (returned under `withheld`), and a row whose entries went missing since the plan is
   * left alone.
   */
  acceptMissingLog?: boolean;
  /** Called after each chunk. */
  onProgress?: (p: RepairProgress) => void;
}

/**
 * Applies a plan: per entity, per chunk of keys, one transaction that locks the rows in key order and
 * writes the repair entries in one statement. A second apply of the same plan writes nothing. Without an
 * actor or a reason, for an entity not declared, or for a key whose row does not exist, it throws before
 * writing anything. Repairs over missing log entries are withheld unless `acceptMissingLog` is true.
 *
 * @example
 * const r = await applyRepair([resources], plan, { actor: 'ops:alice', reason: 'INC-7: batch freeze bypassed the log' });
 * if (r.withheld.length) console.log(formatRepair(r)); // "withheld 2 repairs over missing log entries ..."
 */
export async function applyRepair(
  entities: readonly Entity[],
  plan: RepairPlan,
  options: ApplyRepairOptions,
): Promise<RepairResult> {
  const o = (entities as readonly Partial<Entity>[] | undefined)?.[0]?.runtime?.config.observer;
  return o?.on ? observedRepair(o, () => apply(entities, plan, options)) : apply(entities, plan, options);
}

async function apply(
  entities: readonly Entity[],
  plan: RepairPlan,
  options: ApplyRepairOptions,
): Promise<RepairResult> {
  const ctx = resolveContext({
    actor: options?.actor,
    reason: options?.reason,
    requestId: options?.requestId,
  });
  if (!ctx.reason || ctx.reason.trim() === '') {
    throw new TallyError('MISSING_REASON', 'a repair needs a reason: say why the log is being backfilled');
  }
  const chunkSize = options.chunkSize ?? 1000;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 100_000) {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'chunkSize must be an integer from 1 to 100000');
  }
  if (!plan || !Array.isArray(plan.repairs)) {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'pass the plan planRepair returned');
  }
  if (options.acceptMissingLog !== undefined && typeof options.acceptMissingLog !== 'boolean') {
    throw new TallyError('INVALID_RECONCILE_OPTIONS', 'acceptMissingLog must be true or false');
  }
  const accept = options.acceptMissingLog === true;
  // A plan made before this field existed (or by hand) is judged by its kinds.
  const missing = (r: PlannedRepair) => r.missingLog === true || MISSING_LOG_KINDS.has(r.kind);
  const withheld = accept ? [] : plan.repairs.filter(missing);
  const byName = new Map(entities.map((e) => [e.name, e]));
  const groups = new Map<string, string[]>();
  for (const r of plan.repairs) {
    if (!accept && missing(r)) continue;
    if (!byName.has(r.entity)) {
      throw new TallyError(
        'UNKNOWN_ENTITY',
        `the plan names entity ${JSON.stringify(String(r.entity).slice(0, 64))}, which is not given`,
      );
    }
    groups.set(r.entity, [...(groups.get(r.entity) ?? []), r.key]);
  }
  // Validate everything (key types, columns) before the first write.
  const prepared = [];
  for (const [name, keys] of groups) {
    const e = byName.get(name)!;
    const rt = e.runtime;
    const { keyType, columns } = await trackedColumns(rt, rt.config.db, options);
    const canonical = canonicalKeys(keys, keyType, name);
    const missing = await reconcileDialect(rt.config.db.dialect).missingKeys(
      rt.config.db,
      rt.def,
      keyType,
      canonical,
    );
    if (missing.length > 0) {
      throw new TallyError(
        'NOT_FOUND',
        `${name}: ${missing.length} planned keys have no row; nothing was repaired`,
        {
          details: { missing },
        },
      );
    }
    prepared.push({ e, keys: canonical, keyType, columns });
  }
  const at = prepared[0]?.e.config.clock() ?? new Date();
  const repaired: Record<string, string[]> = {};
  let total = 0;
  for (const { e, keys, keyType, columns } of prepared) {
    const { def, config } = e.runtime;
    const d = reconcileDialect(config.db.dialect);
    const t0 = performance.now();
    repaired[def.name] = [];
    for (let i = 0; i < keys.length; i += chunkSize) {
      const chunk = keys.slice(i, i + chunkSize);
      const done = await config.db.transaction(async (tx) => {
        const locked = await tx.query<{ k: string }>(d.lockKeys(def, keyType, chunk));
        if (locked.length !== new Set(chunk).size) {
          const found = new Set(locked.map((r) => r.k));
          const missing = chunk.filter((k) => !found.has(k));
          throw new TallyError(
            'NOT_FOUND',
            `${def.name}: ${missing.length} planned keys have no row; nothing was repaired in this chunk`,
            {
              details: { missing: missing.slice(0, 100) },
            },
          );
        }
        const r = await d.repair(tx, e.runtime, keyType, columns, {
          keys: chunk,
          acceptMissingLog: accept,
          actor: ctx.actor,
          reason: ctx.reason!,
          at,
          requestId: ctx.requestId,
        });
        if (r.updated !== r.logged) {
          throw new TallyError('DB_ERROR', `${def.name}: repaired ${r.updated} rows but logged ${r.logged}`);
        }
        return r.keys;
      });
      repaired[def.name]!.push(...done);
      total += done.length;
      options.onProgress?.({
        entity: def.name,
        phase: 'repair',
        done: Math.min(i + chunkSize, keys.length),
        total: keys.length,
        repaired: repaired[def.name]!.length,
      });
    }
    // The entity type's repair joins its reconcile results (decision 0146; best effort, after the writes).
    await recordRuns(config, config.clock(), [
      {
        entityType: def.name,
        kind: 'repair',
        checked: null,
        logEntries: null,
        findings: null,
        repaired: repaired[def.name]!.length,
        durationMs: performance.now() - t0,
      },
    ]);
  }
  return {
    repaired: total,
    skipped: plan.repairs.length - withheld.length - total,
    withheld,
    keys: repaired,
  };
}
