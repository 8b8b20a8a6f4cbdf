// A missing optional peer is answered by the library with DRIVER_MISSING naming the package, never with
// Node's raw ERR_MODULE_NOT_FOUND. Real resolution, no mock of the import: Tally's sources are copied to a
// temporary project that has no node_modules at all, and run there by Node (with tsx for the .ts files).
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;

const PROBE = `
const out = {};
async function probe(name, run) {
  try {
    await run();
    out[name] = { ok: true };
  } catch (err) {
    out[name] = { code: err.code, message: String(err.message), package: err.details?.package };
  }
}
await probe('root', () => import('./src/index.js'));
await probe('pglite', async () => (await import('./src/db/pglite/index.js')).pglite());
await probe('postgres', async () =>
  (await import('./src/db/postgres/index.js')).postgres('postgres://nobody@127.0.0.1:1/none'),
);
await probe('natsImport', () => import('./src/feed/nats/index.js'));
await probe('nats', async () => (await import('./src/feed/nats/index.js')).connectNats('127.0.0.1:1'));
await probe('fastify', () => import('./src/http/index.js'));
await probe('redis', () => import('./src/reads/cache/index.js'));
console.log(JSON.stringify(out));
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function node(args: string[], cwd: string): Promise<Run> {
  const env = { ...process.env };
  delete env.NODE_PATH; // nothing may reach the repository's node_modules
  delete env.DATABASE_URL;
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', TSX, ...args],
      { cwd, env, timeout: 60_000 },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('a missing optional peer', () => {
  let dir: string;
  let results: Record<string, { ok?: true; code?: string; message?: string; package?: string }>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tally-nopeers-'));
    cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'no-peers', type: 'module' }));
    writeFileSync(join(dir, 'probe.ts'), PROBE);
    const r = await node(['probe.ts'], dir);
    if (r.code !== 0) throw new Error(`probe failed (${r.code}):\n${r.stdout}${r.stderr}`);
    results = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the root export and the subpaths load without any peer installed', () => {
    expect(results.root).toEqual({ ok: true });
    expect(results.natsImport).toEqual({ ok: true }); // tally/nats loads nats when first used
    expect(results.fastify).toEqual({ ok: true }); // tally/fastify takes the caller's fastify instance
    expect(results.redis).toEqual({ ok: true }); // tally/redis takes the caller's ioredis client
  });

  it.each([
    ['pglite', '@electric-sql/pglite'],
    ['postgres', 'pg'],
    ['nats', 'nats'],
  ])('%s: DRIVER_MISSING naming %s and the install command', (name, pkg) => {
    const r = results[name]!;
    expect(r.code).toBe('DRIVER_MISSING');
    expect(r.package).toBe(pkg);
    expect(r.message).toContain(`npm install ${pkg}`);
  });

  it('the CLI prints the same typed error and exits 1', async () => {
    const r = await node(['src/cli/main.ts', 'migrate'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toContain(
      'error DRIVER_MISSING: the @electric-sql/pglite package is not installed',
    );
  });
});
