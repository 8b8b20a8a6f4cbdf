// What `tally serve --module` loads for B's console (decisions 0148, 0149): B's declarations, so the
// console can resume a job and repair an account from the page, and C as a downstream the Reconcile view
// checks `redeem` commands against, by asking C's own query API (GET /issue/:key) about each call.
import type { DownstreamRecord, Tally } from 'tally';
import { lookup } from './prizes-client.js';
import { declare } from './service.js';

const cUrl = process.env.C_URL ?? 'http://127.0.0.1:4003';

/** The console never runs B's steps: the options only have to be valid. */
export default function setup(tally: Tally): void {
  declare(tally, {
    cUrl,
    cTimeoutMs: 2000,
    queryAfterMs: 3000,
    retryBaseMs: 500,
    leaseMs: 30_000,
    checkpoint: async () => {},
  });
}

/** C's record of each call, ten queries at a time; a query C cannot answer fails the check (DOWNSTREAM_ERROR). */
async function prizesRecords(keys: readonly string[]): Promise<DownstreamRecord[]> {
  const out: DownstreamRecord[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    const batch = keys.slice(i, i + 10);
    const answers = await Promise.all(batch.map((key) => lookup(cUrl, key, 2000)));
    answers.forEach((a, j) => {
      out.push({ key: batch[j]!, outcome: a.outcome });
    });
  }
  return out;
}

export const downstreams = [{ name: 'prizes', types: ['redeem'], source: { lookup: prizesRecords } }];
