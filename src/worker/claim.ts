import type { TallyConfig } from '../config.js';
import { claimDueMysql } from './claim-mysql.js';
import { claimDueSql } from './sql.js';

/** What a worker round claims: due, unfinished commands of these types that nobody holds. */
export interface ClaimDue {
  types: readonly string[];
  owner: string;
  now: Date;
  until: Date;
  limit: number;
}

/** A claimed command, with the head request's trace context stored at submit (null when untraced). */
export type Claimed = {
  id: string;
  type: string;
  trace_context: string | null;
};

type Claimer = (config: TallyConfig, c: ClaimDue) => Promise<Claimed[]>;

/** PostgreSQL and PGlite: one statement (lock with SKIP LOCKED, lease, `claimed` events). */
const postgresClaim: Claimer = (config, c) => config.db.query<Claimed>(claimDueSql(config.s, c));

const claimers = new WeakMap<TallyConfig, Claimer>();

/**
 * Claims up to `limit` due commands with a lease, in the dialect's way, chosen once per Tally instance
 * (decision 0132).
 *
 * @example
 * const claimed = await claimDue(config, { types: ['redeem'], owner: 'worker:1', now, until, limit: 16 });
 */
export function claimDue(config: TallyConfig, c: ClaimDue): Promise<Claimed[]> {
  let claim = claimers.get(config);
  if (!claim) {
    claim = config.db.dialect === 'mysql' ? claimDueMysql : postgresClaim;
    claimers.set(config, claim);
  }
  return claim(config, c);
}
