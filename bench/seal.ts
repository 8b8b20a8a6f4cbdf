// `npm run bench -- seal`: what sealing costs in CPU, without a database — encoding log rows as leaves,
// hashing them, appending them to the frontier, signing a checkpoint, and building and checking proofs.
// Rows are shaped like the batch benchmark's transitions (before image as the changed fields). Then the
// database side: the seal lag (bench/seal-lag.ts) — a writer runs batch transitions as fast as it can
// (the batch benchmark's rate) in a dedicated PostgreSQL database `tally_bench_seal` (DATABASE_URL, else
// the local server; PGlite in memory when none answers) while a sealer runs every SEAL_INTERVAL_MS.
import { loadavg } from 'node:os';
import pg from 'pg';
import { pglite } from '../src/db/pglite/index.js';
import { postgres } from '../src/db/postgres/index.js';
import type { Executor } from '../src/db/types.js';
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
import { createTally } from '../src/tally.js';
import { dedicatedDatabase } from './_shared.js';
import { measureSealLag } from './seal-lag.js';

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
// The seal lag at the batch benchmark's rate.
const LAG_BATCH = Number(process.env.SEAL_LAG_BATCH ?? 10_000);
const LAG_BATCHES = Number(process.env.SEAL_LAG_BATCHES ?? 10);
const INTERVAL_MS = Number(process.env.SEAL_INTERVAL_MS ?? 1000);
let dbLabel = 'PostgreSQL';
let db: Executor;
let cleanup: () => Promise<void>;
try {
  const dedicated = await dedicatedDatabase('tally_bench_seal');
  const pool = new pg.Pool({ connectionString: dedicated.url, max: 4 });
  db = postgres(pool);
  cleanup = async () => {
    await pool.end();
    await dedicated.drop();
  };
} catch {
  dbLabel = 'PGlite (no PostgreSQL answered)';
  const lite = await pglite();
  db = lite;
  cleanup = () => lite.close();
}
const lag = await (async () => {
  try {
    await db.exec(`CREATE TABLE accounts (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0,
      owner text, amount numeric(12, 2) NOT NULL DEFAULT 0);
      INSERT INTO accounts (id, state, owner, amount)
        SELECT g, 'active', 'team-' || (g % 50), g FROM generate_series(1, ${LAG_BATCH * LAG_BATCHES}) g;`);
    const tally = await createTally({ db });
    await tally.migrate();
    const accounts = tally.entity('account', {
      table: 'accounts',
      states: { active: ['frozen'], frozen: ['active'] },
    });
    let writeS = 0;
    const writer = async () => {
      const t0 = performance.now();
      for (let b = 0; b < LAG_BATCHES; b++) {
        const keys = Array.from({ length: LAG_BATCH }, (_, i) => b * LAG_BATCH + i + 1);
        await accounts.transition({ keys, to: 'frozen', actor: 'ops:batch' });
      }
      writeS = (performance.now() - t0) / 1000;
    };
    const measured = await measureSealLag(tally, writer, { intervalMs: INTERVAL_MS });
    return { ...measured, writeS };
  } finally {
    await cleanup();
  }
})();
const lagRows = LAG_BATCH * LAG_BATCHES;
console.log(
  `seal lag   ${lag.maxS.toFixed(2)} s at most (mean ${lag.meanS.toFixed(2)} s; caught up ${lag.catchUpS.toFixed(2)} s after the last commit) — ${lagRows} transitions in ${lag.writeS.toFixed(2)} s (${Math.round(lagRows / lag.writeS)} rows/s) on ${dbLabel}, sealer every ${INTERVAL_MS} ms: ${lag.rounds} rounds`,
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
    seal_lag_rows_per_s: Math.round(lagRows / lag.writeS),
    seal_interval_ms: INTERVAL_MS,
    seal_catch_up_s: Number(lag.catchUpS.toFixed(3)),
    load: Number(loadavg()[0]!.toFixed(2)),
    seal_lag_s: Number(lag.maxS.toFixed(3)),
  }),
);
