import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** The console's pages allow only themselves: no inline script, nothing from elsewhere. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const FALLBACK = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally console</title></head>
<body><h1>Tally console</h1>
<p>The console's pages are not built in this copy of Tally (console/dist is missing): run
<code>node console/build.mjs</code>. The JSON API answers under <code>/api/</code>
(docs/console-api.md) and Prometheus text on <code>/metrics</code>.</p></body></html>
`;

/**
 * Serves a file of the built console, or index.html for any other path (the console routes on the client),
 * or a small page saying the console is not built. Paths never leave `dir`.
 */
export async function serveStatic(
  dir: string | null,
  path: string,
  head: boolean,
  res: ServerResponse,
): Promise<void> {
  const send = (status: number, type: string, body: Buffer | string, cache: string) => {
    res.writeHead(status, { ...PAGE_HEADERS, 'content-type': type, 'cache-control': cache });
    res.end(head ? undefined : body);
  };
  if (dir === null) return send(200, TYPES['.html']!, FALLBACK, 'no-cache');
  let rel: string;
  try {
    rel = decodeURIComponent(path);
  } catch {
    rel = '/';
  }
  const file = normalize(join(dir, rel));
  if ((file === dir || file.startsWith(dir + sep)) && rel !== '/' && !rel.includes('\0')) {
    const found = await stat(file).catch(() => null);
    if (found?.isFile()) {
      const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
      return send(200, type, await readFile(file), 'no-cache');
    }
  }
  const index = await readFile(join(dir, 'index.html')).catch(() => null);
  if (index === null) return send(200, TYPES['.html']!, FALLBACK, 'no-cache');
  send(200, TYPES['.html']!, index, 'no-cache');
}
