import type { SqlQuery } from '../db/types.js';

// Read at scrape time: both are answered from partial indexes (migration 13, command_alerts_open).

export const needsAttentionSql = (s: string): SqlQuery => ({
  text: `SELECT type, count(*)::int AS n FROM ${s}.commands WHERE status = 'needs_attention' GROUP BY type`,
  values: [],
});

export const openAlertsSql = (s: string): SqlQuery => ({
  text: `SELECT command_type AS type, count(*)::int AS n FROM ${s}.command_alerts WHERE resolved_at IS NULL GROUP BY command_type`,
  values: [],
});
