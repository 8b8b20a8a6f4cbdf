import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './run-cli.js';

// The CLI as a user's project has it: the package's compiled JavaScript under
// node_modules/tally/dist/src (compiled here with esbuild, as tsc would lay it out), run by plain
// `node` — no tsx loader — with only PGlite installed beside it, then with tsx too.

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? sources(join(dir, d.name))
      : d.name.endsWith('.ts') && !d.name.endsWith('.test.ts')
        ? [join(dir, d.name)]
        : [],
  );
}

function node(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  return new Promise((done) => {
    execFile(process.execPath, args, { cwd, env, timeout: 90_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

// A setup module in TypeScript: annotations and a type-only import of the package.
const SETUP_TS = `import type { Tally } from 'tally';

interface Redeem { user: number; qty: number }

export default function setup(tally: Tally): void {
  tally.entity('ts_account', { table: 'ts_accounts', states: { open: ['closed'], closed: [] } });
  tally.command('ts_redeem', {
    fingerprint: (i: Redeem) => ({ user: i.user, qty: i.qty }),
    steps: [{ name: 'noop', run: async () => ({ ok: true as const }) }],
  });
}
`;

describe('the installed CLI, run by node', () => {
  let app: string;
  let main: string;
  beforeAll(async () => {
    app = join(tmpdir(), `tally-installed-${process.pid}-${Date.now()}`);
    const pkg = join(app, 'node_modules/tally');
    mkdirSync(join(app, 'node_modules/@electric-sql'), { recursive: true });
    const { build } = await import('esbuild');
    await build({
      entryPoints: sources(join(ROOT, 'src')),
      outdir: join(pkg, 'dist/src'),
      outbase: join(ROOT, 'src'),
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
    });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(
      join(ROOT, 'node_modules/@electric-sql/pglite'),
      join(app, 'node_modules/@electric-sql/pglite'),
    );
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
    writeFileSync(join(app, 'setup.ts'), SETUP_TS);
    main = relative(app, join(pkg, 'dist/src/cli/main.js'));
    const migrated = await node([main, 'migrate', 'data'], app);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('--version and -v print the package version, from the package and from the sources under tsx', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await node([main, flag], app);
      expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
    const src = await runCli(['--version']);
    expect(src).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it('a .ts module without tsx installed fails with a message that says how to run it', async () => {
    const r = await node([main, 'worker', '--module', 'setup.ts', '--once', 'data'], app);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error MODULE_NEEDS_TSX: setup.ts is TypeScript, which Node does not load by itself',
    );
    expect(r.stderr).toContain('`npx tsx node_modules/.bin/tally ...`');
    expect(r.stderr).toContain('NODE_OPTIONS="--import tsx"');
    expect(r.stderr).not.toContain('Unknown file extension');
  });

  it('with tsx installed, the .ts module is loaded and its command and entity are found by name', async () => {
    symlinkSync(join(ROOT, 'node_modules/tsx'), join(app, 'node_modules/tsx'));
    const worker = await node([main, 'worker', '--module', 'setup.ts', '--once', 'data'], app);
    expect(worker.stderr).toBe('');
    expect(worker.code).toBe(0);
    expect(worker.stdout).toMatch(/^worker worker:\S+ on PGlite data \(schema tally\): commands ts_redeem$/m);
    // reconcile finds the entity the same module declares (its table does not exist: a typed error).
    const rec = await node(
      [main, 'reconcile', '--module', 'setup.ts', '--entity', 'ts_account', 'data'],
      app,
    );
    expect(rec.stderr).not.toContain('MODULE_');
    expect(rec.stderr).toMatch(/ts_accounts/);
  });
});
