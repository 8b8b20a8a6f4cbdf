import type { Executor } from '../../../db/types.js';
import { checkSealedEntries, type SealedState } from '../../../evidence/entries.js';
import { checkKeyChain } from '../../../reconcile/key-chain.js';
import { ConsoleError } from '../problem.js';

/**
 * GET /api/entities/:type/:key/chain: the chain check of one entity, from the log alone (no declaration
 * needed, so `tally serve` answers it): the reconciler's per-key chain check (versions contiguous, before
 * images, legacy hashes) and the evidence module's check of its sealed entries. Reads only.
 *
 * @example
 * const chain = await entityChain(db, '"tally"', 'account', 'u1', new Date());
 */
export async function entityChain(db: Executor, s: string, type: string, key: string, now: Date) {
  if (type.length === 0 || type.length > 200 || key.length === 0 || key.length > 1000) {
    throw new ConsoleError('INVALID_QUERY', 'the entity type and key must be 1-200 and 1-1000 characters', {
      param: 'path',
    });
  }
  const t0 = performance.now();
  const chain = await checkKeyChain(db, s, type, key);
  if (chain.entries === 0)
    throw new ConsoleError('ENTITY_NOT_FOUND', 'the log holds no entry for this entity');
  const sealed = await checkSealedEntries(
    db,
    s,
    chain.versions.map((v) => v.id),
  );
  // An entry's verdict over every tree it is in: changed anywhere wins, then sealed, then unverified.
  const rank: Record<SealedState, number> = { changed: 3, sealed: 2, unverified: 1, unsealed: 0 };
  const byId = new Map<string, { state: SealedState; origin: string; position: number }>();
  for (const e of sealed) {
    const had = byId.get(e.logId);
    if (!had || rank[e.state] > rank[had.state]) byId.set(e.logId, e);
  }
  const counts = { sealed: 0, unverified: 0, unsealed: 0 };
  const changed: { version: number; origin: string; position: number }[] = [];
  for (const v of chain.versions) {
    const e = byId.get(v.id);
    if (e?.state === 'changed') changed.push({ version: v.version, origin: e.origin, position: e.position });
    else counts[e?.state ?? 'unsealed']++;
  }
  const origins = new Map(sealed.map((e) => [e.origin, e.treeSize]));
  return {
    type,
    key,
    ok: chain.findings.length === 0 && changed.length === 0,
    at: now.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    entries: chain.entries,
    firstVersion: chain.firstVersion,
    latestVersion: chain.latestVersion,
    findings: chain.findings.map((f) => ({
      kind: f.kind,
      versions: (f.details.versions as number[] | undefined) ?? [],
      message: String(f.details.message ?? ''),
    })),
    sealed: {
      origins: [...origins].map(([origin, treeSize]) => ({ origin, treeSize })),
      ...counts,
      changed,
    },
  };
}
