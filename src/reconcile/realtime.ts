import type { Entity } from '../changes/entity.js';
import type { LogEntry } from '../changes/history.js';
import type { FeedBatch, FeedHandler } from '../feed/types.js';
import { type ColumnChoice, trackedColumns } from './columns.js';
import { reconcileDialect, requireReconcileCapability } from './dialect/index.js';
import { entriesCheckSql } from './realtime-sql.js';
import { classify, detailsOf } from './state-log.js';
import type { Finding } from './types.js';

type Row = {
  key: string;
  version: string;
  missing_entry: boolean;
  action: string | null;
  bad_hash: boolean;
  bad_link: boolean;
  gap: boolean;
  row_version: string | null;
  row_differs: boolean;
  row_ahead: boolean;
};

/**
 * Real-time mode: checks log entries as they arrive (from a feed consumer) against their entity rows and
 * their chain links. Set-based per batch: one statement per entity type, plus a detail look-up of the
 * flagged keys. Entries of entity types not given are skipped.
 *
 * @example
 * const findings = await checkEntries([resources], batch.entries.map((e) => e.entry));
 */
export async function checkEntries(
  entities: readonly Entity[],
  entries: readonly Pick<LogEntry, 'entity_type' | 'entity_key' | 'version'>[],
  choice: Readonly<Record<string, ColumnChoice>> = {},
): Promise<Finding[]> {
  const byType = new Map<string, Map<string, number>>();
  for (const e of entries) {
    const m = byType.get(e.entity_type) ?? new Map<string, number>();
    m.set(`${e.entity_key}\u0000${Number(e.version)}`, Number(e.version));
    byType.set(e.entity_type, m);
  }
  const findings: Finding[] = [];
  for (const entity of entities) {
    const pairs = byType.get(entity.name);
    if (!pairs) continue;
    const rt = entity.runtime;
    const db = rt.config.db;
    requireReconcileCapability(
      reconcileDialect(db.dialect),
      'realtime',
      'checkEntries (real-time reconcile)',
    );
    const { keyType, columns } = await trackedColumns(rt, db, choice[entity.name]);
    const keys = [...pairs.keys()].map((id) => id.split('\u0000')[0]!);
    const rows = await db.query<Row>(
      entriesCheckSql(rt.config.s, rt.def, keyType, columns, keys, [...pairs.values()]),
    );
    const rowSide = new Set<string>();
    for (const r of rows) {
      const v = Number(r.version);
      const chain = (kind: Finding['kind'], message: string) =>
        findings.push({ entity: entity.name, key: r.key, kind, details: { versions: [v], message } });
      if (r.missing_entry) chain('version_gap', `v${v} was delivered but is no longer in the log`);
      if (r.bad_hash) chain('hash_mismatch', `v${v}: hash does not match the entry (edited)`);
      if (r.gap) chain('version_gap', `v${v} follows a missing entry`);
      else if (r.bad_link) chain('broken_link', `v${v}: does not link to the previous entry's hash`);
      const rv = r.row_version === null ? null : Number(r.row_version);
      if ((rv === null && r.action !== 'delete') || (rv !== null && rv < v) || r.row_differs || r.row_ahead) {
        rowSide.add(r.key);
      }
    }
    const details = await detailsOf(rt, db, keyType, [...rowSide]);
    for (const key of rowSide) {
      const f = classify(entity.name, key, details.get(key), columns);
      if (f) findings.push(f);
    }
  }
  return findings;
}

/**
 * A feed handler (src/feed) that checks every delivered log entry and hands drifts to `onDrift`.
 * Command events are ignored. Throwing from `onDrift` makes the feed redeliver the batch.
 *
 * @example
 * feed.consumer('reconcile', realtimeHandler([resources], (f) => alert(f)));
 */
export function realtimeHandler(
  entities: readonly Entity[],
  onDrift: (findings: Finding[], batch: FeedBatch) => unknown,
  choice: Readonly<Record<string, ColumnChoice>> = {},
): FeedHandler {
  return async (batch) => {
    const log = batch.entries.flatMap((e) => (e.source === 'log' ? [e.entry] : []));
    if (log.length === 0) return;
    const findings = await checkEntries(entities, log, choice);
    if (findings.length > 0) await onDrift(findings, batch);
  };
}
