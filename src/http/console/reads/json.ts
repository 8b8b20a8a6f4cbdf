import type { Row } from '../../../db/types.js';

/** A time as ISO 8601 UTC text (null stays null). */
export function iso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString();
}

/** A jsonb value a driver may hand over as text. */
export function json(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** An alert row (commands/alerts-sql.ts columns) as the API shows it. */
export function alertJson(r: Row) {
  return {
    id: String(r.id),
    commandId: (r.command_id as string | null) ?? null,
    commandType: String(r.command_type),
    kind: String(r.kind),
    message: String(r.message),
    data: json(r.data) ?? null,
    at: iso(r.at),
    resolvedAt: iso(r.resolved_at),
    resolvedBy: (r.resolved_by as string | null) ?? null,
    resolvedReason: (r.resolved_reason as string | null) ?? null,
  };
}
