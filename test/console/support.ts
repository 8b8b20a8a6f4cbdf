import { randomUUID } from 'node:crypto';
import type { Executor } from '../../src/db/types.js';

/** An HTTP answer: status, headers and the body parsed when it is JSON. */
export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** Calls the console's server the way the console does (fetch), parsing JSON and problem+json bodies. */
export async function call(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: init.headers ?? {},
    ...(init.body === undefined
      ? {}
      : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: type.includes('json') ? JSON.parse(text) : null,
  };
}

/** The headers an action needs from the console: JSON, the CSRF header, and a token when given. */
export function actionHeaders(token?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-tally-console': '1',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
}

/**
 * Writes `n` command records straight into the table (no definitions needed: the console reads records),
 * one a second from `from`, cycling through the given types, principals and statuses.
 */
export async function seedCommands(
  db: Executor,
  o: { n: number; from: Date; types: string[]; principals: string[]; statuses: string[]; keyPrefix: string },
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < o.n; i++) {
    const id = randomUUID();
    ids.push(id);
    const at = new Date(o.from.getTime() + i * 1000);
    await db.query({
      text: `INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, status, next_at,
               created_at, updated_at, finished_at)
             VALUES ($1, $2, $3, $4, 'f', '{}', '{}', $5, $6, $6, $6,
                     CASE WHEN $5 IN ('succeeded', 'failed') THEN $6::timestamptz END)`,
      values: [
        id,
        o.types[i % o.types.length],
        o.principals[i % o.principals.length],
        `${o.keyPrefix}-${i}`,
        o.statuses[i % o.statuses.length],
        at,
      ],
    });
  }
  return ids;
}
