// Cross-database compare: the public API H3's src/reconcile/index.ts re-exports.
export { compareTables } from './compare.js';
export { formatCompareReport } from './format.js';
export { naiveCompare } from './naive.js';
export type { ChangedRow, CompareOptions, CompareProgress, CompareReport, CompareSide } from './types.js';
