import { compareText } from './chunks.js';
import { columnForms, keyKindOf, readShape } from './introspect.js';
import { resolveCompare } from './options.js';
import { withSides } from './session.js';
import type { CompareOptions } from './types.js';

/**
 * The baseline `compareTables` is measured against: every row of both tables travels to this process,
 * in key order through a cursor per side, and is compared field by field. Exact, but it moves the
 * whole table. Returns the number of differing keys and the rows read.
 *
 * @example
 * const { differences, rows } = await naiveCompare({ left, right, key: 'id', columns: ['amount'] });
 */
export async function naiveCompare(
  options: CompareOptions,
  batch = 20_000,
): Promise<{ differences: number; rows: number; ms: number }> {
  const o = resolveCompare(options);
  const started = Date.now();
  return withSides(o.left.db, o.right.db, async (sides) => {
    const [ls, rs] = await Promise.all([
      readShape(sides[0]!, 'left', o.left.sql, o.key, o.columns),
      readShape(sides[1]!, 'right', o.right.sql, o.key, o.columns),
    ]);
    const { kind, collate } = keyKindOf(o.key, ls, rs);
    const exprs = columnForms(o.columns, o.columnsSql, ls, rs, o.allowTypeMismatch).map((f) => f.expr);
    const tables = [o.left.sql, o.right.sql];
    await Promise.all(
      sides.map((s, i) =>
        s.query({
          text: `DECLARE tally_naive NO SCROLL CURSOR FOR
                 SELECT ${o.keySql}::text AS k, ROW(${exprs.join(', ')})::text AS v
                   FROM ${tables[i]} t ORDER BY ${o.keySql}${collate}`,
        }),
      ),
    );
    const cmp =
      kind === 'integer'
        ? (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0)
        : compareText;
    type R = { k: string; v: string };
    const bufs: R[][] = [[], []];
    const pos = [0, 0];
    const done = [false, false];
    const fill = async (i: number) => {
      if (pos[i]! < bufs[i]!.length || done[i]) return;
      bufs[i] = await sides[i]!.query<R>({ text: `FETCH ${batch} FROM tally_naive` });
      pos[i] = 0;
      if (bufs[i]!.length === 0) done[i] = true;
    };
    let differences = 0;
    let rows = 0;
    for (;;) {
      await Promise.all([fill(0), fill(1)]);
      const a = done[0] ? undefined : bufs[0]![pos[0]!];
      const b = done[1] ? undefined : bufs[1]![pos[1]!];
      if (!a && !b) break;
      const c = !a ? 1 : !b ? -1 : cmp(a.k, b.k);
      if (c === 0) {
        if (a!.v !== b!.v) differences++;
        pos[0]!++;
        pos[1]!++;
        rows += 2;
      } else {
        differences++;
        pos[c < 0 ? 0 : 1]!++;
        rows++;
      }
    }
    return { differences, rows, ms: Date.now() - started };
  });
}
