import type { Session } from './session.js';
import { rowsByKeySql } from './sql.js';
import type { ChangedRow } from './types.js';

/**
 * Names the differing columns of the first `limit` changed rows by reading their canonical text forms
 * on both sides; rows beyond the limit are reported with an empty column list.
 */
export async function describeChanges(
  sides: readonly [Session, Session],
  tables: readonly [string, string],
  keySql: string,
  keyType: string,
  exprs: readonly string[],
  columns: readonly string[],
  keys: readonly string[],
  limit: number,
): Promise<ChangedRow[]> {
  const wanted = keys.slice(0, limit);
  const byKey = new Map<string, ChangedRow>(keys.map((k) => [k, { key: k, columns: [] }]));
  if (wanted.length > 0 && exprs.length > 0) {
    const [l, r] = await Promise.all(
      [0, 1].map((i) =>
        sides[i]!.query<Record<string, string | null>>(
          rowsByKeySql(tables[i]!, keySql, keyType, exprs, wanted),
        ),
      ),
    );
    const right = new Map(r!.map((row) => [row.k as string, row]));
    for (const lrow of l!) {
      const rrow = right.get(lrow.k as string);
      if (!rrow) continue;
      const changed = byKey.get(lrow.k as string)!;
      columns.forEach((c, i) => {
        if (lrow[`v${i}`] !== rrow[`v${i}`]) changed.columns.push(c);
      });
    }
  }
  return [...byKey.values()];
}
