// Resource freeze, end to end, on Tally's public API only.
//
// A platform keeps resources in a state table (active / frozen / retired). Every change, single or
// batch, goes through one code path that updates the rows and writes one operation-log row per changed
// row in the same transaction. A consumer that never reads the state table syncs from the log, and at
// the end its view must equal the table. Run: `npm start` (PGlite) or `DATABASE_URL=postgres://... npm start`.
import { type ChangeResult, createTally, isTallyError, withContext } from 'tally';
import { ResourceConsumer } from './consumer.js';
import { openExampleDb } from './db.js';

const APP = 'resource_freeze'; // the application's own schema
const TALLY = 'resource_freeze_tally'; // Tally's tables (configurable; default is "tally")
const TABLE = `${APP}.resources`;

const say = (line = '') => console.log(line);
const step = (title: string) => say(`\n== ${title}`);
const keys = (list: readonly unknown[]) => `[${list.join(', ')}]`;
const outcome = (r: ChangeResult) =>
  [
    r.changed.length && `changed ${keys(r.changed)}`,
    r.unchanged.length && `unchanged ${keys(r.unchanged)}`,
    r.rejected.length && `rejected ${r.rejected.map((x) => `${x.key} (${x.reason})`).join(', ')}`,
  ]
    .filter(Boolean)
    .join('; ');

