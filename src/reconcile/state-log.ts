import type { EntityRuntime } from '../changes/apply.js';
import type { Executor } from '../db/types.js';
import { type ColumnChoice, differingColumns, parseJson, trackedColumns } from './columns.js';
import { type KeyDetails, reconcileDialect } from './dialect/index.js';
import type { Finding, ReconcileProgress } from './types.js';

export interface StateLogOptions extends ColumnChoice {
  /** Rows per chunk (key range). Each chunk is one statement that scans the entity's log once. */
  chunkSize: number;
  /** PostgreSQL `work_mem` for the check's transactions, so the hash join stays in memory. */
  workMem: string;
  /** Compare every row's columns; trust no tuple header (decision 0057). */
  precise?: boolean;
  onProgress?: (p: ReconcileProgress) => void;
}

export interface StateLogResult {
  findings: Finding[];
  rows: number;
  logEntries: number;
  chunks: number;
}

type Triple = [key: string, rowVersion: number, logVersion: number | null];

/**
 * Every row of an entity whose state its log does not explain, and every log the table does not explain,
 * set-based: one hash join per chunk of rows, index-only scans of the log, and a detail look-up of only the
 * flagged keys (which also drops a key a concurrent change made consistent in the meantime).
 */
export async function checkStateLog(
  rt: EntityRuntime,
  db: Executor,
  o: StateLogOptions,
): Promise<StateLogResult> {
  const { def, config } = rt;
  const d = reconcileDialect(db.dialect);
  const { keyType, columns } = await trackedColumns(rt, db, o);
  const [est] = await db.query<{ n: string | number }>(d.rowEstimate(def));
  const total = Number(est?.n ?? 0);
  const headers = o.precise !== true && (await d.hasHeaders(db, def));
  // Repeatable read: a chunk's statements see one snapshot.
  const inTx = <T>(fn: (tx: Executor) => Promise<T>) =>
    db.transaction(
      async (tx) => {
        await d.prepareCheck(tx, o.workMem);
        return fn(tx);
      },
      { isolation: 'repeatable read' },
    );

  const flagged = new Map<string, Triple[]>();
  let versioned = 0;
  let done = 0;
  let chunks = 0;
  let lo: string | null = null;
  for (;;) {
    // Boundaries only matter for memory and snapshot length, never for what is found: a table the
    // statistics put within one chunk is one chunk, without walking its key index to find the end.
    const ends: { hi: string }[] =
      lo === null && total > 0 && total <= o.chunkSize
        ? []
        : await db.query<{ hi: string }>(d.chunkEnd(def, keyType, lo, o.chunkSize));
    const hi: string | null = ends[0]?.hi ?? null;
    const [rows, counts] = await inTx(
      async (tx) =>
        [
          await tx.query<{ k: string; v: string; lv: string | null }>(
            d.stateChunk(config, def, keyType, columns, lo, hi, headers),
          ),
          await tx.query<{ n: string; versioned: string }>(d.chunkCount(def, keyType, lo, hi)),
        ] as const,
    );
    chunks++;
    versioned += Number(counts[0]!.versioned);
    done += Number(counts[0]!.n);
    for (const r of rows) {
      const t: Triple = [r.k, Number(r.v), r.lv === null ? null : Number(r.lv)];
      const list = flagged.get(t[0]) ?? [];
      list.push(t);
      flagged.set(t[0], list);
    }
    o.onProgress?.({
      entity: def.name,
      phase: 'state',
      done,
      total: Math.max(total, done),
      findings: flagged.size,
    });
    if (hi === null) break;
    lo = hi;
  }

  // The log side: gaps, and whether every key with a log has a row (a count first; the search only if not).
  const { gaps, firstKeys, withoutFirst, entries } = await inTx(async (tx) => {
    const gapRows = await tx.query<{
      key: string | null;
      version: string;
      has_first: boolean;
      without_first: string | null;
    }>(d.gaps(config, def.name));
    const [f] = await tx.query<{ n: string; entries: string }>(d.firstEntries(config, def.name));
    // The last row counts the keys whose chain does not start at entry 1 (gaps, genesis entries).
    const counted = gapRows.find((g) => g.key === null);
    return {
      gaps: gapRows.filter((g): g is typeof g & { key: string } => g.key !== null),
      firstKeys: Number(f!.n),
      withoutFirst: Number(counted?.without_first ?? 0),
      entries: Number(f!.entries),
    };
  });
  const details = await detailsOf(rt, db, keyType, [...flagged.keys()]);
  // Rows with a log: every unflagged row at version >= 1 (its entry at its version exists), corrected by
  // the flagged rows (a flagged row may have no log at all, or be at version 0 with a log ahead of it).
  let rowsWithLog = versioned;
  for (const [, triples] of flagged) {
    const d = details.get(triples[0]![0]);
    const hasLog = d !== undefined && Number(d.entries) > 0;
    const v = triples[0]![1];
    if (v > 0 && !hasLog) rowsWithLog--;
    if (v === 0 && hasLog) rowsWithLog++;
  }
  const gapKeys = [...new Set(gaps.map((g) => g.key))];
  const keysInLog = firstKeys + withoutFirst;
  const orphanKeys: string[] = [];
  if (keysInLog > rowsWithLog) {
    const rows = await inTx((tx) => tx.query<{ key: string }>(d.orphans(config, def, gapKeys)));
    for (const { key } of rows) if (!details.has(key)) orphanKeys.push(key);
    for (const [k, d] of await detailsOf(rt, db, keyType, orphanKeys)) details.set(k, d);
  }
  o.onProgress?.({
    entity: def.name,
    phase: 'log',
    done: entries,
    total: entries,
    findings: flagged.size + orphanKeys.length + gapKeys.length,
  });

  const findings: Finding[] = [];
  for (const key of [...flagged.keys(), ...orphanKeys]) {
    const f = classify(def.name, key, details.get(key), columns);
    if (f) findings.push(f);
  }
  const byKey = new Map<string, number[]>();
  for (const g of gaps) byKey.set(g.key, [...(byKey.get(g.key) ?? []), Number(g.version)]);
  for (const [key, versions] of byKey) {
    findings.push({
      entity: def.name,
      key,
      kind: 'version_gap',
      details: {
        versions,
        message: `entries ${versions.map((v) => `v${v}`).join(', ')} follow a missing entry`,
      },
    });
  }
  return { findings, rows: done, logEntries: entries, chunks };
}

