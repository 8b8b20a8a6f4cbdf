import type { CompareReport } from './types.js';

/**
 * A human summary of a compare report: counts first, then up to `limit` keys of each kind.
 *
 * @example
 * console.log(formatCompareReport(await compareTables(options)));
 */
export function formatCompareReport(r: CompareReport, limit = 20): string {
  const more = (n: number) => (n > limit ? ` (+${n - limit} more)` : '');
  const list = (keys: readonly string[]) => keys.slice(0, limit).join(', ') + more(keys.length);
  const lines = [
    `compare ${r.left.table} (${r.left.rows} rows) <-> ${r.right.table} (${r.right.rows} rows) by ${r.key}: ` +
      (r.equal ? 'equal' : `${r.missingLeft.length + r.missingRight.length + r.changed.length} differences`),
    `  ${r.stats.chunks} chunks, ${r.stats.levels} bisection levels, ${r.stats.rowsFetched} rows fetched, ` +
      `${(r.stats.ms / 1000).toFixed(2)} s (${r.stats.rowsPerSecond} rows/s)`,
  ];
  if (r.missingLeft.length > 0)
    lines.push(`  missing on the left (${r.missingLeft.length}): ${list(r.missingLeft)}`);
  if (r.missingRight.length > 0)
    lines.push(`  missing on the right (${r.missingRight.length}): ${list(r.missingRight)}`);
  if (r.changed.length > 0) {
    const shown = r.changed
      .slice(0, limit)
      .map((c) => (c.columns.length ? `${c.key} [${c.columns.join(', ')}]` : c.key));
    lines.push(`  changed (${r.changed.length}): ${shown.join(', ')}${more(r.changed.length)}`);
  }
  return lines.join('\n');
}
