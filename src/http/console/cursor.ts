import { ConsoleError } from './problem.js';

/**
 * Keyset cursors: the sort key of a page's last row, with the list it belongs to, as base64url JSON. Opaque
 * to clients (they pass `next` back unchanged); checked on the way in, so a cursor from another list or a
 * damaged one is INVALID_QUERY before any statement runs.
 */
export function encodeCursor(list: string, values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify({ l: list, v: values })).toString('base64url');
}

/** The values of a cursor made by encodeCursor for `list`, checked against `shape` ('s' string, 'n' integer). */
export function decodeCursor(list: string, cursor: string, shape: string): (string | number)[] {
  const bad = (): never => {
    throw new ConsoleError('INVALID_QUERY', 'after must be a cursor this list returned as next', {
      param: 'after',
    });
  };
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  const o = parsed as { l?: unknown; v?: unknown };
  if (!o || o.l !== list || !Array.isArray(o.v) || o.v.length !== shape.length) bad();
  const v = o.v as unknown[];
  for (let i = 0; i < shape.length; i++) {
    const x = v[i];
    const ok =
      shape[i] === 'n'
        ? typeof x === 'number' && Number.isSafeInteger(x)
        : typeof x === 'string' && x.length <= 200;
    if (!ok) bad();
  }
  return v as (string | number)[];
}