export type { KeyDetails } from './dialect/index.js';

/** The row and the log's last entry of a few keys, 1,000 at a time. */
export async function detailsOf(
  rt: EntityRuntime,
  db: Executor,
  keyType: string,
  keys: readonly string[],
): Promise<Map<string, KeyDetails>> {
  const d = reconcileDialect(db.dialect);
  const out = new Map<string, KeyDetails>();
  for (let i = 0; i < keys.length; i += 1000) {
    const rows = await d.details(rt, db, keyType, keys.slice(i, i + 1000));
    for (const r of rows) out.set(r.key, r);
  }
  return out;
}

/** Names what is wrong with one key from its details; null when it is (now) consistent. */
export function classify(
  entity: string,
  key: string,
  d: KeyDetails | undefined,
  columns: ReadonlyMap<string, string>,
): Finding | null {
  if (!d) return null;
  const rowVersion = d.row_version === null ? null : Number(d.row_version);
  const lastVersion = d.last_version === null ? null : Number(d.last_version);
  const entries = Number(d.entries);
  if (rowVersion === null) {
    if (lastVersion === null || d.last_action === 'delete') return null;
    return {
      entity,
      key,
      kind: 'log_without_row',
      details: {
        entries,
        lastVersion,
        lastAction: d.last_action,
        message: `the row is missing but the log has ${entries} entries (last v${lastVersion}, ${d.last_action})`,
      },
    };
  }
  if (lastVersion === null) {
    if (rowVersion === 0) return null;
    return {
      entity,
      key,
      kind: 'no_log',
      details: { rowVersion, message: `the row is at version ${rowVersion} but the log has no entry` },
    };
  }
  if (lastVersion > rowVersion) {
    return {
      entity,
      key,
      kind: 'log_ahead_of_row',
      details: {
        rowVersion,
        lastVersion,
        message: `the log ends at version ${lastVersion} but the row is at version ${rowVersion}`,
      },
    };
  }
  if (lastVersion < rowVersion) {
    return {
      entity,
      key,
      kind: 'version_ahead_of_log',
      details: {
        rowVersion,
        lastVersion,
        missing: rowVersion - lastVersion,
        message: `the row is at version ${rowVersion} but the log ends at version ${lastVersion}`,
      },
    };
  }
  const row = parseJson<Record<string, unknown>>(d.row_image);
  const after = parseJson<Record<string, unknown> | null>(d.last_after);
  const diff = differingColumns(columns, row, after);
  if (diff.length === 0) return null;
  return {
    entity,
    key,
    kind: 'row_changed_outside_log',
    details: {
      version: rowVersion,
      columns: diff,
      row: Object.fromEntries(diff.map((c) => [c, row[c] ?? null])),
      log: Object.fromEntries(diff.map((c) => [c, after?.[c] ?? null])),
      message: `${diff.join(', ')} changed without a log entry (version ${rowVersion} not bumped)`,
    },
  };
}
