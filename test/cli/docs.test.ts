import { EventEmitter } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { commandHelp, synopsis } from '../../src/cli/help.js';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/run.js';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { generateSealKey, publicKeyPem, sealKeyPem } from '../../src/evidence/index.js';
import { createTally } from '../../src/tally.js';
import { deleteStream, natsAvailable, natsConnection } from '../feed/support/nats.js';
import { ROOT } from './run-cli.js';
import { fencedBlocks, linesMatch, shellSamples, shellWords } from './support/doc-samples.js';

const DOC = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('docs/cli.md and the CLI tell one story', () => {
  it("the synopsis is the CLI's own, every command listed", () => {
    const first = fencedBlocks(DOC)[0]!;
    expect(first.body.join('\n'), 'docs/cli.md: the first block is the synopsis').toBe(synopsis(COMMANDS));
    for (const c of COMMANDS) expect(first.body.join('\n')).toContain(`tally ${c.name} `);
  });

  it("every option a command's parser takes is in its help and its usage", () => {
    for (const c of COMMANDS) {
      const help = commandHelp(c);
      const usage = c.doc.usage.join(' ');
      for (const name of Object.keys(c.options)) {
        if (name === 'help') continue;
        expect(help, `tally ${c.name} --${name} in its help`).toMatch(new RegExp(`^  --${name}\\b`, 'm'));
        if (!['database-url', 'data-dir'].includes(name))
          expect(usage, `tally ${c.name} --${name} in its usage`).toContain(`--${name}`);
      }
    }
  });

  // Each sample runs in a fresh directory whose ./.tally-data holds what the sample needs.
  const samples = shellSamples(DOC);
  it('has samples', () => expect(samples.length).toBeGreaterThanOrEqual(5));
  for (const sample of samples) {
    // `tally relay` needs the broker (CI has it); `^C` in its sample is where the test sends SIGINT.
    const nats = sample.steps.some((s) => s.command.startsWith('tally relay'));
    it.skipIf(nats && !natsAvailable)(
      `the sample at docs/cli.md:${sample.line} is what the CLI prints`,
      async () => {
        const dir = mkdtempSync(join(tmpdir(), 'tally-docs-'));
        dirs.push(dir);
        await setupFor(sample.steps[0]!.command)(join(dir, '.tally-data'));
        for (const step of sample.steps) {
          const lines: string[] = [];
          const io: Io = {
            out: (t) => lines.push(t),
            err: (t) => lines.push(t),
            env: process.env.NATS_URL ? { NATS_URL: process.env.NATS_URL } : {},
            cwd: dir,
            isTTY: false,
            signals: new EventEmitter(),
          };
          const [tally, ...args] = shellWords(step.command);
          expect(tally).toBe('tally');
          const stream = nats ? args[args.indexOf('--stream') + 1]! : '';
          if (nats) await withNats((nc) => deleteStream(nc, stream));
          const done = run(args, io);
          const stop = step.expected.indexOf('^C');
          if (stop >= 0) {
            const before = step.expected.slice(0, stop);
            const end = Date.now() + 30_000;
            while (!linesMatch(before, lines.join('\n').split('\n')) && Date.now() < end) {
              await new Promise((r) => setTimeout(r, 100));
            }
            io.signals!.emit('SIGINT');
          }
          await done;
          if (nats) await withNats((nc) => deleteStream(nc, stream));
          const expected = step.expected.filter((l) => l !== '^C');
          const actual = lines.join('\n').split('\n');
          if (!linesMatch(expected, actual)) {
            // The whole output, so the doc can be corrected from the failure.
            expect(actual.join('\n'), `docs/cli.md:${sample.line}: $ ${step.command}`).toBe(
              expected.join('\n'),
            );
          }
        }
      },
    );
  }
});

async function withNats(
  fn: (nc: Awaited<ReturnType<typeof natsConnection>>) => Promise<void>,
): Promise<void> {
  const nc = await natsConnection();
  try {
    await fn(nc);
  } finally {
    await nc.close();
  }
}

type Setup = (dataDir: string) => Promise<void>;

function setupFor(command: string): Setup {
  if (/^tally migrate\b/.test(command)) return async () => {};
  if (command === 'tally log --entity resource --key 2') return withDb(history);
  if (command === 'tally log --entity resource --key 1')
    return then(
      withDb(history),
      edit(async (db) => {
        // The first entry's image edited: the next entry's before image no longer joins it.
        await db.exec(
          `UPDATE tally.log SET after = jsonb_set(after, '{name}', '"vm-9"') WHERE entity_key = '1' AND version = 1`,
        );
      }),
    );
  if (/^tally (reconcile|repair) --entity resource --table resources\b/.test(command)) return withDb(drift);
  if (/^tally relay\b/.test(command)) return withDb(history);
  if (command === 'tally alerts --open') return withDb(alerted);
  if (/^tally adopt accounts\b/.test(command)) return withDb(legacyAccounts);
  if (/^tally seal\b/.test(command)) return withSealKey(withDb(history));
  throw new Error(
    `docs/cli.md: no setup for a sample starting with "${command}": add one to test/cli/docs.test.ts`,
  );
}

