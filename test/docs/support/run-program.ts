// Runs one generated docs program (argv[2]) in this process, under tsx (see test/docs/blocks.test.ts), and
// ends the process: 0 after the last block, 1 with the block and statement that were running when
// something threw.
import { pathToFileURL } from 'node:url';
import { LINE_MARKER, MARKER } from './generate.js';

function fail(err: unknown): never {
  const g = globalThis as Record<string, unknown>;
  const block = g[MARKER] ?? '-'; // '-': before the first block (the program did not load)
  const line = g[LINE_MARKER] ?? '-';
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`\nDOCS-BLOCK-FAILED ${block} ${line}\n${text}\n`);
  process.exit(1);
}

Error.stackTraceLimit = 100; // the program's own frame (docs line) sits below the library's frames
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
