// Times and durations as an operator reads them. Pure (no DOM): test/console can import it.

/** An ISO time as `2026-12-07 21:02:04.123` (UTC), or '' when absent. */
export function time(v: string | null | undefined): string {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** A duration in ms as `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Milliseconds between two ISO times (null when either is missing). */
export function between(a: string | null | undefined, b: string | null | undefined): number | null {
  if (!a || !b) return null;
  const d = new Date(b).getTime() - new Date(a).getTime();
  return Number.isFinite(d) ? d : null;
}

/** A value as short text for a table cell: strings as they are, the rest as JSON. */
export function short(v: unknown, max = 80): string {
  const t = typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
