// `npm run bench -- seal`: what sealing costs in CPU, without a database — encoding log rows as leaves,
// hashing them, appending them to the frontier, signing a checkpoint, and building and checking proofs.
// Rows are shaped like the batch benchmark's transitions (before image as the changed fields). The
// database side (reading the rows in commit order) is not here: the sealer that does it comes next.
import { loadavg } from 'node:os';
import {
  encodeLogRow,
  generateSealKey,
  inclusionBundle,
  type LogRowLeaf,
  leafHash,
  logRowLeafHash,
  MerkleFrontier,
  publicKeyPem,
  signCheckpoint,
  toBase64,
  verifyProof,
} from '../src/evidence/index.js';

const N = Number(process.env.SEAL_ROWS ?? 100_000);
const best = <T>(rounds: number, fn: () => T): { s: number; value: T } => {
  let s = Number.POSITIVE_INFINITY;
  let value!: T;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    value = fn();
    s = Math.min(s, (performance.now() - t0) / 1000);
  }
  return { s, value };
};

const rows: LogRowLeaf[] = Array.from({ length: N }, (_, i) => ({
  id: 1_000_000 + i,
  entity_type: 'resource',
  entity_key: String(i),
  version: 7,
  action: 'transition',
  actor: 'ops:batch',
  reason: 'freeze for audit',
  request_id: 'req-batch-1',
  before: '{"state": "active", "version": 6}',
  after: `{"id": ${i}, "name": "resource ${i}", "owner": "team-${i % 50}", "state": "frozen", "region": "eu", "version": 7}`,
  before_delta: true,
  changed: ['state', 'version'],
  at: '2026-12-07T09:00:00.123456Z',
}));

const encode = best(3, () => rows.map(encodeLogRow));
const leaves = encode.value;
const hash = best(3, () => leaves.map(leafHash));
const hashes = hash.value;
const rowHash = best(3, () => rows.map(logRowLeafHash));
const append = best(3, () => {
  const f = MerkleFrontier.from();
  for (const h of hashes) f.appendLeafHash(h);
  return f;
});
const key = generateSealKey();
const tree = append.value;
const sign = best(20, () =>
  signCheckpoint(
    {
      origin: 'tally bench',
      treeSize: tree.size,
      rootHash: toBase64(tree.root()),
      time: '2026-12-07T09:00:01.000Z',
      previousCheckpointHash: null,
    },
    key,
  ),
);
const proof = best(3, () =>
  inclusionBundle(hashes, sign.value, Math.floor(N / 3), { row: rows[Math.floor(N / 3)]! }),
);
const trustedKeys = [publicKeyPem(key)];
const verify = best(20, () => verifyProof(proof.value, { trustedKeys }));
if (!verify.value.ok) throw new Error(`the bench's own proof failed: ${verify.value.message}`);

const perS = (s: number) => Math.round(N / s);
const encodeHashAppendS = rowHash.s + append.s;
console.log(`rows: ${N}, best of 3 (sign and verify: best of 20); load ${loadavg()[0]!.toFixed(1)}`);
console.log(
  `encode     ${encode.s.toFixed(3)} s  ${perS(encode.s)} rows/s  (${leaves[0]!.length} bytes a row)`,
);
console.log(`leaf hash  ${hash.s.toFixed(3)} s  ${perS(hash.s)} rows/s`);
console.log(
  `row→hash   ${rowHash.s.toFixed(3)} s  ${perS(rowHash.s)} rows/s  (logRowLeafHash: encode and hash in one buffer)`,
);
console.log(`append     ${append.s.toFixed(3)} s  ${perS(append.s)} rows/s  (frontier + node hashes)`);
console.log(
  `together   ${encodeHashAppendS.toFixed(3)} s  ${perS(encodeHashAppendS)} rows/s on one core (row→hash + append)`,
);
console.log(`sign       ${(sign.s * 1000).toFixed(2)} ms a checkpoint`);
console.log(
  `proof      ${(proof.s * 1000).toFixed(1)} ms to build one inclusion proof from ${N} leaf hashes (O(n))`,
);
console.log(
  `verify     ${(verify.s * 1000).toFixed(2)} ms to check it offline (signature + ${proof.value.path.length} hashes)`,
);
console.log(
  JSON.stringify({
    rows: N,
    encode_rows_per_s: perS(encode.s),
    leaf_hash_rows_per_s: perS(hash.s),
    row_leaf_hash_rows_per_s: perS(rowHash.s),
    append_rows_per_s: perS(append.s),
    seal_cpu_rows_per_s: perS(encodeHashAppendS),
    sign_ms: Number((sign.s * 1000).toFixed(3)),
    proof_build_ms: Number((proof.s * 1000).toFixed(1)),
    proof_verify_ms: Number((verify.s * 1000).toFixed(3)),
    load: Number(loadavg()[0]!.toFixed(2)),
  }),
);
