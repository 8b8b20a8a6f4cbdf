// Talks to `tally serve`'s JSON API (docs/console-api.md): the token as `Authorization: Bearer`, and on every
// POST the CSRF pair the server requires (`Content-Type: application/json` and `X-Tally-Console: 1`; the
// browser adds the Origin). The token lives in sessionStorage: it goes when the tab closes, and no other
// site can read it.

const TOKEN = 'tally.console.token';
const ACTOR = 'tally.console.actor';

/** An error the API answered (problem+json), or a network failure (`code` NETWORK). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

export const session = {
  token(): string | null {
    return sessionStorage.getItem(TOKEN);
  },
  setToken(t: string | null): void {
    if (t) sessionStorage.setItem(TOKEN, t);
    else sessionStorage.removeItem(TOKEN);
  },
  actor(): string {
    return sessionStorage.getItem(ACTOR) ?? '';
  },
  setActor(a: string): void {
    sessionStorage.setItem(ACTOR, a);
  },
};

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    headers['x-tally-console'] = '1';
  }
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the server did not answer');
  }
  const text = await res.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    throw new ApiError(
      res.status,
      String(data?.code ?? `HTTP_${res.status}`),
      String(data?.detail ?? data?.title ?? res.statusText),
    );
  }
  return data as T;
}

/** GET /api/<path> with a query (empty values dropped). */
export function get<T>(
  path: string,
  query: Record<string, string | number | null | undefined> = {},
): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return call<T>('GET', `/api/${path}${qs ? `?${qs}` : ''}`);
}

/** POST /api/<path> that is not an action (the reconcile check: it writes nothing). */
export function post<T>(path: string, body: Record<string, unknown>): Promise<T> {
  return call<T>('POST', `/api/${path}`, body);
}

/** POST /api/actions/<action> with the operator's name as actor and the reason given. */
export function act<T = unknown>(action: string, body: Record<string, unknown>): Promise<T> {
  return call<T>('POST', `/api/actions/${encodeURIComponent(action)}`, body);
}
