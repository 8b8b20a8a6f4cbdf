import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { runCliInProcess } from './run-cli.js';
import { pendingCommands } from './support/setup-module.js';

// In this process, through the entry the binary calls (a tsx start-up per run made the file slow).
const runCli = (args: string[]) => runCliInProcess(args, {});

describe.skipIf(!postgresAvailable)('tally inspect on PostgreSQL', () => {
  let t: TestDatabase;
  let ids: string[];
  beforeAll(async () => {
    t = await freshPostgres(2);
    ids = (await pendingCommands(t.db, 2)).ids;
  });
  afterAll(() => t?.close());

  it('prints a command timeline by id: status, decisions, the stored request, events with times', async () => {
    const r = await runCli(['inspect', ids[0]!, '--database-url', t.url!]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`command ${ids[0]}`);
    expect(r.stdout).toContain('type cli_redeem  principal u1  key cli-key-1');
    expect(r.stdout).toContain('status pending  step 1  attempts 1');
    expect(r.stdout).toContain('call issue  downstream key');
    expect(r.stdout).toContain('request {"qty":1,"user":"u1"}');
    expect(r.stdout).toContain('outcome unknown (not resolved yet)');
    for (const kind of ['submitted', 'step_done', 'snapshot', 'send', 'unknown', 'backoff']) {
      expect(r.stdout).toMatch(new RegExp(`\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  ${kind} `));
    }
  });

  it('--json by key (narrowed by principal) is one document; unknown and ambiguous keys exit 1', async () => {
    const r = await runCli(['inspect', 'cli-key-2', '--principal', 'u2', '--json', '--database-url', t.url!]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.command).toMatchObject({ id: ids[1], key: 'cli-key-2', principal: 'u2', status: 'pending' });
    expect(doc.calls[0]).toMatchObject({
      step: 'issue',
      sends: 1,
      outcome: null,
      request: { user: 'u1', qty: 1 },
    });
    expect(doc.events.map((e: { kind: string }) => e.kind).slice(0, 4)).toEqual([
      'submitted',
      'step_done',
      'snapshot',
      'send',
    ]);
    const wrongPrincipal = await runCli([
      'inspect',
      'cli-key-2',
      '--principal',
      'u1',
      '--database-url',
      t.url!,
    ]);
    expect(wrongPrincipal.code).toBe(1);
    expect(wrongPrincipal.stderr).toBe(
      'error COMMAND_NOT_FOUND: no command with this id or key in schema tally\n',
    );

    await t.db.query({
      text: `INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, next_at, created_at, updated_at)
             VALUES (gen_random_uuid(), 'other', 'u9', 'cli-key-2', 'f', '{}', '{}', now(), now(), now())`,
    });
    const ambiguous = await runCli(['inspect', 'cli-key-2', '--database-url', t.url!]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(
      /^error AMBIGUOUS_COMMAND: 2 commands have this key .*cli_redeem u2 .*other u9/,
    );

    const usage = await runCli(['inspect', 'a', 'b', '--database-url', t.url!]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unexpected argument "b": it would name the database');
  });
});
