// With neither prom-client nor @opentelemetry/api installed (decision 0140): Tally loads and runs without
// `observe`, and asking for metrics or traces is DRIVER_MISSING naming the package. Real resolution: the
// sources are copied to a temporary project with no node_modules and run there by Node (with tsx), as in
// test/db/driver-missing.test.ts.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;

// An executor that is never queried: createTally only checks its shape.
const PROBE = `
const { createTally } = await import('./src/tally.js');
const db = { dialect: 'postgres', query: async () => [], exec: async () => {}, transaction: async (f) => f(db), close: async () => {} };
const out = {};
async function probe(name, run) {
  try {
    out[name] = { ok: true, value: await run() };
  } catch (err) {
    out[name] = { code: err.code, package: err.details?.package };
  }
}
await probe('off', async () => (await createTally({ db })).config.observer.on);
await probe('metrics', () => createTally({ db, observe: { metrics: true } }));
await probe('tracing', () => createTally({ db, observe: { tracing: true } }));
console.log(JSON.stringify(out));
`;

describe('metrics and traces without their peers installed', () => {
  let dir: string;
  let results: Record<string, { ok?: true; value?: unknown; code?: string; package?: string }>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tally-noobserve-'));
    cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'no-peers', type: 'module' }));
    writeFileSync(join(dir, 'probe.ts'), PROBE);
    const env = { ...process.env };
    delete env.NODE_PATH;
    const r = await new Promise<{ code: number; out: string }>((done) =>
      execFile(
        process.execPath,
        ['--import', TSX, 'probe.ts'],
        { cwd: dir, env, timeout: 60_000 },
        (err, so, se) => done({ code: err ? 1 : 0, out: `${so}${se}` }),
      ),
    );
    if (r.code !== 0) throw new Error(`probe failed:\n${r.out}`);
    results = JSON.parse(r.out.trim().split('\n').at(-1)!);
  }, 90_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('createTally without observe works, with the no-op observer', () => {
    expect(results.off).toEqual({ ok: true, value: false });
  });

  it.each([
    ['metrics', 'prom-client'],
    ['tracing', '@opentelemetry/api'],
  ])('observe.%s: DRIVER_MISSING naming %s', (name, pkg) => {
    expect(results[name]).toEqual({ code: 'DRIVER_MISSING', package: pkg });
  });
});
