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

type Claimer = (config: TallyConfig, c: ClaimDue) => Promise<{ id: string; type: string }[]>;

/** PostgreSQL and PGlite: one statement (lock with SKIP LOCKED, lease, `claimed` events). */
const postgresClaim: Claimer = (config, c) =>
  config.db.query<{ id: string; type: string }>(claimDueSql(config.s, c));

const claimers = new WeakMap<TallyConfig, Claimer>();

/**
 * Claims up to `limit` due commands with a lease, in the dialect's way, chosen once per Tally instance
 * (decision 0132).
 *
 * @example
 * const claimed = await claimDue(config, { types: ['redeem'], owner: 'worker:1', now, until, limit: 16 });
 */
export function claimDue(config: TallyConfig, c: ClaimDue): Promise<{ id: string; type: string }[]> {
  let claim = claimers.get(config);
  if (!claim) {
    claim = config.db.dialect === 'mysql' ? claimDueMysql : postgresClaim;
    claimers.set(config, claim);
  }
  return claim(config, c);
}
