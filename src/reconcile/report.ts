import type { RepairPlan, RepairResult } from './repair.js';
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
      `${e.entity} (${e.table}): ${e.rows} rows, ${e.logEntries} log entries, ${e.findings} findings (state ${e.ms.state} ms in ${e.chunks} chunks, ${chain})`,
    );
  }
  if (report.ok) {
    lines.push(
      `ok: every row is explained by its log${report.entities.some((e) => e.ms.chain !== null) ? ' and every chain is intact' : ''}`,
    );
    return lines.join('\n');
  }
  lines.push(`DRIFT: ${report.total} findings`);
  for (const k of FINDING_KINDS) if (report.counts[k]) lines.push(`  ${k.padEnd(24)} ${report.counts[k]}`);
  for (const f of report.findings.slice(0, limit)) {
    lines.push(`  ${f.entity} ${f.key}: ${f.kind}: ${String(f.details.message ?? '')}`);
  }
  if (report.total > limit) lines.push(`  ... and ${report.total - limit} more (--json lists them all)`);
  return lines.join('\n');
}

/**
 * The dry run, printed: what a repair would write and what it leaves to a person.
 *
 * @example
 * console.log(formatPlan(planRepair(report)));
 */
export function formatPlan(plan: RepairPlan, limit = LIST): string {
  const lines = [
    `plan: ${plan.repairs.length} repair entries, ${plan.manual.length} findings left for a person`,
  ];
  for (const r of plan.repairs.slice(0, limit)) {
    lines.push(
      `  repair ${r.entity} ${r.key} (${r.kind}): row v${r.fromVersion ?? '?'} -> v${r.toVersion ?? '?'}, entry 'repair' at v${r.toVersion ?? '?'}`,
    );
  }
  if (plan.repairs.length > limit) lines.push(`  ... and ${plan.repairs.length - limit} more repairs`);
  for (const f of plan.manual.slice(0, limit))
    lines.push(`  manual ${f.entity} ${f.key}: ${f.kind}: ${String(f.details.message ?? '')}`);
  if (plan.manual.length > limit) lines.push(`  ... and ${plan.manual.length - limit} more for a person`);
  return lines.join('\n');
}

/** One line for an applied repair. */
export function formatRepair(result: RepairResult): string {
  return `repaired ${result.repaired} rows (${result.skipped} planned rows needed nothing)`;
}
