import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/run.js';
import { pglite } from '../../src/db/pglite/index.js';
import { resourcesFixture } from '../support/resources.js';

/** The CLI in-process: stdout, stderr, and both in the order they were written. */
async function tally(args: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const io: Io = {
    out: (t) => {
      out.push(t);
      all.push(t);
    },
    err: (t) => {
      err.push(t);
      all.push(t);
    },
    env: {},
    cwd,
    isTTY: false,
  };
  const code = await run(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n'), all: all.join('\n') };
}

// The database as the positional DATABASE argument (a directory), as the usage line shows.
const REPAIR = ['repair', '--entity', 'resource', '--table', 'resources', 'data'];
const APPLY = [...REPAIR, '--apply', '--actor', 'ops:alice', '--reason', 'INC-9'];

describe('tally repair: the plan, progress in every phase, and missing log entries', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tally-repair-cli-'));
    const db = await pglite(join(dir, 'data'));
    const { resources } = await resourcesFixture(db, 20);
    await resources.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'seed' });
    await db.exec(`UPDATE resources SET owner = 'mallory' WHERE id IN (1, 2)`);
    // The last log entry of 3 deleted: its row is ahead of its log.
    await db.exec(`DELETE FROM tally.log WHERE entity_key = '3' AND version = 1`);
    await db.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a dry run says the missing entries may be a deletion and names the flag', async () => {
    const r = await tally(REPAIR, dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('plan: 3 repair entries, 0 findings left for a person');
    expect(r.stdout).toContain(
      "repair resource 3 (no_log): row v1 -> v1, entry 'repair' at v1; log v1 missing (never written, or deleted)",
    );
    expect(r.stdout).toContain('warning: 1 repair covers missing log entries. They may have been deleted');
    expect(r.stdout).toContain('It is applied only with --accept-missing-log; without it it is withheld.');
    const flagAlone = await tally([...REPAIR, '--accept-missing-log'], dir);
    expect(flagAlone.code).toBe(2);
    expect(flagAlone.stderr).toContain('only apply with --apply');
  });

  it('--apply prints the plan, a line per chunk, withholds the missing-log repair, and re-checks with progress', async () => {
    const r = await tally(APPLY, dir);
    expect(r.code).toBe(3);
    const lines = r.all.split('\n');
    const at = (text: string) => lines.findIndex((l) => l.includes(text));
    const order = [
      at('plan: 3 repair entries'),
      at('repair: applying 2 repairs'),
      at('resource repair [##############################] 100% 2/2, 2 repaired'),
      at('repaired 2 rows (0 planned rows needed nothing)'),
      at(
        'withheld 1 repair over missing log entries (they may have been deleted): check, then pass --accept-missing-log',
      ),
      at('repair: checking again'),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The re-check reports its progress too (state, log and chain phases), then its summary.
    const after = lines.slice(at('repair: checking again'));
    expect(after.some((l) => /^resource state \[#+\.*\] +\d+% \d+\/\d+, 1 finding$/.test(l))).toBe(true);
    expect(after.some((l) => l.startsWith('resource chain ['))).toBe(true);
    expect(r.stdout).toContain('DRIFT: 1 finding\n');
    expect(r.stdout).toContain('resource 3: no_log');
  });

  it('--accept-missing-log applies it, and the next check is clean', async () => {
    const r = await tally([...APPLY, '--accept-missing-log'], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('repaired 1 row (0 planned rows needed nothing)');
    expect(r.stdout).toContain('It is applied now, as --accept-missing-log asks.');
    expect(r.stdout).not.toContain('withheld 1 repair');
    expect(r.stdout).toContain('ok: every row is explained by its log and every chain is intact');
    const again = await tally(['reconcile', '--entity', 'resource', '--table', 'resources', 'data'], dir);
    expect(again.code).toBe(0);
  });
});
