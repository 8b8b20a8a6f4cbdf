import type { Executor } from '../db/types.js';
import { parseCheckpointBody } from './checkpoint.js';
import { CHUNK, chunkedInclusionPath, rootOfLeaves } from './chunks.js';
import { positionsOfSql } from './entries-sql.js';
import { fromBase64, HASH_SIZE, toBase64 } from './hash.js';
import { verifyInclusion } from './rfc9162.js';
import { sealedLeafHashesBetween } from './sealer.js';
import { chunkRootsSql, latestCheckpointSql } from './sql.js';

/**
 * A log row against the latest checkpoint of a sealed tree it is in:
 * - `sealed`: it hashes, with its chunk, to what was sealed;
 * - `changed`: its chunk of 1,024 leaves no longer hashes to the sealed root: this row or another of the
 *   same chunk was changed or removed since it was sealed (`tally verify` names the range);
 * - `unsealed`: appended to the tree after the latest checkpoint (seal again);
 * - `unverified`: not checked here (the tree was sealed before chunk roots were stored, or the limit of
 *   chunks a call reads was reached): `tally verify` checks it.
 */
export type SealedState = 'sealed' | 'changed' | 'unsealed' | 'unverified';

export interface SealedEntry {
  readonly logId: string;
  readonly origin: string;
  readonly position: number;
  readonly treeSize: number;
  readonly state: SealedState;
}

export interface SealedEntriesOptions {
  /** Chunks of 1,024 leaves read per origin (default 16); entries in others are `unverified`. */
  maxChunks?: number;
}

/**
 * Checks given log rows against the sealed trees they are in (decision 0060/0063), as far as the
 * database can: each row's chunk is recomputed from the log and compared with the chunk root the sealer
 * stored, and a row of the last, partial chunk is proven (chunk path + stored chunk roots) against the
 * latest checkpoint's root. The checkpoint's signature is not checked here (it needs the public key:
 * `tally verify`). Reads at most `maxChunks` chunks per origin. Rows in no tree are not listed.
 *
 * @example
 * const entries = await checkSealedEntries(db, '"tally"', ['41', '97']);
 * const changed = entries.filter((e) => e.state === 'changed');
 */
export async function checkSealedEntries(
  db: Executor,
  s: string,
  logIds: readonly string[],
  options: SealedEntriesOptions = {},
): Promise<SealedEntry[]> {
  if (logIds.length === 0) return [];
  const maxChunks = options.maxChunks ?? 16;
  const byOrigin = new Map<string, { logId: string; position: number }[]>();
  for (const r of await db.query<{ origin: string; log_id: string; position: string }>(
    positionsOfSql(s, logIds),
  )) {
    const list = byOrigin.get(r.origin) ?? [];
    list.push({ logId: String(r.log_id), position: Number(r.position) });
    byOrigin.set(r.origin, list);
  }
  const out: SealedEntry[] = [];
  for (const [origin, rows] of byOrigin) {
    const [latest] = await db.query<{ note: string }>(latestCheckpointSql(s, origin));
    const cp = latest ? parseCheckpointBody(latest.note.slice(0, latest.note.indexOf('\n\n') + 1)) : null;
    const size = cp?.treeSize ?? 0;
    const root = cp ? fromBase64(cp.rootHash, HASH_SIZE) : undefined;
    const complete = Math.floor(size / CHUNK);
    const stored = complete > 0 ? await db.query<{ root: string }>(chunkRootsSql(s, origin, complete)) : [];
    const roots = stored.length === complete ? stored.map((r) => r.root) : null;
    const verdicts = new Map<number, (position: number) => SealedState>();
    const chunkOf = async (c: number): Promise<(position: number) => SealedState> => {
      const own = await sealedLeafHashesBetween(db, s, origin, c * CHUNK, Math.min(size, (c + 1) * CHUNK));
      if (c < complete) {
        // A complete chunk: its leaves, recomputed from the log, against the root the sealer stored.
        const same = toBase64(rootOfLeaves(own)) === roots![c];
        return () => (same ? 'sealed' : 'changed');
      }
      // The last, partial chunk: the row's path inside it and the stored roots, to the signed root.
      const tops = [...roots!.map((r) => fromBase64(r, HASH_SIZE)!), rootOfLeaves(own)];
      return (position) => {
        try {
          const path = chunkedInclusionPath(own, tops, position, size);
          const leaf = own[position - c * CHUNK]!;
          return verifyInclusion(position, size, leaf, path, root!) === 'ok' ? 'sealed' : 'changed';
        } catch {
          return 'changed';
        }
      };
    };
    for (const { logId, position } of rows) {
      let state: SealedState;
      if (!cp || position >= size) state = 'unsealed';
      else if (!roots || !root || roots.some((r) => !fromBase64(r, HASH_SIZE))) state = 'unverified';
      else {
        const c = Math.floor(position / CHUNK);
        let verdict = verdicts.get(c);
        if (!verdict && verdicts.size < maxChunks) {
          verdict = await chunkOf(c);
          verdicts.set(c, verdict);
        }
        state = verdict ? verdict(position) : 'unverified';
      }
      out.push({ logId, origin, position, treeSize: size, state });
    }
  }
  return out;
}
