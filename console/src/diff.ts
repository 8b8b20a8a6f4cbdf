// Before → after of one log entry, field by field. Pure (no DOM): test/console imports it.

export interface FieldChange {
  field: string;
  kind: 'added' | 'removed' | 'changed' | 'same';
  before?: unknown;
  after?: unknown;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The fields of `before` and `after`, in a stable order (changed ones first), each with what happened.
 * A null `before` is a creation; a null `after`, a deletion.
 *
 * @example
 * diff({ state: 'active', n: 1 }, { state: 'frozen', n: 1 })
 * // [{ field: 'state', kind: 'changed', before: 'active', after: 'frozen' }, { field: 'n', kind: 'same', ... }]
 */
export function diff(
  before: Record<string, unknown> | null | undefined,
  after: Record<string, unknown> | null | undefined,
): FieldChange[] {
  const b = before ?? {};
  const a = after ?? {};
  const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
  const out: FieldChange[] = [];
  for (const field of fields) {
    const inB = Object.hasOwn(b, field);
    const inA = Object.hasOwn(a, field);
    if (inB && !inA) out.push({ field, kind: 'removed', before: b[field] });
    else if (!inB && inA) out.push({ field, kind: 'added', after: a[field] });
    else if (same(b[field], a[field])) out.push({ field, kind: 'same', before: b[field], after: a[field] });
    else out.push({ field, kind: 'changed', before: b[field], after: a[field] });
  }
  const rank = { changed: 0, added: 1, removed: 2, same: 3 } as const;
  return out.sort((x, y) => rank[x.kind] - rank[y.kind]);
}
