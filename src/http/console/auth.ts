import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopback, type ServeConfig } from './options.js';
import { ConsoleError } from './problem.js';

/** What a request may do: read, or read and act. */
export type Access = 'read' | 'operator';

const digest = (v: string) => createHash('sha256').update(v).digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** Whether the server has tokens at all: then every /api and /metrics request needs one. */
export const tokensOn = (c: ServeConfig): boolean => c.readToken !== null || c.operatorToken !== null;

/**
 * The access a request's `Authorization: Bearer` token gives (decision 0142). Without tokens configured
 * (a loopback server only) every request is an operator's, but its Host must be a loopback name (a page
 * on another site reaching 127.0.0.1 through DNS rebinding names its own host). With tokens: none or an
 * unknown one is 401.
 */
export function accessOf(c: ServeConfig, req: IncomingMessage): Access {
  if (!tokensOn(c)) {
    const host = hostName(req.headers.host);
    if (host === null || !isLoopback(host)) {
      throw new ConsoleError(
        'FORBIDDEN_HOST',
        'this server answers only requests addressed to a loopback name',
      );
    }
    return 'operator';
  }
  const m = /^Bearer ([^\s]{1,512})$/i.exec(req.headers.authorization ?? '');
  const given = m?.[1];
  if (given !== undefined) {
    if (c.operatorToken !== null && same(given, c.operatorToken)) return 'operator';
    if (c.readToken !== null && same(given, c.readToken)) return 'read';
  }
  throw new ConsoleError('UNAUTHORIZED', 'a valid token is required: Authorization: Bearer TOKEN');
}

/** Refuses an action to a read-only token. */
export function requireOperator(access: Access): void {
  if (access !== 'operator') {
    throw new ConsoleError('FORBIDDEN', 'actions need the operator token; this token only reads');
  }
}

/**
 * The CSRF rule of every POST (decision 0142): `Content-Type: application/json` and `X-Tally-Console: 1`
 * (a cross-site form cannot send either without a CORS preflight, which this server never grants), and an
 * `Origin`, when the browser sends one, naming this server's own host; `Sec-Fetch-Site`, when sent, must
 * not be cross-site.
 */
export function checkCsrf(req: IncomingMessage): void {
  const refuse = (why: string): never => {
    throw new ConsoleError('CSRF_REFUSED', `actions must come from the console: ${why}`);
  };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') refuse('Content-Type must be application/json');
  if (req.headers['x-tally-console'] !== '1') refuse('the X-Tally-Console: 1 header is missing');
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') refuse('the request is cross-site');
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | null = null;
    try {
      host = origin === 'null' ? null : new URL(origin).host;
    } catch {
      host = null;
    }
    if (host === null || host.toLowerCase() !== (req.headers.host ?? '').toLowerCase()) {
      refuse('its Origin is not this server');
    }
  }
}

/** The host name of a Host header, without its port (null when there is none). */
function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(header);
  return m ? m[1]! : null;
}
