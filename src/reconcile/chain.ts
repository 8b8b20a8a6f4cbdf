import type { EntityRuntime } from '../changes/apply.js';
import type { Executor } from '../db/types.js';
import { type FailingEntry, reconcileDialect } from './dialect/index.js';
import type { Finding, FindingKind, ReconcileProgress } from './types.js';

export interface ChainOptions {
  /** Log entries per chunk (an id range). */
  chunkSize: number;
  onProgress?: (p: ReconcileProgress) => void;
}

/**
 * Verifies each log of an entity type against itself, set-based: one statement per id range checks every
 * entry's before image against the previous entry's after image and, for entries written before
 * migration 10 (the per-entity hash chain left the write path then, decision 0065), recomputes the hash
 * and checks the link; new entries carry no hash, and a stripped legacy hash is reported as edited. A
 * deleted middle entry leaves the gap the state <-> log check names (and breaks a legacy link); deleted
 * last entries leave the row's version ahead of the log (`version_ahead_of_log`). A rewrite of a sealed
 * entry is the sealed tree's to find (`tally verify`).
 * Several failures of one entity become one finding per kind, listing the versions.
 *
 * @example
 * const { findings } = await verifyChains(resources.runtime, db, { chunkSize: 100_000 });
 */
export async function verifyChains(
  rt: EntityRuntime,
  db: Executor,
  o: ChainOptions,
): Promise<{ findings: Finding[]; entries: number; chunks: number }> {
  const { def, config } = rt;
  const d = reconcileDialect(db.dialect);
  const [range] = await db.query<{ lo: string | null; hi: string | null; n: string }>(
    d.logIdRange(config, def.name),
  );
  const entries = Number(range?.n ?? 0);
  if (range?.lo === null || range?.lo === undefined) return { findings: [], entries: 0, chunks: 0 };
  const lo = Number(range.lo);
  const hi = Number(range.hi);
  const failing = new FailingEntries();
  let chunks = 0;
  let done = 0;
  for (let from = lo; from <= hi; from += o.chunkSize) {
    const to = Math.min(hi, from + o.chunkSize - 1);
    failing.add(await d.failingEntries(db, config, def.name, from, to));
    chunks++;
    // Ids are sparse per entity type; progress is the share of the id range covered.
    done = Math.round((entries * (to - lo + 1)) / (hi - lo + 1));
    o.onProgress?.({ entity: def.name, phase: 'chain', done, total: entries, findings: failing.size });
  }
  return { findings: failing.findings(def.name), entries, chunks };
}

export type { FailingEntry } from './dialect/index.js';

const WHAT: Readonly<Record<string, string>> = {
  hash_mismatch: 'hash does not match the entry (edited)',
  broken_link: "does not link to the previous entry's hash",
  broken_image: "before image differs from the previous entry's after image",
};

/** The failing entries of a chain check, one finding per key and kind listing the versions. */
export class FailingEntries {
  readonly #byKind = new Map<string, number[]>();

  get size(): number {
    return this.#byKind.size;
  }

  add(rows: readonly FailingEntry[]): void {
    for (const r of rows) {
      const add = (kind: FindingKind) => {
        const id = `${kind}\u0000${r.key}`;
        this.#byKind.set(id, [...(this.#byKind.get(id) ?? []), Number(r.version)]);
      };
      if (r.bad_hash) add('hash_mismatch');
      if (r.bad_link) add('broken_link');
      if (r.bad_image) add('broken_image');
    }
  }

  findings(entity: string): Finding[] {
    const findings: Finding[] = [];
    for (const [id, versions] of this.#byKind) {
      const [kind, key] = id.split('\u0000') as [FindingKind, string];
      versions.sort((a, b) => a - b);
      findings.push({
        entity,
        key,
        kind,
        details: { versions, message: `${versions.map((v) => `v${v}`).join(', ')}: ${WHAT[kind]}` },
      });
    }
    return findings;
  }
}
