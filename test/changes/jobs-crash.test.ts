import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { isTallyError } from '../../src/errors.js';
import { dialects, freshPostgres } from '../support/databases.js';
import { runUntilKilled } from '../support/kill-child.js';
import { range, scalar, seedResources, tallyOn } from './fixtures/jobs-support.js';

const RUNNER = fileURLToPath(new URL('./fixtures/job-crash-runner.ts', import.meta.url));
const LEASE_MS = 60_000;
const ROWS = 3000;
const KILL_AFTER_CHUNKS = 5;

/** Each updated row sleeps 1 ms inside the chunk's transaction, so the kill lands mid-chunk. */
const SLOW_TRIGGER = `
  CREATE FUNCTION slow_update() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$;
  CREATE TRIGGER slow_update BEFORE UPDATE ON resources FOR EACH ROW EXECUTE FUNCTION slow_update();`;

/** Starts the runner and SIGKILLs it once it reports `KILL_AFTER_CHUNKS` committed chunks. */
async function runAndKill(cfg: object) {
  let seen = 0;
  const ended = await runUntilKilled(RUNNER, cfg, (msg) => {
    seen = Math.max(seen, (msg as { chunksDone?: number }).chunksDone ?? 0);
    return seen >= KILL_AFTER_CHUNKS;
  });
  return { ...ended, seen };
}

async function seed(db: Executor) {
  await seedResources(db, ROWS, { frozen: range(1, 50), retired: range(51, 80) });
  await db.exec(SLOW_TRIGGER);
  const { resources } = await tallyOn(db);
  // 3,030 items in 31 chunks: 2,920 to change, 50 already frozen, 30 retired, 30 that do not exist.
  const job = await resources.job({
    key: 'crash',
    keys: range(1, ROWS + 30),
    to: 'frozen',
    actor: 'ops:crash',
    chunkSize: 100,
  });
  return job.id;
}

for (const d of dialects) {
  describe.skipIf(!d.available)(`chunked jobs after a crash [${d.name}]`, () => {
    it('a job killed mid-way (a real child process, SIGKILL) and resumed: every item done exactly once', async () => {
      let dir: string | null = null;
      let db: Executor;
      let cleanup: () => Promise<void>;
      let target: string;
      let jobId: string;
      if (d.name === 'pglite') {
        // PGlite is single-process: the parent closes its copy before the child opens the directory.
        dir = await mkdtemp(join(tmpdir(), 'tally-job-crash-'));
        const made = dir;
        // Removed however the test ends (a PGlite data directory is tens of MB).
        onTestFinished(() => rm(made, { recursive: true, force: true }));
        const setup = await pglite(dir);
        jobId = await seed(setup);
        await setup.close();
        target = dir;
      } else {
        const pg = await freshPostgres();
        jobId = await seed(pg.db);
        target = pg.url!;
        db = pg.db;
        cleanup = () => pg.close();
      }

      const killed = await runAndKill({ dialect: d.name, target, jobId, leaseMs: LEASE_MS });
      expect(killed.stderr).toBe('');
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.seen).toBeGreaterThanOrEqual(KILL_AFTER_CHUNKS);

      if (dir !== null) {
        const opened = await pglite(dir);
        db = opened;
        cleanup = async () => {
          await opened.close();
          await rm(dir!, { recursive: true, force: true });
        };
      }
      try {
        // The dead runner's chunks are committed, its last one rolled back, and it still holds the lease.
        const [mid] = await db!.query<Record<string, any>>({
          text: `SELECT status, chunks_done, changed, lease_owner FROM tally.jobs WHERE id = $1`,
          values: [jobId],
        });
        expect(mid!.status).toBe('running');
        expect(mid!.chunks_done).toBeGreaterThanOrEqual(KILL_AFTER_CHUNKS);
        expect(mid!.chunks_done).toBeLessThan(31);
        expect(mid!.lease_owner).not.toBeNull();
        expect(await scalar(db!, `SELECT count(*) AS n FROM tally.log`)).toBe(mid!.changed);

        await db!.exec('DROP TRIGGER slow_update ON resources'); // only the dead runner needed to be slow

        // A new process: while the lease runs nobody takes the job; once it has expired, resume does.
        let skew = 0;
        const { tally, resources } = await tallyOn(db!, {
          clock: () => new Date(Date.now() + skew),
          jobLeaseMs: LEASE_MS,
        });
        expect(await tally.jobs.resume()).toEqual({
          resumed: [],
          skipped: [{ id: jobId, entity: 'resource', code: 'JOB_BUSY' }],
        });
        expect(isTallyError(await tally.jobs.run(jobId).catch((e: unknown) => e), 'JOB_BUSY')).toBe(true);
        skew = LEASE_MS + 1000;
        const { resumed, skipped } = await tally.jobs.resume();
        expect(skipped).toEqual([]);
        expect(resumed).toHaveLength(1);
        expect(resumed[0]).toMatchObject({
          id: jobId,
          status: 'done',
          total: ROWS + 30,
          changed: ROWS - 80,
          unchanged: 50,
          rejected: 60,
          pending: 0,
          chunksDone: 31,
        });

        // Exactly once: one log row per changed item, none for the others, every version contiguous.
        const q = async (text: string) => scalar(db!, text, [`job:${jobId}`]);
        expect(await q(`SELECT count(*) AS n FROM tally.log WHERE request_id = $1`)).toBe(ROWS - 80);
        expect(await q(`SELECT count(*) AS n FROM tally.log WHERE request_id IS DISTINCT FROM $1`)).toBe(0);
        expect(await q(`SELECT count(DISTINCT entity_key) AS n FROM tally.log WHERE request_id = $1`)).toBe(
          ROWS - 80,
        );
        const items = (text: string) => scalar(db!, text, [jobId]);
        expect(
          await items(`SELECT count(*) AS n FROM tally.job_items i
                        WHERE i.job_id = $1 AND (i.status = 'changed') <>
                              EXISTS (SELECT 1 FROM tally.log l WHERE l.entity_key = i.key)`),
        ).toBe(0);
        expect(
          await items(`SELECT count(*) AS n FROM tally.job_items WHERE job_id = $1 AND status = 'pending'`),
        ).toBe(0);
        expect(
          await scalar(
            db!,
            `SELECT count(*) AS n FROM resources r
               LEFT JOIN (SELECT entity_key, count(*) AS c, max(version) AS mx FROM tally.log GROUP BY entity_key) l
                 ON l.entity_key = r.id::text
              WHERE r.version <> coalesce(l.c, 0) OR coalesce(l.mx, 0) <> coalesce(l.c, 0)`,
          ),
        ).toBe(0);
        expect(
          await scalar(db!, `SELECT count(*) AS n FROM resources WHERE state = 'frozen' AND version = 1`),
        ).toBe(ROWS - 80);
        for (const k of [1, 60, 81, 100 * KILL_AFTER_CHUNKS, 1500, ROWS]) {
          const check = await resources.verify(k);
          expect(check.problems).toEqual([]);
        }
        // And a rerun changes nothing.
        const logRows = await scalar(db!, `SELECT count(*) AS n FROM tally.log`);
        expect((await tally.jobs.run(jobId)).status).toBe('done');
        expect(await scalar(db!, `SELECT count(*) AS n FROM tally.log`)).toBe(logRows);
      } finally {
        await cleanup!();
      }
    }, 300_000); // three PGlite boots (setup, child, resume) on a shared 2-core machine
  });
}
