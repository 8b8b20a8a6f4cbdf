// Runs one generated docs program (argv[2]) in this process, under tsx (see test/docs/blocks.test.ts), and
// ends the process: 0 after the last block, 1 with the block that was running when something threw.
import { pathToFileURL } from 'node:url';
import { MARKER } from './generate.js';

function fail(err: unknown): never {
  const block = (globalThis as Record<string, unknown>)[MARKER] ?? '(before the first block)';
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`\nDOCS-BLOCK-FAILED ${block}\n${text}\n`);
  process.exit(1);
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
const file = process.argv[2];
if (!file) fail(new Error('usage: run-program.ts <generated file>'));
try {
  await import(pathToFileURL(file as string).href);
} catch (err) {
  fail(err);
}
process.stdout.write('\nDOCS-PROGRAM-DONE\n');
process.exit(0);
