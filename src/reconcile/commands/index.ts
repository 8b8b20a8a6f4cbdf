// Upstream <-> downstream command reconciliation: the public API H3's src/reconcile/index.ts re-exports.
export { formatCommandsReport } from './format.js';
export { reconcileCommands } from './reconcile.js';
export { applyRedrive, planRedrive, type RedriveOptions, type RedrivePlan } from './redrive.js';
export {
  type CommandDifference,
  type CommandsReport,
  type DownstreamLookup,
  type DownstreamRecord,
  type DownstreamSource,
  type DownstreamTable,
  MISMATCH_KINDS,
  type MismatchKind,
  type ReconcileCommandsOptions,
} from './types.js';
