// `npm run bench -- NAME` runs bench/NAME.ts. Each benchmark prints its figures and, as its very last
// line, one JSON object.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !names.includes(name)) {
  console.error(`usage: npm run bench -- NAME   (one of: ${names.join(', ') || 'none yet'})`);
  process.exit(2);
}
await import(pathToFileURL(join(here, `${name}.ts`)).href);
