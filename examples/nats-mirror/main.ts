// NATS mirror, end to end, on Tally's public API only.
//
// Tally writes state changes and their log rows in one transaction. The relay (tally/nats) publishes
// every log row to NATS JetStream after commit, in commit order, with the log id as message id. A
// downstream service that never touches the database subscribes to the stream with a durable consumer
// and mirrors every resource's state; stopped and started again, it resumes where it left off.
// Run: `npm run example:nats-mirror` (PGlite in memory) or with DATABASE_URL=postgres://... ; NATS at
// NATS_URL (default 127.0.0.1:4222, JetStream enabled: `nats-server -js`).
import { createTally } from 'tally';
import { connectNats, startRelay } from 'tally/nats';
import { openMirrorDb } from './db.js';
import { NatsMirror } from './mirror.js';

const APP = 'nats_mirror'; // the application's own schema
const TALLY = 'nats_mirror_tally'; // Tally's tables
const TABLE = `${APP}.resources`;
const PREFIX = 'example';
const STREAM = `TALLY_${TALLY}`;
const DURABLE = 'resource-mirror';
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

const say = (line = '') => console.log(line);
const step = (title: string) => say(`\n== ${title}`);

const { db, label, listen, close } = await openMirrorDb();
const nc = await connectNats(NATS_URL);
let failed = false;
try {
  say('Tally example: mirror entity state from NATS JetStream');
  say(`database: ${label}`);
  say(`NATS: ${NATS_URL}, stream ${STREAM}, durable consumer ${DURABLE}`);

  step('1. setup');
  // A fresh start each run: the example's own schemas and stream only.
  await db.exec(`DROP SCHEMA IF EXISTS ${APP} CASCADE; DROP SCHEMA IF EXISTS ${TALLY} CASCADE;
    CREATE SCHEMA ${APP};
    CREATE TABLE ${TABLE} (
      id integer PRIMARY KEY, name text NOT NULL, owner text NOT NULL, state text NOT NULL,
      version integer NOT NULL DEFAULT 0
    );`);
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(STREAM).catch(() => false);
  const tally = await createTally({ db, schema: TALLY });
  await tally.migrate();
  const resources = tally.entity('resource', {
    table: TABLE,
    states: { active: ['frozen', 'retired'], frozen: ['active'], retired: [] },
  });
  const seed = [1, 2, 3, 4, 5, 6].map((id) => ({ id, name: `vm-${id}`, owner: 'team-a', state: 'active' }));
  await resources.create({ rows: seed, actor: 'seed', reason: 'initial inventory' });
  say(`created resources 1..6 (one "create" log row each)`);

  step('2. relay and mirror start');
  const relay = await startRelay({ tally, nats: nc, prefix: PREFIX, sources: ['log'], listen });
  say(`relay publishing to ${relay.subjects.join(', ')} (stream ${relay.stream})`);
  const mirror = new NatsMirror(nc, STREAM, DURABLE, say);
  await mirror.start(`${PREFIX}.${TALLY}.log.resource`);
  await mirror.until(() => mirror.entities.size === 6);

  step('3. changes in the database, seen through NATS');
  await resources.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'ops:alice', reason: 'incident 7' });
  await resources.transition({ key: 2, to: 'active', actor: 'ops:bob' });
  await resources.update({ key: 5, set: { owner: 'team-b' }, actor: 'ops:carol', reason: 'reorg' });
  await settle(mirror);

  step('4. the mirror stops; changes go on; it resumes from its durable consumer');
  await mirror.stop();
  const appliedBefore = mirror.applied;
  const ignoredBefore = mirror.ignored;
  await resources.transition({ keys: [4, 6], to: 'retired', actor: 'ops:alice', reason: 'decommissioned' });
  await resources.transition({ key: 1, to: 'active', actor: 'ops:bob' });
  say('   (mirror down: retired 4 and 6, unfroze 1)');
  await mirror.start(`${PREFIX}.${TALLY}.log.resource`);
  await settle(mirror);
  const again = mirror.ignored - ignoredBefore;
  say(
    `resumed: applied ${mirror.applied - appliedBefore} new entries; ${again === 0 ? 'nothing from before was delivered again' : `${again} redelivered entries ignored`}`,
  );

  step('5. compare');
  const rows = await db.query<{ id: number; state: string; version: number; owner: string }>({
    text: `SELECT id, state, version, owner FROM ${TABLE} ORDER BY id`,
  });
  say('   id  table (state v)     mirror (state v)');
  let equal = 0;
  for (const r of rows) {
    const m = mirror.entities.get(`resource/${r.id}`);
    const same = m?.state === r.state && m?.version === Number(r.version) && m?.row?.owner === r.owner;
    if (same) equal++;
    say(
      `   ${String(r.id).padEnd(3)} ${`${r.state} v${r.version}`.padEnd(19)} ${m ? `${String(m.state)} v${m.version}` : '-'}${same ? '' : '   <- differs'}`,
    );
  }
  failed = equal !== rows.length;
  await mirror.stop();
  await relay.stop();
  const info = await jsm.streams.info(STREAM);
  step('summary');
  say(
    `relay: published ${relay.stats.stored} log entries (duplicates dropped ${relay.stats.duplicates}); stream holds ${info.state.messages}`,
  );
  say(`mirror: applied ${mirror.applied}, ignored ${mirror.ignored} (older or repeated versions)`);
  say(
    failed
      ? `mirror check: FAILED (${rows.length - equal} differ)`
      : `mirror check: OK (${equal}/${rows.length} resources equal the table)`,
  );
  if (process.env.KEEP_STREAM !== '1') await jsm.streams.delete(STREAM).catch(() => false);
} finally {
  await nc.drain().catch(() => {});
  await close();
}
process.exitCode = failed ? 1 : 0;

/** Waits until the mirror holds every row's current version. */
async function settle(m: NatsMirror): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await db.query<{ id: number; version: number }>({
      text: `SELECT id, version FROM ${TABLE}`,
    });
    if (rows.every((r) => m.entities.get(`resource/${r.id}`)?.version === Number(r.version))) return;
    if (Date.now() > deadline) {
      say('   (timed out waiting for the mirror)');
      failed = true;
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
