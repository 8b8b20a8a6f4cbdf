import { ADOPT_ACTION } from '../changes/adopt-sql.js';
import type { Executor } from '../db/types.js';
import { FailingEntries, type FailingEntry } from './chain.js';
import { chainKeySql, keyVersionsSql } from './chain-sql.js';
import { reconcileDialect, requireReconcileCapability } from './dialect/index.js';
import type { Finding } from './types.js';

/** One entity's log, checked against itself. */
export interface KeyChain {
  /** Entries in the log for this key. */
  readonly entries: number;
  readonly firstVersion: number | null;
  readonly latestVersion: number | null;
  /** Each entry's log id and version, in version order (what the sealed check looks up). */
  readonly versions: readonly { readonly id: string; readonly version: number }[];
  /** `version_gap`, `hash_mismatch`, `broken_link`, `broken_image`: as the reconciler reports them. */
  readonly findings: readonly Finding[];
}

/**
 * The reconciler's chain check for one entity (type and key as the log stores them), from its log alone,
 * so it needs no entity declaration: versions contiguous from 1 (or from an `adopt` entry, as the
 * state <-> log check counts gaps), every before image equal to the previous entry's after image, and the
 * legacy hashes and links (decision 0065). Two reads on the log's (entity_type, entity_key, version)
 * index. The sealed tree's part is the evidence module's (`checkSealedEntries`).
 *
 * @example
 * const chain = await checkKeyChain(db, '"tally"', 'account', 'u1');
 * if (chain.findings.length) console.log(chain.findings.map((f) => f.details.message));
 */
export async function checkKeyChain(
  db: Executor,
  s: string,
  entityType: string,
  key: string,
): Promise<KeyChain> {
  requireReconcileCapability(reconcileDialect(db.dialect), 'keyChain', 'checkKeyChain');
  const rows = await db.query<{ id: string; version: string; action: string }>(
    keyVersionsSql(s, entityType, key),
  );
  const versions = rows.map((r) => ({ id: String(r.id), version: Number(r.version) }));
  const failing = new FailingEntries();
  failing.add(await db.query<FailingEntry>(chainKeySql(s, entityType, key)));
  const findings: Finding[] = [];
  const gaps: number[] = [];
  rows.forEach((r, i) => {
    const v = Number(r.version);
    const prev = i > 0 ? Number(rows[i - 1]!.version) : 0;
    if (v > 1 && prev !== v - 1 && r.action !== ADOPT_ACTION) gaps.push(v);
  });
  if (gaps.length) {
    findings.push({
      entity: entityType,
      key,
      kind: 'version_gap',
      details: {
        versions: gaps,
        message: `entries ${gaps.map((v) => `v${v}`).join(', ')} follow a missing entry`,
      },
    });
  }
  findings.push(...failing.findings(entityType));
  return {
    entries: versions.length,
    firstVersion: versions[0]?.version ?? null,
    latestVersion: versions[versions.length - 1]?.version ?? null,
    versions,
    findings,
  };
}
