/**
 * Every ```ts / ```typescript block of README.md and docs/*.md, type-checked under the repository's compiler
 * options (strict) and run, so that the docs' code works as written. The rules (decision 0110):
 *
 * - The blocks of one file are one program, run in order on PGlite in memory (what the blocks open
 *   themselves): a later block uses the names an earlier one declared. Imports are hoisted to the top.
 * - ```ts fragment: type-checked only, never run. It sees the names earlier blocks of its file declared;
 *   its own stay inside it. `given=a,b` names what it assumes besides, typed in support/givens.ts.
 * - ```ts given=tally,resources on a block that runs: those names are made for the program by
 *   support/setup.ts (a Tally on PGlite in memory with the README's tables), declared before the block.
 * - ```ts standalone: a program of its own (it sees no other block's names).
 * - ```ts server=postgres (also redis, nats; a comma list): standalone, and run only where those servers
 *   answer (always under CI=true, as every other test). DATABASE_URL names a fresh database of its own,
 *   REDIS_URL and NATS_URL the local servers.
 * - `tally`, `tally/postgres`, `tally/fastify`, ... resolve to the package's source under src/.
 *
 * A block that fails to type-check fails the test named after its file and line; a program that throws
 * fails its run test with the block (file:line) that was running and the line the stack points at.
 * DOCS_ONLY=README.md,docs/commands.md checks only the files named.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksOf, type DocBlock, type Server } from './support/extract.js';
import { type DocProgram, type Origin, programsOf, STARTED } from './support/generate.js';
import { type DocDiagnostic, packagePaths, typecheck } from './support/typecheck.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RUNNER = join(ROOT, 'test/docs/support/run-program.ts');
const RUN_TIMEOUT_MS = 300_000;
/** Programs run at once (CI has two cores; the type-check runs beside them). */
const PARALLEL = 2;

// DOCS_ONLY=README.md,docs/commands.md checks only those (paths relative to the repository).
const FILES = process.env.DOCS_ONLY
  ? process.env.DOCS_ONLY.split(',')
  : [
      'README.md',
      ...readdirSync(join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => `docs/${f}`),
    ];
// Inside the repository (.tmp/ is ignored), so that bare imports ('pg', 'fastify') find node_modules.
const DIR = join(ROOT, '.tmp', `docs-blocks-${process.pid}-${randomBytes(4).toString('hex')}`);
const SUPPORT = join(ROOT, 'test/docs/support');
const programs = FILES.flatMap((file) => programsOf(file, blocksOf(file, join(ROOT, file)), SUPPORT));
const pathOf = (p: DocProgram) => join(DIR, p.name);

let diagnostics: DocDiagnostic[] = [];
const runs = new Map<DocProgram, Promise<Run>>();

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(DIR, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { paths: packagePaths(ROOT) } }),
  );
  for (const p of programs) writeFileSync(pathOf(p), p.text);
  // Start the runs first: the type-check below is synchronous and would only delay them.
  const queue = programs.filter((p) => p.runs && serversUp(p.servers));
  let next = 0;
  const slots: Promise<void>[] = [];
  const gates = new Map<DocProgram, (r: Run) => void>();
  for (const p of queue) runs.set(p, new Promise((done) => gates.set(p, done)));
  for (let i = 0; i < PARALLEL; i++) {
    slots.push(
      (async () => {
        while (next < queue.length) {
          const p = queue[next++] as DocProgram;
          gates.get(p)?.(await runProgram(p));
        }
      })(),
    );
  }
  diagnostics = typecheck(
    ROOT,
    programs.map((p) => pathOf(p)),
  );
}, 300_000);

afterAll(async () => {
  await Promise.allSettled(runs.values());
  rmSync(DIR, { recursive: true, force: true });
});

// Which servers answer: asked only when a block needs one (the support modules fail under CI when not).
const needed = new Set(programs.filter((p) => p.runs).flatMap((p) => p.servers));
const up: Record<Server, boolean> = {
  postgres: needed.has('postgres') && (await import('../support/databases.js')).postgresAvailable,
  redis: needed.has('redis') && (await import('../support/redis.js')).redisAvailable,
  nats: needed.has('nats') && (await import('../feed/support/nats.js')).natsAvailable,
};
function serversUp(servers: readonly Server[]): boolean {
  return servers.every((s) => up[s]);
}

