import { describe, expect, it } from 'vitest';
import { runCliInProcess } from './run-cli.js';

// Issue 20, "The CLI a user meets": a connection error names the database tried (password masked) and
// where its URL came from. No server is needed: port 1 refuses at once.
const DEAD = 'postgres://u:secret@127.0.0.1:1/x';
// In this process, through the entry the binary calls, with exactly the environment given (a tsx start-up
// per run made the file slow).
const runCli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCliInProcess(args, env);

describe('tally: connection errors say which database and from where', () => {
  it('names the URL from the command line, without the password', async () => {
    const r = await runCli(['migrate', '--database-url', DEAD]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error DB_ERROR: cannot connect to PostgreSQL postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x \(URL from the command line\): .*ECONNREFUSED/,
    );
    expect(r.stderr).not.toContain('secret');
  });

  it('names DATABASE_URL when the URL came from the environment', async () => {
    const r = await runCli(['log', '--entity', 'resource', '--key', '1'], { DATABASE_URL: DEAD });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'cannot connect to PostgreSQL postgres://u:***@127.0.0.1:1/x (URL from the DATABASE_URL environment variable)',
    );
    expect(r.stderr).not.toContain('secret');
    const bad = await runCli(['migrate'], { DATABASE_URL: 'not a url' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'error INVALID_DATABASE_URL: the database URL from the DATABASE_URL environment variable is not a valid URL',
    );
  });
});
