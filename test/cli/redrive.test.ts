// tally redrive from the shell (decision 0149): the module's downstreams export names where the downstream's
// records are (here an adapter reading C's records from a file beside it); the dry run writes nothing, the
// apply re-drives the command C never recorded, recorded with who and why; a second apply is refused.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { createTally } from '../../src/tally.js';
import { redeemFixture } from '../commands/support/redeem.js';
import { runCliInProcess, tempDir } from './run-cli.js';

const MODULE = `import { readFileSync } from 'node:fs';
export default function setup() {}
// C's records: the keys it issued, exported to a file beside this module.
const issued = () => new Set(JSON.parse(readFileSync(new URL('./issued.json', import.meta.url), 'utf8')));
export const downstreams = [
  {
    name: 'prizes',
    types: ['rv_redeem'],
    source: { lookup: async (keys) => { const s = issued(); return keys.map((key) => ({ key, outcome: s.has(key) ? 'success' : 'not_found' })); } },
  },
];
`;

it('tally redrive: dry run lists the mismatch and writes nothing; --apply re-drives it with who and why', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  const setup = join(dir, 'tally.setup.mjs');
  writeFileSync(setup, MODULE);
  let db = await pglite(data);
  const fx = await redeemFixture(db, 'rv', { maxAttempts: 1 });
  const input = { user: 'u1', prize: 'mug', qty: 1 };
  expect((await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input })).status).toBe('succeeded');
  fx.prizes.faults.crashNext = 1;
  const stranded = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
  expect(stranded.status).toBe('needs_attention');
  writeFileSync(join(dir, 'issued.json'), JSON.stringify([...fx.prizes.issued.keys()]));
  await db.close();

  const env = { DATABASE_URL: undefined };
  const base = ['redrive', '--module', setup, '--downstream', 'prizes', '--all', '--data-dir', data];
  const usage = await runCliInProcess(['redrive', '--downstream', 'prizes', data], env);
  expect(usage.code).toBe(2);
  const unknown = await runCliInProcess([...base.slice(0, 4), 'nope', ...base.slice(5)], env);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('DOWNSTREAM_NOT_CONFIGURED');

  const dry = await runCliInProcess(base, env);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toContain(
    `mismatch: upstream_unknown_downstream_missing command ${stranded.id} (needs_attention`,
  );
  expect(dry.stdout).toContain('plan: 1 to re-drive, 0 for a person');
  expect(dry.stdout).toContain('dry run: nothing was written');

  const by = ['--apply', '--actor', 'ops:cy', '--reason', 'C lost it: send again'];
  const done = await runCliInProcess([...base, ...by], env);
  expect(done.code, done.stderr).toBe(0);
  expect(done.stdout).toContain(`${stranded.id} needs_attention -> due now`);
  expect(done.stdout).toContain('1 command re-driven by ops:cy');
  const again = await runCliInProcess([...base, ...by], env);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('ACTION_NOT_APPLICABLE');

  db = await pglite(data);
  try {
    const tally = await createTally({ db });
    expect(await tally.actions.list({ action: 'redrive' })).toMatchObject([
      { target: stranded.id, actor: 'ops:cy', reason: 'C lost it: send again', data: { type: 'rv_redeem' } },
    ]);
    // Neither the dry run nor the apply raised an alert (alerting is the app's scheduled round's).
    const [a] = await db.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM tally.command_alerts WHERE kind = 'reconcile_mismatch'`,
      values: [],
    });
    expect(Number(a!.n)).toBe(0);
  } finally {
    await db.close();
  }
}, 120_000);
