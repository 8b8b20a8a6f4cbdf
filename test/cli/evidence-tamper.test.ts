import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { readCheckpointFile } from '../../src/evidence/checkpoint-file.js';
import {
  checkpointHash,
  generateSealKey,
  MerkleFrontier,
  parseCheckpointBody,
  publicKeyPem,
  sealKeyPem,
  signCheckpoint,
  toBase64,
} from '../../src/evidence/index.js';
import { sealedLeafHashes } from '../../src/evidence/sealer.js';
import { natsCheckpointSink } from '../../src/feed/nats/checkpoint-sink.js';
import { createTally } from '../../src/tally.js';
import { deleteStream, NATS_URL, natsAvailable, natsConnection } from '../feed/support/nats.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';
import { runCliInProcess, tempDir } from './run-cli.js';

// Issue 16's list, each through `tally verify` against the external copy: a rewritten row, a deleted
// middle row, the newest rows of one entity and of the whole log deleted, rows reordered, a history
// re-signed without the private key, and the whole database rolled back to an older backup. Each case
// restores the tables from the clean snapshot and tampers with plain SQL (one statement batch), then runs
// the command. On PGlite every open of the directory boots the database (seconds on a loaded machine) and
// the CLI must find it closed, so the set-up does its work in as few opens as it can.

