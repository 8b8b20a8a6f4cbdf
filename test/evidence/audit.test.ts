import { describe, expect, it } from 'vitest';
import {
  auditLog,
  type Checkpoint,
  checkpointHash,
  generateSealKey,
  type LogRowLeaf,
  logRowLeafHash,
  MerkleFrontier,
  signCheckpoint,
  toBase64,
  trustedKeys,
} from '../../src/evidence/index.js';

const KEY = generateSealKey();
const TRUSTED = trustedKeys([KEY]);
const SEALED_AT = [5, 12, 20, 33];

/** 40 log rows of 6 entities, each entity's versions in order, as a log in commit order would hold them. */
function logRows(): LogRowLeaf[] {
  const versions = new Map<string, number>();
  return Array.from({ length: 40 }, (_, i) => {
    const key = String((i * 7) % 6);
    const version = (versions.get(key) ?? 0) + 1;
    versions.set(key, version);
    return {
      id: i + 1,
      entity_type: 'account',
      entity_key: key,
      version,
      action: version === 1 ? 'create' : 'update',
      actor: `svc:${i % 3}`,
      after: `{"balance": ${100 + i}, "id": ${key}, "version": ${version}}`,
      before: version === 1 ? null : `{"balance": ${99 + i}, "id": ${key}, "version": ${version - 1}}`,
      changed: ['balance', 'version'],
      at: `2026-12-07T10:00:${String(i).padStart(2, '0')}.000001Z`,
    };
  });
}

/** The checkpoints a sealer would have signed over the honest log, oldest first. */
function seal(rows: LogRowLeaf[], key = KEY): string[] {
  const f = MerkleFrontier.from();
  const notes: string[] = [];
  let prev: Checkpoint | null = null;
  for (const [i, row] of rows.entries()) {
    f.appendLeafHash(logRowLeafHash(row));
    if (!SEALED_AT.includes(i + 1)) continue;
    const cp: Checkpoint = {
      origin: 'tally audit-test',
      treeSize: f.size,
      rootHash: toBase64(f.root()),
      time: new Date(Date.UTC(2026, 11, 7, 11, 0, i)).toISOString(),
      previousCheckpointHash: prev ? checkpointHash(prev) : null,
    };
    notes.push(signCheckpoint(cp, key));
    prev = cp;
  }
  return notes;
}

const leavesOf = (rows: LogRowLeaf[]) => rows.map(logRowLeafHash);

const ROWS = logRows();
const NOTES = seal(ROWS);
const audit = (rows: LogRowLeaf[], notes = NOTES, consecutive = true) =>
  auditLog(leavesOf(rows), notes, TRUSTED, { consecutive });

describe('evidence: auditing a log against its checkpoints finds each tampering of issue 16', () => {
  it('an untouched log matches; rows written after the last checkpoint are counted as unsealed', () => {
    expect(audit(ROWS)).toEqual({ ok: true, sealed: 33, unsealed: 7, checkpoints: 4 });
    // Unsealed rows are not covered: changing one is not seen (the sealing lag is the window).
    const late = ROWS.map((r, i) => (i === 36 ? { ...r, actor: 'svc:mallory' } : r));
    expect(audit(late).ok).toBe(true);
  });

  it('a rewritten row, any field, at any sealed position: ROOT_MISMATCH, bounded to its checkpoint interval', () => {
    const edits: ((r: LogRowLeaf) => LogRowLeaf)[] = [
      (r) => ({ ...r, actor: 'svc:mallory' }),
      (r) => ({ ...r, after: r.after!.replace('"balance": ', '"balance": 1') }),
      (r) => ({ ...r, at: r.at.toString().replace('.000001Z', '.000002Z') }),
      (r) => ({ ...r, version: Number(r.version) + 1 }),
      (r) => ({ ...r, reason: 'backdated' }),
    ];
    for (let p = 0; p < 33; p++) {
      const edit = edits[p % edits.length]!;
      const result = audit(ROWS.map((r, i) => (i === p ? edit(r) : r)));
      expect(result.ok, `row ${p}`).toBe(false);
      if (result.ok) continue;
      expect(result.reason).toBe('ROOT_MISMATCH');
      expect(result.range!.from).toBeLessThanOrEqual(p);
      expect(result.range!.to).toBeGreaterThan(p);
      const at = SEALED_AT.findIndex((s) => s > p);
      expect(result.range).toEqual({ from: at === 0 ? 0 : SEALED_AT[at - 1], to: SEALED_AT[at] });
    }
  });

  it('a deleted middle row, or two rows swapped: ROOT_MISMATCH', () => {
    for (const p of [0, 6, 19, 32]) {
      const rows = ROWS.filter((_, i) => i !== p);
      expect(audit(rows), `deleted ${p}`).toMatchObject({ ok: false, reason: 'ROOT_MISMATCH' });
    }
    for (const p of [0, 11, 31]) {
      const rows = [...ROWS];
      [rows[p], rows[p + 1]] = [rows[p + 1]!, rows[p]!];
      expect(audit(rows), `swapped ${p}`).toMatchObject({ ok: false, reason: 'ROOT_MISMATCH' });
    }
  });

  it("the newest rows deleted — the whole log's, or one entity's — are found", () => {
    // The whole log cut back below the last checkpoint.
    expect(audit(ROWS.slice(0, 30))).toEqual({
      ok: false,
      reason: 'ROWS_MISSING',
      message: 'a checkpoint sealed 33 rows; the log has 30',
      range: { from: 30, to: 33 },
    });
    // One entity's newest sealed rows removed (entity 3's last two before position 33).
    const gone = [...ROWS.keys()].filter((i) => i < 33 && ROWS[i]!.entity_key === '3').slice(-2);
    const rows = ROWS.filter((_, i) => !gone.includes(i));
    expect(audit(rows)).toMatchObject({ ok: false, reason: 'ROOT_MISMATCH' });
  });

  it('a history forged and re-signed without the private key: UNKNOWN_KEY', () => {
    const forged = ROWS.map((r, i) => (i === 3 ? { ...r, actor: 'svc:mallory' } : r));
    expect(audit(forged, seal(forged, generateSealKey()))).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_KEY',
    });
  });

  it('a rollback of the whole database to an older backup: the external checkpoint is ahead of it', () => {
    // The backup holds 20 rows and the checkpoints up to 20, all consistent with each other…
    const backup = ROWS.slice(0, 20);
    expect(audit(backup, NOTES.slice(0, 3))).toMatchObject({ ok: true, sealed: 20 });
    // …but the latest checkpoint kept outside the database sealed 33.
    expect(audit(backup, [NOTES[0]!, NOTES[3]!], false)).toMatchObject({
      ok: false,
      reason: 'ROWS_MISSING',
      range: { from: 20, to: 33 },
    });
  });

  it('checkpoints that do not chain: CHAIN_BROKEN', () => {
    expect(audit(ROWS, [NOTES[0]!, NOTES[2]!])).toMatchObject({ ok: false, reason: 'CHAIN_BROKEN' });
    expect(audit(ROWS, [NOTES[2]!, NOTES[1]!])).toMatchObject({ ok: false, reason: 'CHAIN_BROKEN' });
    expect(audit(ROWS, [NOTES[0]!, NOTES[2]!], false).ok).toBe(true);
  });
});
