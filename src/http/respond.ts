import type { CommandResult } from '../commands/result.js';

/** What a command route answers: a status and a JSON body, both derived from the recorded command. */
export interface CommandResponse {
  status: number;
  body: unknown;
}

/**
 * The default answer for a command's recorded state. It reads only what the command record keeps for
 * good once it is final (id, status, result or failure), never `replayed`, `attempts` or times, so every
 * replay of a finished request gets the same status and byte-identical body:
 *
 * - `succeeded` → 200 `{ id, status, result }`
 * - `failed` (a definite, business failure such as out of stock) → 422 `{ id, status, error }`
 * - `pending`, `compensating`, `needs_attention` (outcome not known yet) → 202 `{ id, status }`: retry with
 *   the same key to continue it or to read the outcome.
 *
 * @example
 * const { status, body } = commandResponse(await redeem.submit({ key, principal, input }));
 */
export function commandResponse(r: CommandResult): CommandResponse {
  if (r.status === 'succeeded')
    return { status: 200, body: { id: r.id, status: r.status, result: r.result } };
  if (r.status === 'failed') return { status: 422, body: { id: r.id, status: r.status, error: r.error } };
  return { status: 202, body: { id: r.id, status: r.status } };
}
