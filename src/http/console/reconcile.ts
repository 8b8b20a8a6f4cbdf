import type { Entity } from '../../changes/entity.js';
import { isTallyError } from '../../errors.js';
import { reconcile } from '../../reconcile/reconcile.js';
import { planRepair } from '../../reconcile/repair.js';
import type { Finding, ReconcileReport } from '../../reconcile/types.js';
import type { Tally } from '../../tally.js';
import { ConsoleError } from './problem.js';

// Findings the answer carries; counts stay exact (`total`, `counts`), `truncated` says when more exist.
export const MAX_FINDINGS = 1000;

/**
 * The declared entity the check runs on. The reconciler needs the definition (table, key and version
 * columns): a plain `tally serve` (no --module) declares none, so there every entity is ENTITY_NOT_DECLARED
 * (422), naming why.
 */
function declared(tally: Tally, name: string): Entity {
  try {
    return tally.getEntity(name) as Entity;
  } catch (err) {
    if (!isTallyError(err, 'UNKNOWN_ENTITY')) throw err;
    throw new ConsoleError(
      'ENTITY_NOT_DECLARED',
      "this server has no declaration of the entity: the check needs its table, key and version columns; start tally serve with the app's setup module (--module PATH), or the console in the app's process with its tally",
    );
  }
}

/** One entity's state <-> log check (and its log's own chain check): reads only, nothing is written. */
async function check(tally: Tally, name: string): Promise<ReconcileReport> {
  return reconcile([declared(tally, name)], { maxFindings: MAX_FINDINGS });
}

/** The report as the console shows it: every key and image stays data (JSON), never markup. */
function reportJson(entity: string, r: ReconcileReport) {
  const plan = planRepair(r);
  return {
    entity,
    dryRun: true,
    ok: r.ok,
    startedAt: r.startedAt,
    durationMs: r.durationMs,
    summary: r.entities[0] ?? null,
    counts: r.counts,
    total: r.total,
    truncated: r.truncated,
    findings: r.findings.map((f: Finding) => ({ key: f.key, kind: f.kind, details: f.details })),
    repairable: plan.repairs.length,
    manual: plan.manual.length,
  };
}

/**
 * POST /api/reconcile/state-log: the check for one entity type as a dry run (the route checks the body).
 */
export async function stateLogCheck(tally: Tally, entity: string) {
  return reportJson(entity, await check(tally, entity));
}

/** What the repair action takes from its body (checked by the action). */
export interface RepairRequest {
  readonly entity: string;
  readonly keys: readonly string[] | null;
  readonly acceptMissingLog: boolean;
  readonly actor: string;
  readonly reason: string;
}

/**
 * Re-runs the check, plans the repair of its repairable findings (only the given keys, when given) and
 * applies it through tally.actions.repair, which records the operator. Nothing left to repair:
 * ACTION_NOT_APPLICABLE (409).
 */
export async function repairEntity(tally: Tally, r: RepairRequest) {
  const report = await check(tally, r.entity);
  const only = r.keys === null ? null : new Set(r.keys);
  const plan = planRepair({ findings: report.findings.filter((f) => !only || only.has(f.key)) });
  const result = await tally.actions.repair(plan, {
    actor: r.actor,
    reason: r.reason,
    ...(r.acceptMissingLog ? { acceptMissingLog: true } : {}),
  });
  return {
    entity: r.entity,
    repaired: result.repaired,
    skipped: result.skipped,
    withheld: result.withheld.map((w) => ({ key: w.key, kind: w.kind })),
    keys: result.keys[r.entity] ?? [],
    manual: plan.manual.map((f) => ({ key: f.key, kind: f.kind })),
  };
}
