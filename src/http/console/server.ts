import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { quoteIdent } from '../../db/ident.js';
import type { Tally } from '../../tally.js';
import { PROBLEM_CONTENT_TYPE } from '../problem.js';
import { actionTable } from './actions.js';
import { accessOf, tokensOn } from './auth.js';
import { consoleTally, metricsText } from './metrics.js';
import { type ConsoleServerOptions, type ServeConfig, serveConfig } from './options.js';
import { ConsoleError, logLine, problemFor } from './problem.js';
import { Query } from './query.js';
import { callerOf, RateLimiter } from './rate-limit.js';
import { matchRoute } from './routes.js';
import { PAGE_HEADERS, serveStatic } from './static.js';

const MAX_BODY = 16 * 1024;

/** A running console server. */
export interface ConsoleServer {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly server: Server;
  readonly config: ServeConfig;
  /** Stops listening and ends open connections (the database stays open: it is the caller's). */
  close(): Promise<void>;
}

/**
 * Starts the console's server on node:http (decision 0141): the built console on `/`, the JSON API under
 * `/api/` (docs/console-api.md), Prometheus text on `/metrics`. Binds 127.0.0.1 unless told otherwise; any
 * other host needs a token (decision 0142; INVALID_CONFIG before anything listens).
 *
 * @example
 * const c = await startConsoleServer({ db, port: 4680, operatorToken: process.env.TALLY_OPERATOR_TOKEN });
 * console.log(`console on ${c.url}`);
 */
export async function startConsoleServer(
  options: ConsoleServerOptions & { tally?: Tally },
): Promise<ConsoleServer> {
  const config = serveConfig(options);
  const s = quoteIdent(config.schema, 'schema');
  const own = options.tally
    ? { tally: options.tally, metrics: hasMetrics(options.tally) }
    : await consoleTally(config.db, config.schema);
  const actions = actionTable(config.actions);
  const version = packageVersion();
  const limiter = config.rateLimit ? new RateLimiter(config.rateLimit) : null;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    try {
      if (path !== '/metrics' && path !== '/api' && !path.startsWith('/api/')) {
        if (method !== 'GET' && method !== 'HEAD') {
          throw new ConsoleError('METHOD_NOT_ALLOWED', 'the console pages are only read');
        }
        return await serveStatic(config.consoleDir, path, method === 'HEAD', res);
      }
      const access = accessOf(config, req);
      if (path === '/metrics') {
        if (method !== 'GET' && method !== 'HEAD') {
          throw new ConsoleError('METHOD_NOT_ALLOWED', '/metrics is only read');
        }
        const text = await metricsText(own.tally, own.metrics, config.db, s);
        res.writeHead(200, {
          'content-type': 'text/plain; version=0.0.4; charset=utf-8',
          'cache-control': 'no-store',
        });
        return res.end(method === 'HEAD' ? undefined : text);
      }
      const { route, params } = matchRoute(method, path);
      // Counted after authentication: an unknown token is 401 and never fills the table.
      if (limiter && route.cost) limiter.take(callerOf(req, tokensOn(config)), route.cost);
      const body = await route.run({
        config,
        db: config.db,
        s,
        tally: own.tally,
        actions,
        access,
        query: new Query(url.searchParams),
        params,
        req,
        body: () => readJsonBody(req),
        version,
      });
      const text = JSON.stringify(body);
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(method === 'HEAD' ? undefined : text);
    } catch (err) {
      const p = problemFor(err);
      if (p.status >= 500) config.log(`console: ${method} ${path}: ${logLine(err)}`);
      const headers: Record<string, string> = {
        ...PAGE_HEADERS,
        'content-type': PROBLEM_CONTENT_TYPE,
        'cache-control': 'no-store',
      };
      if (p.status === 401) headers['www-authenticate'] = 'Bearer realm="tally"';
      if (p.status === 429) headers['retry-after'] = String(p.details?.retryAfter ?? 1);
      if (p.status === 405) headers.allow = path.startsWith('/api/actions/') ? 'POST' : 'GET, HEAD';
      if (res.headersSent) return res.destroy();
      res.writeHead(p.status, headers);
      res.end(JSON.stringify(p));
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(config.port, config.host, () => {
      server.off('error', fail);
      done();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    config,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function hasMetrics(t: Tally): boolean {
  try {
    t.metrics();
    return true;
  } catch {
    return false;
  }
}

/** The JSON object body of an action (16 KB at most). */
async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ConsoleError('BODY_TOO_LARGE', 'the body must be 16 KB at most');
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ConsoleError('MALFORMED_BODY', 'the body must be a JSON object');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConsoleError('MALFORMED_BODY', 'the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** This package's version, from its package.json (beside src/ or dist/). */
const packageVersion = (() => {
  let version: string | null = null;
  return (): string => {
    if (version !== null) return version;
    version = 'unknown';
    for (const up of ['../../../package.json', '../../../../package.json']) {
      try {
        const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === 'tally' && typeof pkg.version === 'string') {
          version = pkg.version;
          break;
        }
      } catch {
        // not at this level
      }
    }
    return version;
  };
})();
