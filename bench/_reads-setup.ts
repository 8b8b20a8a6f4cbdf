import type { SqlQuery } from '../src/db/types.js';
import type { ReadRouterOptions } from '../src/reads/options.js';

/** One dialect's primary, delayed replica and statement spellings for bench/reads.ts. */
export interface ReadsBenchSetup {
  readonly dialect: 'postgres' | 'mariadb';
  /** The replica's apply delay, as printed. */
  readonly delay: string;
  readonly primary: ReadRouterOptions['primary'];
  readonly replica: NonNullable<ReadRouterOptions['replicas']>[number]['pool'];
  update(v: number, id: number): SqlQuery;
  select(id: number): SqlQuery;
  /** Every user back to 0, applied on the replica too. */
  reset(): Promise<void>;
  close(): Promise<void>;
}
