import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateSealKey, parseCheckpointBody, trustedKeys } from '../../src/evidence/index.js';
import { type SealRound, SealSchedule } from '../../src/evidence/seal-loop.js';
import { auditSealedLog } from '../../src/evidence/sealer.js';
import { type CheckpointSink, SinkFanout } from '../../src/evidence/sink.js';
import { fileCheckpointSink } from '../../src/evidence/sink-file.js';
import { type CheckpointDelivery, webhookCheckpointSink } from '../../src/evidence/sink-webhook.js';
import type { Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';
import { until } from '../support/until.js';

const KEY = generateSealKey();
const TRUSTED = trustedKeys([KEY]);
// One origin for the file: the sealer's feed consumer (one per origin) carries on from test to test.
const origin = 'tally worker-test';
const size = (note: string | null) =>
  note === null ? 0 : parseCheckpointBody(note.slice(0, note.indexOf('\n\n') + 1)).treeSize;

/** A webhook receiver we do not own, which can misbehave: answers 500 to the next `failNext` POSTs. */
function receiver() {
  const state = { failNext: 0, deliveries: [] as { id: string; body: CheckpointDelivery }[], posts: 0 };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      if (req.method === 'GET') {
        const last = state.deliveries.at(-1);
        res.writeHead(last ? 200 : 404).end(last ? JSON.stringify({ note: last.body.note }) : '');
        return;
      }
      state.posts++;
      if (state.failNext > 0) {
        state.failNext--;
        res.writeHead(500).end();
        return;
      }
      const id = String(req.headers['tally-delivery-id']);
      if (!state.deliveries.some((d) => d.id === id))
        state.deliveries.push({ id, body: JSON.parse(text) as CheckpointDelivery });
      res.writeHead(204).end();
    });
  });
  return { state, server };
}

describeEachDialect(
  'evidence: the worker seals on a schedule and copies checkpoints to the sinks',
  (fresh) => {
    let t: TestDatabase;
    let tally: Tally;
    let resources: Awaited<ReturnType<typeof resourcesFixture>>['resources'];
    const dir = mkdtempSync(join(tmpdir(), 'tally-seal-worker-'));
    const hook = receiver();
    let url = '';

    beforeAll(async () => {
      t = await fresh();
      ({ tally, resources } = await resourcesFixture(t.db, 40));
      await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', r));
      const address = hook.server.address();
      url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/checkpoints`;
    });
    afterAll(async () => {
      hook.server.close();
      rmSync(dir, { recursive: true, force: true });
      await t?.close();
    });

    it('rows written while the worker runs are sealed, and every sink holds a checkpoint covering them', async () => {
      const file = fileCheckpointSink(join(dir, 'cps.txt'));
      const webhook = webhookCheckpointSink({ url, latestUrl: url, attempts: 1 });
      hook.state.failNext = 3; // the webhook is down for the first rounds: reported, retried, never blocking
      const rounds: SealRound[] = [];
      const worker = tally.worker({
        pollMs: 20,
        seal: { key: KEY, origin, sinks: [file, webhook], everyMs: 50, onRound: (r) => rounds.push(r) },
      });
      worker.start();
      try {
        for (let i = 0; i < 4; i++) {
          const keys = Array.from({ length: 10 }, (_, k) => i * 10 + k + 1);
          await resources.transition({ keys, to: 'frozen', actor: 'writer' });
        }
        await until(
          'the sinks to hold a checkpoint of all 40 rows',
          async () => size(await webhook.latest()) === 40,
          10_000,
        );
      } finally {
        await worker.stop();
      }
      expect(worker.running).toBe(false);
      expect(size(await file.latest())).toBe(40);
      // The failing webhook was reported, while the file sink had already acknowledged.
      const failedRound = rounds.find((r) => r.report && !r.report.published);
      expect(failedRound?.report).toMatchObject({
        acked: [file.name],
        failed: [{ sink: webhook.name, error: { code: 'SINK_TARGET_UNAVAILABLE' } }],
      });
      expect(rounds.at(-1)?.report).toMatchObject({ published: true });
      // Each checkpoint was delivered once (the delivery id is the same on every retry).
      const ids = hook.state.deliveries.map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(hook.state.deliveries.at(-1)?.body).toMatchObject({
        type: 'tally.checkpoint.v1',
        origin,
        treeSize: 40,
      });
      // The database's log matches the external copy, read back from the sink.
      const audit = await auditSealedLog(tally, origin, TRUSTED, (await file.latest())!, {
        countUnappended: true,
      });
      expect(audit).toMatchObject({
        stored: { ok: true, sealed: 40 },
        external: { ok: true, sealed: 40 },
        unappended: 0,
      });
    });

    it('afterRows seals as soon as enough rows wait, long before everyMs', async () => {
      const sink = fileCheckpointSink(join(dir, 'after-rows.txt'));
      const schedule = new SealSchedule(tally, {
        key: KEY,
        origin,
        sinks: [sink],
        everyMs: 600_000,
        afterRows: 5,
        checkMs: 20,
      });
      schedule.start();
      try {
        await until('the first round', async () => size(await sink.latest()) === 40, 5000);
        await resources.transition({ keys: [1, 2, 3, 4, 5, 6], to: 'active', actor: 'writer' });
        await until(
          'a round triggered by 6 waiting rows',
          async () => size(await sink.latest()) === 46,
          5000,
        );
      } finally {
        await schedule.stop();
      }
    });

    it('at least one sink, with distinct names; a sink that throws is reported, not thrown', async () => {
      expect(() => new SinkFanout([])).toThrow(/at least one checkpoint sink/);
      const a = fileCheckpointSink(join(dir, 'a.txt'));
      expect(() => new SinkFanout([a, fileCheckpointSink(join(dir, 'a.txt'))])).toThrow(/same name/);
      const broken: CheckpointSink = {
        name: 'broken',
        publish: async () => {
          throw new Error('disk full');
        },
        latest: async () => null,
      };
      const round = await new SealSchedule(tally, {
        key: KEY,
        origin,
        sinks: [a, broken],
      }).runOnce();
      expect(round.report).toMatchObject({ published: false, acked: [a.name], failed: [{ sink: 'broken' }] });
      expect(size(await a.latest())).toBe(46);
    });
  },
);