const { db, label, ownTransaction, close } = await openExampleDb();
let failed = false;
try {
  say('Tally example: resource freeze');
  say(`database: ${label}`);

  step('1. setup');
  // A fresh start each run: the example's own schemas only.
  await db.exec(`DROP SCHEMA IF EXISTS ${APP} CASCADE; DROP SCHEMA IF EXISTS ${TALLY} CASCADE;
    CREATE SCHEMA ${APP};
    CREATE TABLE ${TABLE} (
      id      integer PRIMARY KEY,
      name    text    NOT NULL,
      owner   text    NOT NULL,
      state   text    NOT NULL,
      version integer NOT NULL DEFAULT 0
    );
    CREATE TABLE ${APP}.tickets (id serial PRIMARY KEY, resource_id integer NOT NULL, note text NOT NULL);`);
  const tally = await createTally({ db, schema: TALLY });
  const m = await tally.migrate();
  say(`migrated Tally's tables into schema ${TALLY}: version ${m.from} -> ${m.to}`);

  const resources = tally.entity('resource', {
    table: TABLE,
    states: { active: ['frozen', 'retired'], frozen: ['active'], retired: [] },
  });
  say('entity "resource": active -> frozen | retired, frozen -> active, retired is final');

  const seed = [1, 2, 3, 4, 5, 6, 7, 8].map((id) => ({
    id,
    name: `vm-${id}`,
    owner: id <= 4 ? 'team-a' : 'team-b',
    state: 'active',
  }));
  const created = await resources.create({ rows: seed, actor: 'seed', reason: 'initial inventory' });
  say(`created resources ${keys(created.created)}: all active, one "create" log row each`);

  const consumer = new ResourceConsumer(db, TALLY);

  step('2. freeze one');
  const ctx = { actor: 'ops:alice', ip: '10.0.0.5', reason: 'suspected abuse' };
  say(`freeze 1 -> ${outcome(await resources.transition({ key: 1, to: 'frozen', ...ctx }))}`);
  say(`freeze 1 again -> ${outcome(await resources.transition({ key: 1, to: 'frozen', ...ctx }))}`);
  say('   (already frozen: idempotent, no second log row)');

  step('3. freeze a batch');
  // The same call and the same code path as a single key: two statements whatever the batch size.
  const batch = await resources.transition({
    keys: [2, 3, 4, 5],
    to: 'frozen',
    ...ctx,
    reason: 'incident 7',
  });
  say(`freeze [2, 3, 4, 5] -> ${outcome(batch)}`);

  step('4. unfreeze some');
  say(
    `unfreeze [2, 3] -> ${outcome(await resources.transition({ keys: [2, 3], to: 'active', actor: 'ops:bob' }))}`,
  );

  step('5. consumer, first sync');
  say(`consumer read ${await consumer.poll()} log rows; checkpoint now ${consumer.checkpoint}`);
  say(`consumer sees: ${consumer.summary()}`);

  step('6. an illegal transition is refused');
  try {
    await resources.transition({ key: 1, to: 'retired', actor: 'ops:bob' });
    say('retire 1 -> unexpectedly accepted');
    failed = true;
  } catch (err) {
    if (!isTallyError(err)) throw err;
    const why = (err.details?.rejected as { message: string }[] | undefined)?.[0]?.message;
    say(`retire 1 -> ${err.code} (${why}), nothing changed`);
  }

  step('7. atomic (default) vs partial');
  try {
    await resources.transition({ keys: [6, 7, 1], to: 'retired', actor: 'ops:bob' });
    failed = true;
  } catch (err) {
    if (!isTallyError(err, 'BATCH_REJECTED')) throw err;
    say(`atomic: retire [6, 7, 1] -> ${err.code}, nothing changed`);
    const six = (await resources.history(6)).at(-1);
    say(`   resource 6 is still ${six?.after?.state} (version ${six?.version})`);
  }
  const partial = await resources.transition({
    keys: [6, 7, 1],
    to: 'retired',
    actor: 'ops:bob',
    mode: 'partial',
  });
  say(`partial: retire [6, 7, 1] -> ${outcome(partial)}`);
  for (const r of partial.rejected) say(`   ${r.message}`);

  step('8. context from an async scope, an update and a filter');
  await withContext({ actor: 'ops:carol', ip: '10.0.0.9', requestId: 'req-42' }, async () => {
    // No actor argument: every change in this scope is recorded as ops:carol, request req-42.
    const moved = await resources.update({ keys: [2, 3], set: { owner: 'team-c' }, reason: 'reorg' });
    say(`update owner of [2, 3] -> ${outcome(moved)}`);
    const filtered = await resources.transition({
      where: { owner: 'team-c', state: 'active' },
      to: 'frozen',
    });
    say(`freeze where owner = team-c and active -> ${outcome(filtered)}`);
  });

  step("9. inside the application's own transaction");
  await ownTransaction(async (tx) => {
    await tx.query(`INSERT INTO ${APP}.tickets (resource_id, note) VALUES ($1, $2)`, [8, 'freeze for audit']);
    const r = await resources.transition({ key: 8, to: 'frozen', actor: 'ops:dave', tx });
    say(`ticket + freeze 8, committed together -> ${outcome(r)}`);
  });
  try {
    await ownTransaction(async (tx) => {
      await tx.query(`INSERT INTO ${APP}.tickets (resource_id, note) VALUES ($1, $2)`, [4, 'thaw']);
      await resources.transition({ key: 4, to: 'active', actor: 'ops:dave', tx });
      throw new Error('payment check failed'); // the application gives up: everything rolls back
    });
  } catch (err) {
    say(`ticket + unfreeze 4, then the app fails (${(err as Error).message}) -> rolled back`);
  }
  const four = await resources.history(4);
  const [tickets] = await db.query<{ n: number }>({ text: `SELECT count(*)::int AS n FROM ${APP}.tickets` });
  say(
    `   resource 4 is still ${four.at(-1)?.after?.state} (version ${four.at(-1)?.version}); tickets: ${tickets?.n}`,
  );

  step('10. history, state as of a version, verify');
  for (const e of await resources.history(2)) {
    const fields = e.changed.filter((f) => f !== 'version');
    const change = fields.map(
      (f) => `${f} ${JSON.stringify(e.before?.[f])} -> ${JSON.stringify(e.after?.[f])}`,
    );
    say(
      `resource 2 v${e.version} ${e.action} by ${e.actor}: ${e.action === 'create' ? 'new row' : change.join(', ')}`,
    );
  }
  const v2 = await resources.stateAt(2, { version: 2 });
  say(`resource 2 as of version 2: state ${v2?.state}, owner ${v2?.owner}`);
  let verified = 0;
  for (const s of seed) {
    const check = await resources.verify(s.id);
    if (check.ok) verified++;
    else {
      failed = true;
      say(`verify ${s.id}: ${check.problems.join('; ')}`);
    }
  }
  say(`verify: ${verified} of ${seed.length} resources fold from their log, hash chains intact`);

  step('11. consumer catches up from its checkpoint');
  const before = consumer.checkpoint;
  say(
    `consumer read ${await consumer.poll()} more log rows (checkpoint ${before} -> ${consumer.checkpoint})`,
  );
  say(`consumer sees: ${consumer.summary()}`);
  const diff = await consumer.compareWith(TABLE);
  for (const d of diff) say(`   ${d}`);
  if (diff.length > 0) failed = true;

  const [log] = await db.query<{ n: number }>({ text: `SELECT count(*)::int AS n FROM ${TALLY}.log` });
  if (consumer.applied !== log?.n) {
    diff.push(`consumer applied ${consumer.applied} log rows, the log holds ${log?.n}`);
    say(`   ${diff.at(-1)}`);
  }
  const actions = [...consumer.actions].map(([a, n]) => `${a} ${n}`).join(', ');
  step('summary');
  say(`resources: ${seed.length}; log rows: ${log?.n} (${actions})`);
  say(`rejections shown: illegal transition, atomic batch, partial batch`);
  say(`verify: ${verified}/${seed.length} ok`);
  say(
    diff.length === 0
      ? `consumer check: OK (applied each of ${consumer.applied} log rows once; its view of ${consumer.states.size} resources equals the state table)`
      : `consumer check: FAILED (${diff.length} differences)`,
  );
} catch (err) {
  failed = true;
  console.error(isTallyError(err) ? `error ${err.code}: ${err.message}` : err);
} finally {
  await close();
}
process.exitCode = failed ? 1 : 0;
