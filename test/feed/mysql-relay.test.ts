import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinMysql } from '../../src/db/mysql/index.js';
import { startRelay } from '../../src/feed/nats/index.js';
import { createTally } from '../../src/tally.js';
import { freshMariadb, mariadbAvailable, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';
import { until } from '../support/until.js';
import {
  deleteStream,
  natsAvailable,
  natsConnection,
  readStream,
  uniquePrefix,
  uniqueStream,
} from './support/nats.js';

// The NATS relay on MariaDB (decision 0134 under decision 0045): the same relay, fed by the MySQL feed.
describe.skipIf(!natsAvailable || !mariadbAvailable)('relay to JetStream from MariaDB', () => {
  let nc: NatsConnection;
  let t: TestDatabase;
  const streams: string[] = [];
  beforeAll(async () => {
    nc = await natsConnection();
    t = await freshMariadb();
  });
  afterAll(async () => {
    for (const s of streams) await deleteStream(nc, s);
    await nc?.close();
    await t?.close();
  });

  it('publishes every entry once; one held back by an open transaction goes out after it commits, entities in version order', async () => {
    await t.db.exec(`CREATE TABLE r_items (id BIGINT PRIMARY KEY, state VARCHAR(16) NOT NULL,
      version INT NOT NULL DEFAULT 0)`);
    const values = Array.from({ length: 300 }, (_, i) => `(${i + 1}, 'active', 0)`);
    await t.db.exec(`INSERT INTO r_items (id, state, version) VALUES ${values.join(', ')}`);
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    const items = tally.entity('resource', { table: 'r_items', states: RESOURCE_STATES });
    await items.transition({ keys: Array.from({ length: 200 }, (_, i) => i + 1), to: 'frozen', actor: 'a' });

    const held = await t.mysqlPool!.getConnection();
    await held.beginTransaction();
    await items.transition({ key: 250, to: 'frozen', actor: 'slow', tx: joinMysql(held) });

    const stream = uniqueStream('myrel');
    streams.push(stream);
    const prefix = uniquePrefix();
    const relay = await startRelay({
      tally,
      nats: nc,
      stream,
      prefix,
      sources: ['log'],
      batchSize: 64,
      pollMs: 20,
    });
    try {
      await items.transition({ keys: [1, 2, 3], to: 'active', actor: 'b' });
      await until(
        'the committed entries',
        async () => (await (await nc.jetstreamManager()).streams.info(stream)).state.messages >= 203,
        30_000,
      );
      await held.commit();
      await until(
        'the held entry',
        async () => (await (await nc.jetstreamManager()).streams.info(stream)).state.messages >= 204,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 200)); // nothing more arrives
      const msgs = await readStream(nc, stream);
      const ids = (
        await t.db.query<{ id: string }>({ text: 'SELECT CAST(id AS CHAR) AS id FROM tally_log' })
      ).map((r) => `log-${r.id}`);
      expect(msgs).toHaveLength(204);
      expect(new Set(msgs.map((m) => m.msgId))).toEqual(new Set(ids));
      expect(msgs[msgs.length - 1]!.body.entry.entity_key).toBe('250'); // committed last, published last
      const one = msgs.filter((m) => m.body.entry.entity_key === '1').map((m) => m.body.entry.version);
      expect(one).toEqual([1, 2]);
      expect(new Set(msgs.map((m) => m.subject))).toEqual(new Set([`${prefix}.tally.log.resource`]));
    } finally {
      held.release();
      await relay.stop();
    }
  });
});
