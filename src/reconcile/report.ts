import { plural } from '../plural.js';
import type { PlannedRepair, RepairPlan, RepairResult } from './repair.js';
import { FINDING_KINDS, type ReconcileReport } from './types.js';

const LIST = 50;

/**
 * The human summary of a report: one line per entity, counts per kind, then the first findings.
 *
 * @example
 * console.log(formatReport(await reconcile([resources])));
 */
export function formatReport(report: ReconcileReport, limit = LIST): string {
  const lines: string[] = [];
  for (const e of report.entities) {
    const chain = e.ms.chain === null ? 'chains not checked' : `chains ${e.ms.chain} ms`;
    lines.push(
      `${e.entity} (${e.table}): ${plural(e.rows, 'row')}, ${plural(e.logEntries, 'log entry', 'log entries')}, ${plural(e.findings, 'finding')} (state ${e.ms.state} ms in ${plural(e.chunks, 'chunk')}, ${chain})`,
    );
  }
  if (report.ok) {
    lines.push(
      `ok: every row is explained by its log${report.entities.some((e) => e.ms.chain !== null) ? ' and every chain is intact' : ''}`,
    );
    return lines.join('\n');
  }
  lines.push(`DRIFT: ${plural(report.total, 'finding')}`);
  for (const k of FINDING_KINDS) if (report.counts[k]) lines.push(`  ${k.padEnd(24)} ${report.counts[k]}`);
  for (const f of report.findings.slice(0, limit)) {
    lines.push(`  ${f.entity} ${f.key}: ${f.kind}: ${String(f.details.message ?? '')}`);
  }
  if (report.total > limit) lines.push(`  ... and ${report.total - limit} more (--json lists them all)`);
  return lines.join('\n');
}

/** How formatPlan names the switch that lets missing log entries be repaired. */
export interface FormatPlanOptions {
  /** Default `acceptMissingLog: true` (the library option); the CLI says `--accept-missing-log`. */
  acceptWith?: string;
  /** Repairs and manual findings listed (default 50 each). */
  limit?: number;
  /** The repairs over missing log entries are about to be applied (the switch was given). */
  accepted?: boolean;
}

/**
 * The dry run, printed: what a repair would write and what it leaves to a person. Repairs over missing
 * log entries say that the entries may have been deleted, and what must be passed to apply them.
 *
 * @example
 * console.log(formatPlan(planRepair(report)));
 */
export function formatPlan(plan: RepairPlan, options: FormatPlanOptions | number = {}): string {
  const {
    acceptWith = 'acceptMissingLog: true',
    limit = LIST,
    accepted = false,
  } = typeof options === 'number' ? { limit: options } : options;
  const lines = [
    `plan: ${plural(plan.repairs.length, 'repair entry', 'repair entries')}, ${plural(plan.manual.length, 'finding')} left for a person`,
  ];
  for (const r of plan.repairs.slice(0, limit)) {
    lines.push(
      `  repair ${r.entity} ${r.key} (${r.kind}): row v${r.fromVersion ?? '?'} -> v${r.toVersion ?? '?'}, entry 'repair' at v${r.toVersion ?? '?'}${missingText(r)}`,
    );
  }
  if (plan.repairs.length > limit) lines.push(`  ... and ${plan.repairs.length - limit} more repairs`);
  for (const f of plan.manual.slice(0, limit))
    lines.push(`  manual ${f.entity} ${f.key}: ${f.kind}: ${String(f.details.message ?? '')}`);
  if (plan.manual.length > limit) lines.push(`  ... and ${plan.manual.length - limit} more for a person`);
  const missing = plan.repairs.filter((r) => r.missingLog).length;
  if (missing > 0) {
    lines.push(
      `warning: ${plural(missing, 'repair covers', 'repairs cover')} missing log entries. They may have been deleted, and a`,
      '  repair entry would make the history look whole again: check first (backups, the database log).',
      accepted
        ? `  ${missing === 1 ? 'It is' : 'They are'} applied now, as ${acceptWith} asks.`
        : `  ${missing === 1 ? 'It is' : 'They are'} applied only with ${acceptWith}; without it ${missing === 1 ? 'it is' : 'they are'} withheld.`,
    );
  }
  return lines.join('\n');
}

// The log versions a missing-log repair stands for: from the repair's version up to the row's.
function missingText(r: PlannedRepair): string {
  if (!r.missingLog) return '';
  const from = r.toVersion ?? '?';
  const to = r.fromVersion ?? '?';
  return `; log ${from === to ? `v${from}` : `v${from}..v${to}`} missing (never written, or deleted)`;
}

/**
 * One line for an applied repair, and one for the repairs withheld.
 *
 * @example
 * console.log(formatRepair(await applyRepair([resources], plan, { actor, reason })));
 */
export function formatRepair(result: RepairResult, acceptWith = 'acceptMissingLog: true'): string {
  const lines = [
    `repaired ${plural(result.repaired, 'row')} (${plural(result.skipped, 'planned row')} needed nothing)`,
  ];
  if (result.withheld.length > 0) {
    lines.push(
      `withheld ${plural(result.withheld.length, 'repair')} over missing log entries (they may have been deleted): check, then pass ${acceptWith}`,
    );
  }
  return lines.join('\n');
}
