import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { parseWithTarget } from '../../src/cli/inspect-args.js';
import type { Io } from '../../src/cli/io.js';
import { DATABASE_OPTIONS, parseCommand } from '../../src/cli/options.js';
import { run } from '../../src/cli/run.js';

async function tally(args: string[]) {
  const err: string[] = [];
  const out: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), env: {}, cwd: '/nonexistent/tally-cwd' };
  const code = await run(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('the positional DATABASE', () => {
  it('is a URL (as --database-url) or a directory (as --data-dir), once', () => {
    const url = parseCommand('migrate', ['postgres://app@db/app'], DATABASE_OPTIONS);
    expect([url['database-url'], url['data-dir']]).toEqual(['postgres://app@db/app', undefined]);
    const dir = parseCommand('migrate', ['./data', '--schema', 'audit'], DATABASE_OPTIONS);
    expect([dir['database-url'], dir['data-dir'], dir.schema]).toEqual([undefined, './data', 'audit']);
    const inspect = parseWithTarget('inspect', ['key-1', 'postgres://app@db/app'], DATABASE_OPTIONS);
    expect([inspect.target, inspect.values['database-url']]).toEqual(['key-1', 'postgres://app@db/app']);
    expect(() => parseCommand('migrate', ['./data', '--data-dir', 'x'], DATABASE_OPTIONS)).toThrow(
      /unexpected argument "\.\/data": it would name the database, which --database-url or --data-dir already names/,
    );
    expect(() => parseCommand('migrate', ['a', 'b'], DATABASE_OPTIONS)).toThrow(
      /unexpected argument "b" \(the database is one argument/,
    );
  });

  it('a URL that is not PostgreSQL is refused like --database-url', async () => {
    const r = await tally(['migrate', 'mysql://app@db/app']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error INVALID_DATABASE_URL: /);
  });
});

describe('usage errors exit 2, for every command', () => {
  const withDatabase = COMMANDS.filter((c) => 'database-url' in c.options);
  it('covers the commands that take a database', () => {
    expect(withDatabase.map((c) => c.name)).toEqual(
      expect.arrayContaining(['migrate', 'log', 'worker', 'inspect', 'reconcile', 'repair', 'relay']),
    );
  });
  for (const c of COMMANDS) {
    it(`tally ${c.name}: an unknown option, and a malformed --schema, before anything is opened`, async () => {
      const unknown = await tally([c.name, '--bogus']);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/^usage error: /);
      if (!withDatabase.includes(c)) return;
      const schema = await tally([c.name, '--schema', 'a b', '--data-dir', '/nonexistent/tally']);
      expect(schema.code).toBe(2);
      expect(schema.stderr).toMatch(/^usage error: tally \S+: /);
    });
  }
  it('--version and -v print a version; the overview lists exit code 3', async () => {
    expect((await tally(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+/);
    expect((await tally(['-v'])).code).toBe(0);
    expect((await tally(['help'])).stdout).toMatch(/^ {2}3 +drift: reconcile found findings/m);
  });
});
