// The reconciler's public API. The lead wires it into src/index.ts (export * from './reconcile/index.js').
export { verifyChains } from './chain.js';
export type { ColumnChoice } from './columns.js';
// Upstream <-> downstream commands and the cross-database compare (engineer H4's modules).
export * from './commands/index.js';
export { checkKeyChain, type KeyChain } from './key-chain.js';
export { checkEntries, realtimeHandler } from './realtime.js';
export { type ReconcileOptions, reconcile } from './reconcile.js';
export {
  type ApplyRepairOptions,
  applyRepair,
  MISSING_LOG_KINDS,
  type PlannedRepair,
  planRepair,
  type RepairPlan,
  type RepairProgress,
  type RepairResult,
} from './repair.js';
export { type FormatPlanOptions, formatPlan, formatRepair, formatReport } from './report.js';
export { every, parseEvery, type Schedule } from './schedule.js';
export {
  type EntitySummary,
  FINDING_KINDS,
  type Finding,
  type FindingKind,
  REPAIRABLE_KINDS,
  type ReconcileProgress,
  type ReconcileReport,
} from './types.js';
export * from './xdb/index.js';
