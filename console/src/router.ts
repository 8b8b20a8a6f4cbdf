// Hash routes (`#/commands?status=needs_attention`, `#/commands/<id>`): a reload shows the same view and
// the browser's back button walks the operator's path. Pure parsing (no DOM) plus a tiny listener.

export interface Route {
  /** The path's parts: `#/commands/abc` → ['commands', 'abc']. */
  parts: string[];
  query: URLSearchParams;
}

/** Parses a location hash. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
  return { parts, query };
}

/**
 * Builds a hash link; parts are encoded, empty query values dropped.
 *
 * @example
 * link(['commands', id]) // '#/commands/0f3c…'
 * link(['commands'], { status: 'needs_attention' }) // '#/commands?status=needs_attention'
 */
export function link(
  parts: string[],
  query: Record<string, string | number | null | undefined> = {},
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#/${parts.map((p) => encodeURIComponent(p)).join('/')}${qs ? `?${qs}` : ''}`;
}