// 1,000 accounts from before Tally: 1..990 at versions 1..3, 991..1000 never changed (version 0).
async function legacyAccounts(db: Executor): Promise<void> {
  await db.exec(`CREATE TABLE accounts (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
                 INSERT INTO accounts SELECT g, 'open', CASE WHEN g <= 990 THEN g % 3 + 1 ELSE 0 END
                   FROM generate_series(1, 1000) g`);
  await (await createTally({ db })).migrate();
}

// The sample's seal key beside the data directory: seal.pem (private) and seal.pub (what verifiers trust).
function withSealKey(setup: Setup): Setup {
  return async (dataDir) => {
    await setup(dataDir);
    const key = generateSealKey();
    writeFileSync(join(dirname(dataDir), 'seal.pem'), sealKeyPem(key));
    writeFileSync(join(dirname(dataDir), 'seal.pub'), publicKeyPem(key));
  };
}

// A data directory filled once per run and copied into each sample's directory (the samples of one
// setup start from the same state; filling it again took seconds a sample on PGlite).
const filled = new Map<(db: Executor) => Promise<void>, Promise<string>>();

function withDb(fill: (db: Executor) => Promise<void>): Setup {
  return async (dataDir) => {
    let made = filled.get(fill);
    if (!made) {
      made = (async () => {
        const dir = mkdtempSync(join(tmpdir(), 'tally-docs-setup-'));
        dirs.push(dir);
        await edit(fill)(join(dir, 'data'));
        return join(dir, 'data');
      })();
      filled.set(fill, made);
    }
    cpSync(await made, dataDir, { recursive: true });
  };
}

/** Opens the data directory (new or copied), runs `fill` on it, closes it. */
function edit(fill: (db: Executor) => Promise<void>): Setup {
  return async (dataDir) => {
    const db = await pglite(dataDir);
    try {
      await fill(db);
    } finally {
      await db.close();
    }
  };
}

function then(first: Setup, second: Setup): Setup {
  return async (dataDir) => {
    await first(dataDir);
    await second(dataDir);
  };
}

const RESOURCES = `CREATE TABLE resources (id int PRIMARY KEY, name text NOT NULL, state text NOT NULL,
                                       version int NOT NULL DEFAULT 0)`;

// Three resources; resource 2 frozen by ops:alice (from 10.0.0.5, with a reason) and back by ops:bob;
// resource 1 frozen by ops:alice. Times as the sample shows them.
async function history(db: Executor): Promise<void> {
  const times = ['2026-11-22T04:30:01.120Z', '2026-11-22T04:30:01.410Z', '2026-11-22T04:30:01.530Z'];
  let now = new Date(times[0]!);
  const tally = await createTally({ db, clock: () => now });
  await tally.migrate();
  await db.exec(RESOURCES);
  const resources = tally.entity('resource', {
    table: 'resources',
    states: { active: ['frozen'], frozen: ['active'] },
  });
  await resources.create({
    rows: [1, 2, 3].map((id) => ({ id, name: `vm-${id}`, state: 'active' })),
    actor: 'seed',
  });
  now = new Date(times[1]!);
  await resources.transition({
    keys: [1, 2],
    to: 'frozen',
    actor: 'ops:alice',
    ip: '10.0.0.5',
    reason: 'incident 7',
  });
  now = new Date(times[2]!);
  await resources.transition({ keys: [2], to: 'active', actor: 'ops:bob' });
}

// One redeem command the reconciler found C had issued while Tally does not know: an open mismatch alert.
async function alerted(db: Executor): Promise<void> {
  await (await createTally({ db })).migrate();
  const id = '5f0c2a9e-3b41-4d6e-9a0f-2c8d1e7b6a55';
  const at = '2026-12-07T10:20:00.000Z';
  await db.query({
    text: `INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, status, next_at,
                                      created_at, updated_at)
           VALUES ($1, 'redeem', 'u1', 'k1', 'f', '{}', '{}', 'needs_attention', $2, $2, $2)`,
    values: [id, at],
  });
  await db.query({
    text: `INSERT INTO tally.command_alerts (command_id, command_type, kind, message, data, at)
           VALUES ($1, 'redeem', 'reconcile_mismatch', 'command redeem: upstream unknown downstream succeeded (call issue)',
                   '{"mismatch": "upstream_unknown_downstream_succeeded", "downstreamKey": "${id}.issue"}', $2)`,
    values: [id, at],
  });
}

// The batch-freeze bug: 1000 resources created through Tally, 500 of them frozen around it (no log
// entry); and resource 1000 frozen through Tally whose log entry was then deleted.
async function drift(db: Executor): Promise<void> {
  const tally = await createTally({ db });
  await tally.migrate();
  await db.exec(RESOURCES);
  const resources = tally.entity('resource', {
    table: 'resources',
    states: { active: ['frozen'], frozen: ['active'] },
  });
  await resources.create({
    rows: Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, name: `vm-${i + 1}`, state: 'active' })),
    actor: 'seed',
  });
  await resources.transition({ keys: [1000], to: 'frozen', actor: 'ops:alice' });
  await db.exec(`UPDATE resources SET state = 'frozen' WHERE id <= 500;
                 DELETE FROM tally.log WHERE entity_key = '1000' AND version = 2`);
}