interface Target {
  args: string[];
  exec(sql: string): Promise<void>;
  withDb<T>(fn: (db: Executor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const TABLES = ['log', 'seal_leaves', 'seal_state', 'checkpoints'];

async function pgliteTarget(dir: string): Promise<Target> {
  const data = join(dir, 'data');
  const withDb = async <T>(fn: (db: Executor) => Promise<T>): Promise<T> => {
    const d = await pglite(data);
    try {
      return await fn(d);
    } finally {
      await d.close();
    }
  };
  return {
    args: ['--data-dir', data],
    exec: (sql) => withDb((d) => d.exec(sql)),
    withDb,
    close: async () => {},
  };
}

async function postgresTarget(): Promise<Target> {
  const t: TestDatabase = await freshPostgres(2);
  return {
    args: ['--database-url', t.url!],
    exec: (sql) => t.db.exec(sql),
    withDb: (fn) => fn(t.db),
    close: () => t.close(),
  };
}

const targets = [
  { name: 'pglite', available: true, make: pgliteTarget },
  { name: 'postgres', available: postgresAvailable, make: () => postgresTarget() },
];

for (const target of targets) {
  describe.skipIf(!target.available)(
    `tally verify against the external copy finds each tampering [${target.name}]`,
    () => {
      const dir = tempDir('tally-tamper-');
      const pem = join(dir, 'seal.pem');
      const pub = join(dir, 'seal.pub');
      const cps = join(dir, 'checkpoints.txt');
      const subject = `tally.test.checkpoints.${target.name}${Date.now()}`;
      const stream = `T_CP_${target.name}_${Date.now()}`;
      const key = generateSealKey();
      let t: Target;
      let firstSize = 0;
      const tally = (...args: string[]) => runCliInProcess([...args, ...t.args]);
      const verify = (...extra: string[]) => tally('verify', '--key', pub, '--sink', `file:${cps}`, ...extra);
      const snapshotSql = (name: string, tables: string[]) => `CREATE SCHEMA ${name};
        ${tables.map((x) => `CREATE TABLE ${name}.${x.split('.').pop()} AS SELECT * FROM ${x};`).join('\n')}`;
      const restoreSql = (name: string, tables: string[]) => `TRUNCATE ${tables.join(', ')};
        ${tables.map((x) => `INSERT INTO ${x} OVERRIDING SYSTEM VALUE SELECT * FROM ${name}.${x.split('.').pop()};`).join('\n')}`;
      const sealTables = TABLES.map((x) => `tally.${x}`);
      // Every case starts from the clean snapshot (whatever the case before it left), in the same open as its tampering.
      const restoreClean = restoreSql('clean', sealTables);

      // One application write through a Tally of its own, on an open database.
      async function write(
        d: Executor,
        fn: (r: ReturnType<Awaited<ReturnType<typeof createTally>>['entity']>) => Promise<unknown>,
      ) {
        const tl = await createTally({ db: d });
        await fn(tl.entity('resource', { table: 'resources', states: RESOURCE_STATES }));
      }

      beforeAll(async () => {
        t = await target.make(dir);
        writeFileSync(pem, sealKeyPem(key));
        writeFileSync(pub, publicKeyPem(key));
        await t.withDb(async (d) => {
          const tl = await createTally({ db: d });
          await tl.migrate();
          await d.exec(
            `CREATE TABLE resources (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0)`,
          );
          await write(d, (r) =>
            r.create({ rows: [1, 2, 3, 4].map((id) => ({ id, state: 'active' })), actor: 'seed' }),
          );
          await write(d, (r) => r.transition({ keys: [1, 2], to: 'frozen', actor: 'ops:alice' }));
        });
        expect((await tally('seal', '--key-file', pem, '--out', cps)).code).toBe(0);
        firstSize = 6;
        await t.withDb(async (d) => {
          // The backup a rollback restores: every table of the schema and the application's, at 6 sealed rows.
          const all = await d.query<{ t: string }>({
            text: `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
                  WHERE table_schema = 'tally' AND table_type = 'BASE TABLE' ORDER BY 1`,
          });
          await d.exec(snapshotSql('backup', [...all.map((r) => r.t), 'public.resources']));
          await write(d, (r) =>
            r.transition({ keys: [3, 4], to: 'frozen', actor: 'ops:bob', reason: 'sweep' }),
          );
          await write(d, (r) => r.transition({ keys: [1], to: 'active', actor: 'ops:dave' }));
          await write(d, (r) => r.transition({ keys: [2], to: 'active', actor: 'ops:dave' }));
        });
        const sealed = await tally('seal', '--key-file', pem, '--out', cps);
        expect(sealed.stdout).toMatch(/tree size 10/);
        await t.exec(snapshotSql('clean', sealTables));
        const clean = await verify();
        expect([clean.code, clean.stderr]).toEqual([0, '']);
        expect(clean.stdout).toContain('10 sealed rows match 2 checkpoints');
        // Many PGlite opens on one directory: 60 s ran out once on a loaded CI machine.
      }, 240_000);
      afterAll(async () => {
        await t?.close();
        if (natsAvailable) {
          const nc = await natsConnection();
          await deleteStream(nc, stream);
          await nc.close();
        }
      });

      const cases: [string, (s: string) => string, string, RegExp?][] = [
        [
          'a rewritten row (the after image of a middle row)',
          (s) =>
            `UPDATE ${s}.log SET after = after || '{"state": "retired"}' WHERE entity_key = '3' AND version = 2`,
          'ROOT_MISMATCH',
          /tree positions 6 to 9/,
        ],
        [
          'a deleted middle row',
          (s) => `DELETE FROM ${s}.log WHERE entity_key = '2' AND version = 1`,
          'ROOT_MISMATCH',
          /tree positions 0 to 5/,
        ],
        [
          "one entity's newest row deleted",
          (s) => `DELETE FROM ${s}.log WHERE entity_key = '1' AND version = 3`,
          'ROOT_MISMATCH',
          /tree positions 6 to 9/,
        ],
        [
          "the whole log's newest rows deleted, with their tree positions and the stored checkpoint",
          (s) => `DELETE FROM ${s}.log WHERE id IN (SELECT log_id FROM ${s}.seal_leaves WHERE position >= 8);
                DELETE FROM ${s}.seal_leaves WHERE position >= 8; DELETE FROM ${s}.checkpoints WHERE tree_size = 10`,
          'ROWS_MISSING',
          /sealed 10 rows; the log has 8/,
        ],
        [
          'two rows reordered (their tree positions swapped)',
          (s) => `UPDATE ${s}.seal_leaves SET position = 1000 WHERE position = 7;
                UPDATE ${s}.seal_leaves SET position = 7 WHERE position = 8;
                UPDATE ${s}.seal_leaves SET position = 8 WHERE position = 1000;`,
          'ROOT_MISMATCH',
          /tree positions 6 to 9/,
        ],
        [
          'two rows reordered (their contents swapped, ids kept)',
          (s) => `UPDATE ${s}.log a SET actor = b.actor FROM ${s}.log b
                 WHERE a.entity_key = '3' AND a.version = 2 AND b.entity_key = '1' AND b.version = 3
                    OR a.entity_key = '1' AND a.version = 3 AND b.entity_key = '3' AND b.version = 2`,
          'ROOT_MISMATCH',
        ],
      ];

      for (const [what, tamper, code, message] of cases) {
        it(`${what}: ${code}`, async () => {
          await t.exec(`${restoreClean}\n${tamper('tally')}`);
          const r = await verify();
          expect(r.code, r.stdout).toBe(1);
          expect(r.stderr).toMatch(new RegExp(`^error ${code}: `));
          if (message) expect(r.stderr).toMatch(message);
        });
      }

      it('restored from the snapshot after the cases, the log verifies clean again', async () => {
        await t.exec(restoreClean);
        expect((await verify()).code).toBe(0);
      });

      it('a history re-signed without the private key (rows rewritten, every root recomputed): UNKNOWN_KEY', async () => {
        const mallory = generateSealKey();
        // The forger recomputes each checkpoint's root over the rewritten rows and chains them: only the key differs.
        await t.withDb(async (d) => {
          await d.exec(
            `${restoreClean}\nUPDATE tally.log SET actor = 'ops:mallory' WHERE entity_key = '2' AND version = 2`,
          );
          const notes = await d.query<{ note: string; tree_size: string }>({
            // ORDER BY the column: as text, '10' sorts before '6'.
            text: `SELECT c.note, c.tree_size::text AS tree_size FROM tally.checkpoints c ORDER BY c.tree_size`,
          });
          const leaves = await sealedLeafHashes(d, 'tally', 'tally tally', 10);
          let prev: string | null = null;
          for (const n of notes) {
            const body = parseCheckpointBody(n.note.slice(0, n.note.indexOf('\n\n') + 1));
            const tree = MerkleFrontier.from();
            for (const h of leaves.slice(0, body.treeSize)) tree.appendLeafHash(h);
            const forged = { ...body, rootHash: toBase64(tree.root()), previousCheckpointHash: prev };
            prev = checkpointHash(forged);
            await d.query({
              text: `UPDATE tally.checkpoints SET note = $1, root_hash = $2 WHERE tree_size = $3`,
              values: [signCheckpoint(forged, mallory), forged.rootHash, n.tree_size],
            });
          }
        });
        const inside = await tally('verify', '--key', pub);
        expect([inside.code, inside.stderr]).toEqual([1, expect.stringMatching(/^error UNKNOWN_KEY: /)]);
        // Trusting the forger's key too does not help: the external copy, signed by ours, disagrees.
        const malloryPub = join(dir, 'mallory.pub');
        writeFileSync(malloryPub, publicKeyPem(mallory));
        const both = await verify('--key', malloryPub);
        expect([both.code, both.stderr]).toEqual([1, expect.stringMatching(/^error ROOT_MISMATCH: /)]);
      });

      it('the whole database rolled back to an older backup: clean inside, ROWS_MISSING against the external copy, and a fork once it goes on', async () => {
        const latest = readCheckpointFile(readFileSync(cps, 'utf8')).at(-1)!;
        const sinkArgs: string[] = [];
        if (natsAvailable) {
          // The external copy on a JetStream subject too, read back by tally verify --sink nats:SUBJECT.
          const sink = natsCheckpointSink({ servers: NATS_URL, subject, stream });
          try {
            await sink.publish(latest);
            await sink.publish(latest); // a repeat is dropped (same message id)
            expect(await sink.latest()).toBe(latest);
          } finally {
            await sink.close?.();
          }
          sinkArgs.push('--sink', `nats:${subject}`, '--nats', NATS_URL);
        }
        // Every table of the backup over its original (the whole database, not only the seal's tables).
        await t.withDb(async (d) => {
          const all = await d.query<{ t: string }>({
            text: `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
                  WHERE table_schema = 'backup' ORDER BY 1`,
          });
          await d.exec(
            restoreSql(
              'backup',
              all.map((r) =>
                r.t === 'backup.resources' ? 'public.resources' : r.t.replace(/^backup\./, 'tally.'),
              ),
            ),
          );
        });
        const inside = await tally('verify', '--key', pub);
        expect([inside.code, inside.stdout]).toEqual([
          0,
          expect.stringContaining(`${firstSize} sealed rows match 1 checkpoint`),
        ]);
        for (const external of [['--sink', `file:${cps}`], ...(sinkArgs.length ? [sinkArgs] : [])]) {
          const r = await tally('verify', '--key', pub, ...external);
          expect([r.code, r.stderr], external.join(' ')).toEqual([
            1,
            expect.stringMatching(
              /^error ROWS_MISSING: tally tally: a checkpoint sealed 10 rows; the log has 6/,
            ),
          ]);
        }
        // The restored database goes on: new rows, sealed again. Its tree is no longer the one the copy signed.
        await t.withDb(async (d) => {
          for (const [key, to] of [
            [2, 'active'],
            [4, 'frozen'],
            [3, 'frozen'],
            [1, 'active'],
          ] as const) {
            await write(d, (r) => r.transition({ keys: [key], to, actor: 'ops:carol' }));
          }
        });
        expect((await tally('seal', '--key-file', pem)).stdout).toMatch(/tree size 10/);
        const forked = await tally('verify', '--key', pub, '--checkpoint', cps);
        expect([forked.code, forked.stderr]).toEqual([
          1,
          expect.stringMatching(/^error ROOT_MISMATCH: .*tree positions 6 to 9.*rolled back and went on/),
        ]);
      });
    },
  );
}
