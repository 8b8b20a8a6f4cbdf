import { afterEach, beforeEach, expect, it } from 'vitest';
import type { JobStatus } from '../../src/changes/jobs/types.js';
import { isTallyError } from '../../src/errors.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { range, scalar, seedResources, tallyOn } from './fixtures/jobs-support.js';

describeEachDialect('chunked jobs', (fresh) => {
  // A database per test: each test counts the whole log and resumes every job it finds.
  let t: TestDatabase;
  beforeEach(async () => {
    t = await fresh();
  });
  afterEach(() => t.close());

  it('a job of 5,000 items commits chunk by chunk, reads running until its last chunk, and records every result', async () => {
    await seedResources(t.db, 5000, { table: 'r_big', frozen: range(1, 100), retired: range(101, 150) });
    const { tally, resources } = await tallyOn(t.db, {}, 'r_big');
    const keys = [...range(1, 5050), 7, 8]; // 5001..5050 do not exist; 7 and 8 are duplicates
    const job = await resources.job({
      keys,
      to: 'frozen',
      actor: 'ops:alice',
      reason: 'freeze',
      chunkSize: 500,
    });
    expect(job.created).toBe(true);
    const created = await job.status();
    expect(created).toMatchObject({
      status: 'pending',
      total: 5050,
      pending: 5050,
      chunksDone: 0,
      chunkSize: 500,
    });
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.log`)).toBe(0);

    // Seen from outside after each commit: the rows and log rows of every committed chunk, and "running".
    const seen: { status: JobStatus; frozen: number; logged: number; fromDb: string }[] = [];
    const done = await tally.jobs.run(job.id, {
      onChunk: async (status) => {
        seen.push({
          status,
          frozen: await scalar(t.db, `SELECT count(*) AS n FROM r_big WHERE state = 'frozen'`),
          logged: await scalar(t.db, `SELECT count(*) AS n FROM tally.log`),
          fromDb: (await tally.jobs.get(job.id)).status,
        });
      },
    });
    expect(seen).toHaveLength(11);
    for (const [i, s] of seen.slice(0, -1).entries()) {
      expect(s.status.status).toBe('running');
      expect(s.fromDb).toBe('running');
      expect(s.status.chunksDone).toBe(i + 1);
      expect(s.status.total - s.status.pending).toBe((i + 1) * 500);
      expect(s.logged).toBe(s.status.changed);
      expect(s.frozen).toBe(100 + s.status.changed);
    }
    expect(seen[2]!.status).toMatchObject({ changed: 1350, unchanged: 100, rejected: 50, pending: 3550 });
    expect(done).toMatchObject({
      status: 'done',
      total: 5050,
      changed: 4850,
      unchanged: 100,
      rejected: 100,
      pending: 0,
      chunksDone: 11,
      lease: null,
      error: null,
    });
    expect(done.finishedAt).toBeInstanceOf(Date);
    expect(seen.at(-1)!.fromDb).toBe('done');

    // Per-item results, paged.
    const rejected = await job.items({ status: 'rejected', limit: 60 });
    expect(rejected.items).toHaveLength(60);
    expect(rejected.next).toBe(rejected.items[59]!.seq);
    const rest = await job.items({ status: 'rejected', after: rejected.next!, limit: 60 });
    expect(rest.items).toHaveLength(40);
    expect(rest.next).toBeNull();
    const all = [...rejected.items, ...rest.items];
    expect(all[0]).toMatchObject({ seq: 101, key: '101', reason: 'illegal_transition' });
    expect(all[0]!.message).toContain('retired');
    expect(all.at(-1)).toMatchObject({ seq: 5050, key: '5050', reason: 'not_found' });
    expect((await tally.jobs.items(job.id, { limit: 3 })).items.map((i) => [i.key, i.status])).toEqual([
      ['1', 'unchanged'],
      ['2', 'unchanged'],
      ['3', 'unchanged'],
    ]);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.job_items WHERE job_id = $1`, [job.id])).toBe(
      5050,
    );

    // The log: one row per changed item, carrying the job's context; one transaction per chunk.
    const [log] = await t.db.query<Record<string, unknown>>({
      text: `SELECT count(*)::int AS n, count(DISTINCT entity_key)::int AS keys, min(version)::int AS vmin,
                    max(version)::int AS vmax, count(DISTINCT txid::text)::int AS txs,
                    bool_and(request_id = $1) AS req, bool_and(actor = 'ops:alice' AND reason = 'freeze') AS ctx
               FROM tally.log`,
      values: [`job:${job.id}`],
    });
    expect(log).toEqual({ n: 4850, keys: 4850, vmin: 1, vmax: 1, txs: 10, req: true, ctx: true });
    for (const k of [151, 2500, 5000]) expect((await resources.verify(k)).ok).toBe(true);
  });

  it('stops after maxChunks with the job running and its lease released; resume finishes it', async () => {
    await seedResources(t.db, 1000, { table: 'r_part' });
    const { tally, resources } = await tallyOn(t.db, {}, 'r_part');
    const job = await resources.job({
      where: { region: 'eu' },
      to: 'frozen',
      actor: 'ops:bob',
      chunkSize: 100,
    });
    // Rows matching the filter after creation do not join the job: the filter was resolved then.
    await t.db.query({ text: `UPDATE r_part SET region = 'eu' WHERE id = 1` });
    const part = await tally.jobs.run(job.id, { maxChunks: 2 });
    expect(part).toMatchObject({
      status: 'running',
      total: 500,
      changed: 200,
      pending: 300,
      chunksDone: 2,
      lease: null,
    });
    expect(await scalar(t.db, `SELECT count(*) AS n FROM r_part WHERE state = 'frozen'`)).toBe(200);
    expect(await scalar(t.db, `SELECT max(id) AS n FROM r_part WHERE state = 'frozen'`)).toBe(400);

    const { resumed, skipped } = await tally.jobs.resume();
    expect(skipped).toEqual([]);
    expect(resumed.map((s) => [s.id, s.status, s.changed])).toEqual([[job.id, 'done', 500]]);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM r_part WHERE state = 'frozen' AND id % 2 = 0`)).toBe(
      500,
    );
    expect(await scalar(t.db, `SELECT count(*) AS n FROM r_part WHERE state = 'frozen'`)).toBe(500);
    expect((await tally.jobs.resume()).resumed).toEqual([]);
  });

  it('creation is idempotent by key; the same key for a different operation is JOB_KEY_REUSED', async () => {
    await seedResources(t.db, 300, { table: 'r_key' });
    const { tally, resources } = await tallyOn(t.db, {}, 'r_key');
    const key = 'freeze-2026-11-22';
    const a = await resources.job({
      key,
      keys: range(1, 300),
      to: 'frozen',
      actor: 'ops:alice',
      chunkSize: 50,
    });
    expect(a.created).toBe(true);
    expect(a.key).toBe(key);
    // A retry: same keys in another order (strings for integers), another reason and actor — the same job.
    const b = await resources.job({
      key,
      keys: range(1, 300).reverse().map(String),
      to: 'frozen',
      actor: 'ops:carol',
      reason: 'retry',
    });
    expect(b.created).toBe(false);
    expect(b.id).toBe(a.id);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.jobs`)).toBe(1);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.job_items`)).toBe(300);

    const reused = async (input: Parameters<typeof resources.job>[0]) => {
      const err = await resources.job(input).catch((e: unknown) => e);
      expect(isTallyError(err, 'JOB_KEY_REUSED')).toBe(true);
      // The message names the job by its random id, which may itself hold the digits: check the rest.
      expect((err as Error).message.replace(/job [0-9a-f-]{36}/, 'job <id>')).not.toContain('301');
    };
    await reused({ key, keys: range(1, 301), to: 'frozen', actor: 'ops:alice' });
    await reused({ key, keys: range(1, 300), to: 'active', actor: 'ops:alice' });
    await reused({ key, keys: range(1, 300), to: 'frozen', action: 'freeze', actor: 'ops:alice' });
    await reused({ key, where: { region: 'eu' }, to: 'frozen', actor: 'ops:alice' });
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.jobs`)).toBe(1);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.job_items`)).toBe(300);

    // Filter jobs: the same filter is the same operation, another filter is not.
    const w = await resources.job({ key: 'eu', where: { region: ['eu'] }, to: 'frozen', actor: 'x' });
    expect((await resources.job({ key: 'eu', where: { region: 'eu' }, to: 'frozen', actor: 'y' })).id).toBe(
      w.id,
    );
    await reused({ key: 'eu', where: { region: 'us' }, to: 'frozen', actor: 'x' });
    expect((await tally.jobs.get(w.id)).total).toBe(150);
  });

  it('a rerun of a finished job changes nothing and writes nothing', async () => {
    await seedResources(t.db, 400, { table: 'r_rerun' });
    const { tally, resources } = await tallyOn(t.db, {}, 'r_rerun');
    const job = await resources.job({
      key: 'rerun',
      keys: range(1, 400),
      to: 'frozen',
      actor: 'a',
      chunkSize: 64,
    });
    const first = await job.run();
    expect(first).toMatchObject({ status: 'done', changed: 400, chunksDone: 7 });
    const logRows = await scalar(t.db, `SELECT count(*) AS n FROM tally.log`);
    const snapshot = await t.db.query({ text: `SELECT * FROM tally.jobs WHERE id = $1`, values: [job.id] });
    const items = await t.db.query({
      text: `SELECT * FROM tally.job_items WHERE job_id = $1 ORDER BY seq`,
      values: [job.id],
    });

    let chunks = 0;
    const again = await tally.jobs.run(job.id, { onChunk: () => void chunks++ });
    const byKey = await (
      await resources.job({ key: 'rerun', keys: range(1, 400), to: 'frozen', actor: 'a' })
    ).run();
    expect(chunks).toBe(0);
    expect(again).toEqual(first);
    expect(byKey).toEqual(first);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.log`)).toBe(logRows);
    expect(await t.db.query({ text: `SELECT * FROM tally.jobs WHERE id = $1`, values: [job.id] })).toEqual(
      snapshot,
    );
    expect(
      await t.db.query({
        text: `SELECT * FROM tally.job_items WHERE job_id = $1 ORDER BY seq`,
        values: [job.id],
      }),
    ).toEqual(items);
    expect(await scalar(t.db, `SELECT max(version) AS n FROM r_rerun`)).toBe(1);
  });

  it('a lease keeps a second runner out, and a runner whose lease was taken over stops', async () => {
    await seedResources(t.db, 600, { table: 'r_lease' });
    let now = Date.parse('2026-11-22T10:00:00Z');
    const { tally, resources } = await tallyOn(
      t.db,
      { clock: () => new Date(now), jobLeaseMs: 10_000 },
      'r_lease',
    );
    const job = await resources.job({ keys: range(1, 600), to: 'frozen', actor: 'a', chunkSize: 100 });

    const events: string[] = [];
    const first = tally.jobs.run(job.id, {
      onChunk: async (s) => {
        events.push(`A${s.chunksDone}`);
        if (s.chunksDone !== 1) return;
        // While A holds the lease, nobody else may run the job.
        const busy = await tally.jobs.run(job.id).catch((e: unknown) => e);
        expect(isTallyError(busy, 'JOB_BUSY')).toBe(true);
        // resume() leaves it alone and says so (docs/changes.md: held by another runner, under skipped).
        expect(await tally.jobs.resume()).toEqual({
          resumed: [],
          skipped: [{ id: job.id, entity: 'resource', code: 'JOB_BUSY' }],
        });
        // A stalls past its lease: B takes the job over and does one chunk.
        now += 10_001;
        const b = await tally.jobs.run(job.id, {
          maxChunks: 1,
          onChunk: (x) => void events.push(`B${x.chunksDone}`),
        });
        expect(b).toMatchObject({ status: 'running', chunksDone: 2, changed: 200 });
      },
    });
    const lost = await first.catch((e: unknown) => e);
    expect(isTallyError(lost, 'JOB_LEASE_LOST')).toBe(true);
    expect(events).toEqual(['A1', 'B2']);
    const mid = await tally.jobs.get(job.id);
    expect(mid).toMatchObject({ status: 'running', changed: 200, chunksDone: 2, lease: null });

    const end = await tally.jobs.run(job.id);
    expect(end).toMatchObject({ status: 'done', changed: 600, chunksDone: 6 });
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.log WHERE entity_key::int <= 600`)).toBe(600);
    expect(
      await scalar(t.db, `SELECT count(DISTINCT entity_key) AS n FROM tally.log WHERE request_id = $1`, [
        `job:${job.id}`,
      ]),
    ).toBe(600);
  });

  it('an unexpected error in a chunk fails the job with a message; running it again finishes it', async () => {
    await seedResources(t.db, 1000, { table: 'r_fail' });
    await t.db.exec(`
      CREATE FUNCTION r_fail_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 777 THEN RAISE EXCEPTION 'r_fail guard tripped'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER r_fail_guard BEFORE UPDATE ON r_fail FOR EACH ROW EXECUTE FUNCTION r_fail_guard();`);
    const { tally, resources } = await tallyOn(t.db, {}, 'r_fail');
    const job = await resources.job({ keys: range(1, 1000), to: 'frozen', actor: 'a', chunkSize: 100 });
    const failed = await job.run();
    expect(failed).toMatchObject({
      status: 'failed',
      changed: 700,
      chunksDone: 7,
      pending: 300,
      lease: null,
    });
    expect(failed.error).toContain('DB_ERROR');
    expect(failed.error).toContain('r_fail guard tripped');
    // The failed chunk left nothing: no row of 701..800 changed, no log row for them.
    expect(await scalar(t.db, `SELECT count(*) AS n FROM r_fail WHERE state = 'frozen'`)).toBe(700);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.log WHERE entity_key::int > 700`)).toBe(0);
    expect((await job.items({ after: 700, limit: 1 })).items[0]).toMatchObject({
      seq: 701,
      status: 'pending',
    });
    // Resume does not loop on failed jobs; an explicit run retries from the first pending item.
    expect((await tally.jobs.resume()).resumed).toEqual([]);

    await t.db.exec(`DROP TRIGGER r_fail_guard ON r_fail`);
    const done = await tally.jobs.run(job.id);
    expect(done).toMatchObject({ status: 'done', changed: 1000, chunksDone: 10, error: null });
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.log`)).toBe(1000);
    expect(
      await scalar(t.db, `SELECT count(*) AS n FROM r_fail WHERE version = 1 AND state = 'frozen'`),
    ).toBe(1000);
  });

  it('runs a batch over maxBatch that a single change refuses, chunks at most maxBatch each', async () => {
    await seedResources(t.db, 250, { table: 'r_max' });
    const { resources } = await tallyOn(t.db, { maxBatch: 100 }, 'r_max');
    const direct = await resources
      .transition({ keys: range(1, 250), to: 'frozen', actor: 'a' })
      .catch((e) => e);
    expect(isTallyError(direct, 'BATCH_TOO_LARGE')).toBe(true);
    const tooBig = await resources
      .job({ keys: range(1, 250), to: 'frozen', actor: 'a', chunkSize: 101 })
      .catch((e) => e);
    expect(isTallyError(tooBig, 'INVALID_SELECTION')).toBe(true);
    const job = await resources.job({ keys: range(1, 250), to: 'frozen', actor: 'a', chunkSize: 100 });
    expect(await job.run()).toMatchObject({ status: 'done', changed: 250, chunksDone: 3 });
    expect(await scalar(t.db, `SELECT count(*) AS n FROM tally.log`)).toBe(250);

    // Field updates run the same way, with their own log action.
    const upd = await resources.job({
      keys: range(1, 150),
      set: { region: 'apac' },
      action: 'relocate',
      actor: 'b',
    });
    expect(await upd.run()).toMatchObject({ status: 'done', changed: 150, chunksDone: 2 });
    expect(await upd.run()).toMatchObject({ status: 'done', changed: 150, chunksDone: 2 });
    expect(
      await scalar(t.db, `SELECT count(*) AS n FROM tally.log WHERE action = 'relocate' AND version = 2`),
    ).toBe(150);
    expect(await scalar(t.db, `SELECT count(*) AS n FROM r_max WHERE region = 'apac' AND version = 2`)).toBe(
      150,
    );
  });

  it('refuses bad input with typed errors and writes nothing', async () => {
    await seedResources(t.db, 10, { table: 'r_bad' });
    const { tally, resources } = await tallyOn(t.db, {}, 'r_bad');
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (isTallyError(e) ? e.code : String(e)),
      );
    const jobs = () => scalar(t.db, `SELECT count(*) AS n FROM tally.jobs`);
    const before = await jobs();
    expect(await code(resources.job({ keys: [1], to: 'frozen' }))).toBe('MISSING_ACTOR');
    expect(await code(resources.job({ keys: [], to: 'frozen', actor: 'a' }))).toBe('EMPTY_KEYS');
    expect(await code(resources.job({ keys: ['x'], to: 'frozen', actor: 'a' }))).toBe('INVALID_KEY');
    expect(await code(resources.job({ keys: [1], to: 'gone', actor: 'a' }))).toBe('UNKNOWN_STATE');
    expect(await code(resources.job({ keys: [1], to: 'frozen', set: { region: 'x' }, actor: 'a' }))).toBe(
      'INVALID_SELECTION',
    );
    expect(await code(resources.job({ keys: [1], set: { state: 'frozen' }, actor: 'a' }))).toBe(
      'INVALID_UPDATE',
    );
    expect(await code(resources.job({ where: { 'x"; drop': 1 }, to: 'frozen', actor: 'a' }))).toBe(
      'COLUMN_NOT_FOUND',
    );
    expect(await code(resources.job({ keys: [1], to: 'frozen', actor: 'a', chunkSize: 0 }))).toBe(
      'INVALID_SELECTION',
    );
    expect(await jobs()).toBe(before);
    expect(await code(tally.jobs.run('not-a-uuid'))).toBe('JOB_NOT_FOUND');
    expect(await code(tally.jobs.get('00000000-0000-4000-8000-000000000000'))).toBe('JOB_NOT_FOUND');

    // A Tally that does not declare the job's entity cannot run it.
    const job = await resources.job({ keys: [1, 2], to: 'frozen', actor: 'a' });
    const { createTally } = await import('../../src/tally.js');
    const other = await createTally({ db: t.db });
    expect(await code(other.jobs.run(job.id))).toBe('UNKNOWN_ENTITY');
    const r = await other.jobs.resume();
    expect(r.skipped).toContainEqual({ id: job.id, entity: 'resource', code: 'UNKNOWN_ENTITY' });
    expect((await tally.jobs.get(job.id)).status).toBe('pending');
  });
});
