// B's client for C. What it returns or throws is classified into success / failure / unknown.
import type { Outcome, QueryAnswer, Reply } from 'tally';

export interface IssueRequest {
  user: string;
  prize: string;
  qty: number;
  ts: string;
  nonce: string;
}

export interface IssueReply {
  httpStatus: number;
  body: { status?: string; prizeId?: string; reason?: string; error?: string };
}

/**
 * Sends the stored request to C under the downstream key. Network errors and timeouts throw.
 *
 * @example
 * const reply = await issue('http://127.0.0.1:4003', key, request, 2000);
 */
export async function issue(
  cUrl: string,
  key: string,
  request: IssueRequest,
  timeoutMs: number,
): Promise<IssueReply> {
  const res = await fetch(`${cUrl}/issue`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { httpStatus: res.status, body: (await res.json().catch(() => ({}))) as IssueReply['body'] };
}

/**
 * C's answer as an outcome: issued → success; refused or a 4xx → failure (definite); 5xx, timeouts and
 * cut connections → unknown (never failure).
 *
 * @example
 * classifyIssue({ ok: true, value: { httpStatus: 200, body: { status: 'issued', prizeId: 'P-1' } } });
 */
export function classifyIssue(reply: Reply<IssueReply>): Outcome {
  if (!reply.ok) return { outcome: 'unknown', reason: errorName(reply.error) };
  const { httpStatus, body } = reply.value;
  if (httpStatus === 200 && body.status === 'issued')
    return { outcome: 'success', value: { prizeId: body.prizeId } };
  if (httpStatus === 200 && body.status === 'refused')
    return { outcome: 'failure', reason: body.reason ?? 'refused' };
  if (httpStatus >= 400 && httpStatus < 500 && httpStatus !== 408 && httpStatus !== 429)
    return { outcome: 'failure', reason: `c_http_${httpStatus}` };
  return { outcome: 'unknown', reason: `c_http_${httpStatus}` };
}

/**
 * Asks C what became of the request with `key`. 404 is "not found" (unknown, never failure); other
 * errors throw (unknown).
 *
 * @example
 * const answer = await lookup('http://127.0.0.1:4003', key, 2000);
 */
export async function lookup(cUrl: string, key: string, timeoutMs: number): Promise<QueryAnswer> {
  const res = await fetch(`${cUrl}/issue/${encodeURIComponent(key)}`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status === 404) return { outcome: 'not_found' };
  if (res.status !== 200) throw new Error(`C answered ${res.status} to a query`);
  const body = (await res.json()) as { outcome: string; prizeId?: string; reason?: string };
  if (body.outcome === 'success') return { outcome: 'success', value: { prizeId: body.prizeId } };
  if (body.outcome === 'failure') return { outcome: 'failure', reason: body.reason ?? 'refused' };
  throw new Error('C answered a query with something else');
}

function errorName(err: unknown): string {
  if (err instanceof Error) return (err.cause as { code?: string } | undefined)?.code ?? err.name;
  return 'error';
}