async function runProgram(p: DocProgram): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  let cleanup = async () => {};
  if (p.servers.includes('postgres')) {
    const { freshPostgres } = await import('../support/databases.js');
    const db = await freshPostgres(1); // the program opens its own connections; close() drops the database
    env.DATABASE_URL = db.url as string;
    cleanup = () => db.close();
  }
  env.TSX_TSCONFIG_PATH = join(DIR, 'tsconfig.json'); // its paths map 'tally/*' to src/
  if (p.servers.includes('redis')) env.REDIS_URL = (await import('../support/redis.js')).REDIS_URL;
  if (p.servers.includes('nats')) env.NATS_URL = (await import('../feed/support/nats.js')).NATS_URL;
  try {
    return await new Promise<Run>((done) => {
      execFile(
        process.execPath,
        // tsx as a loader in one process (its CLI would put a second one under it that a kill misses).
        ['--import', 'tsx', RUNNER, pathOf(p)],
        { cwd: DIR, env, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const timedOut = Boolean(err && (err as { killed?: boolean }).killed);
          done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, timedOut });
        },
      );
    });
  } finally {
    await cleanup();
  }
}

const where = (o: Origin, p: DocProgram, line: number) => (o ? `${o.file}:${o.line}` : `${p.name}:${line}`);

/** The diagnostics whose generated line came from the block (its fence lines included). */
function diagnosticsOf(p: DocProgram, b: DocBlock): string[] {
  const last = b.line + b.code.split('\n').length;
  return diagnostics
    .filter((d) => d.fileName === pathOf(p))
    .filter((d) => {
      const o = p.origin[d.line - 1];
      return o !== null && o !== undefined && o.file === b.file && o.line >= b.line - 1 && o.line <= last;
    })
    .map((d) => `${where(p.origin[d.line - 1] ?? null, p, d.line)}:${d.column} TS${d.code}: ${d.message}`);
}

/** What a failed run says: the block that was running, the docs line the stack points at, the error. */
function failureOf(p: DocProgram, r: Run): string {
  if (r.timedOut) {
    const started = [...r.stdout.matchAll(new RegExp(`${STARTED} (\\S+)`, 'g'))].pop()?.[1];
    return `${p.title}: no end after ${RUN_TIMEOUT_MS / 1000} s${started ? ` (last started: ${started})` : ''}`;
  }
  const [, block = '-', running = '-'] = /DOCS-BLOCK-FAILED (\S+) (\S+)/.exec(r.stderr) ?? [];
  if (block === '-')
    return `${p.title} did not load (see its type-check tests): ${r.stderr.trim().slice(0, 2000)}`;
  const error = r.stderr.split('DOCS-BLOCK-FAILED')[1]?.split('\n').slice(1, 4).join('\n') ?? r.stderr;
  // The stack's deepest frame in the program is the most exact line; else the statement that was running.
  const esc = pathOf(p).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const at = new RegExp(`${esc}:(\\d+)`).exec(r.stderr);
  const line = at ? Number(at[1]) : null;
  const origin = line ? where(p.origin[line - 1] ?? null, p, line) : running;
  return `the block at ${block} failed at ${origin}: ${error.trim()}`;
}

for (const file of FILES) {
  const mine = programs.filter((p) => p.blocks[0]?.file === file);
  if (mine.length === 0) continue; // no ts blocks (docs/cli.md today): nothing to check, nothing skipped
  describe(file, () => {
    for (const p of mine) {
      for (const b of p.blocks) {
        it(`${b.file}:${b.line} type-checks${b.fragment ? ' (fragment)' : ''}`, () => {
          const found = diagnosticsOf(p, b);
          expect(found, `\n${found.join('\n')}\n`).toEqual([]);
        });
      }
      if (!p.runs) continue;
      const skip = !serversUp(p.servers);
      const label = `${p.title} runs${p.servers.length > 0 ? ` [${p.servers.join(', ')}]` : ''}`;
      // Queued behind the other programs (each is killed after RUN_TIMEOUT_MS), hence the long timeout.
      it.skipIf(skip)(label, { timeout: 600_000 }, async () => {
        const r = (await runs.get(p)) as Run;
        if (r.code !== 0 || !r.stdout.includes('DOCS-PROGRAM-DONE')) expect.fail(failureOf(p, r));
      });
    }
  });
}

it('every generated line that is not from a block type-checks', () => {
  const stray = diagnostics
    .map((d) => ({ d, p: programs.find((p) => pathOf(p) === d.fileName) as DocProgram }))
    .filter(({ d, p }) => !p.origin[d.line - 1])
    .map(({ d, p }) => `${p.name}:${d.line} TS${d.code}: ${d.message}`);
  expect(stray, stray.join('\n')).toEqual([]);
});
