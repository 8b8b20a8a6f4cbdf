// The replica pairs the dialect-parameterised reads tests run on: one test body, the dialect a parameter.
// Each pair is a primary and a replica that applies commits late (PostgreSQL: scripts/replica.sh, 500 ms;
// MariaDB: scripts/mariadb-replica.sh, MASTER_DELAY 1 s), with the few statements that differ in spelling.
import type { SqlQuery } from '../../src/db/types.js';
import type { ReadRouterOptions } from '../../src/reads/options.js';
import {
  freshMariadbReplicated,
  MARIADB_REPLICA_PRIMARY_URL,
  MARIADB_REPLICA_URL,
  MYSQL8_REPLICA,
  mariadbPool,
  mariadbReplicaAvailable,
  mariadbReplicaDelay,
  mysql8ReplicaGiven,
} from '../support/mariadb-replica.js';
import {
  freshReplicated,
  REPLICA_URL,
  replicaAvailable,
  tolerantPool,
  waitCaughtUp,
} from '../support/replica.js';
import { type TcpProxy, tcpProxy } from '../support/tcp-proxy.js';

export interface OpenPair {
  readonly primary: ReadRouterOptions['primary'];
  readonly replica: NonNullable<ReadRouterOptions['replicas']>[number]['pool'];
  /** The replica's apply delay now, in ms (the premise of the ghost read). */
  delayMs(): Promise<number>;
  /** Runs a statement on the primary directly (setup). */
  run(q: SqlQuery): Promise<void>;
  /** Waits until the replica has applied everything the primary has so far. */
  catchUp(): Promise<void>;
  /** A second pool on the same replica, through a TCP proxy the test can cut. */
  proxied(): Promise<{ pool: OpenPair['replica']; proxy: TcpProxy; end(): Promise<void> }>;
  close(): Promise<void>;
}

export interface Pair {
  readonly dialect: 'postgres' | 'mariadb' | 'mysql';
  readonly available: boolean;
  /**
   * How much of the configured delay a write is sure to wait, as a share of it: PostgreSQL's
   * recovery_min_apply_delay counts in ms from the commit (1); MySQL's and MariaDB's MASTER_DELAY in
   * whole seconds from the event's timestamp, itself in whole seconds, so a write waits anything from
   * almost nothing to the full delay (0).
   */
  readonly sureDelayShare: number;
  /** `CREATE TABLE members (id, level)` and `n` rows at level 0. */
  readonly setup: (n: number) => SqlQuery[];
  readonly select: (id: number) => SqlQuery;
  readonly update: (level: number, id: number) => SqlQuery;
  /** The n-th (1-based) parameter placeholder: `$n` or `?`. */
  readonly param: (n: number) => string;
  open(): Promise<OpenPair>;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

export const pairs: readonly Pair[] = [
  {
    dialect: 'postgres',
    sureDelayShare: 1,
    available: replicaAvailable,
    setup: (n) => [
      { text: 'CREATE TABLE members (id int PRIMARY KEY, level int NOT NULL)' },
      { text: 'INSERT INTO members SELECT g, 0 FROM generate_series(1, $1::int) g', values: [n] },
    ],
    select: (id) => ({ text: 'SELECT level FROM members WHERE id = $1', values: [id] }),
    update: (level, id) => ({ text: 'UPDATE members SET level = $1 WHERE id = $2', values: [level, id] }),
    param: (n) => `$${n}`,
    async open() {
      const db = await freshReplicated(undefined, 30);
      return {
        primary: db.primary,
        replica: db.replica,
        async delayMs() {
          const v = (await db.replica.query('SHOW recovery_min_apply_delay')).rows[0]
            .recovery_min_apply_delay;
          return Number.parseInt(v, 10) * (String(v).endsWith('ms') ? 1 : 1000);
        },
        run: async (q) => void (await db.primary.query(q.text, (q.values ?? []) as unknown[])),
        catchUp: () => waitCaughtUp(db.primary, db.replica),
        async proxied() {
          const u = new URL(REPLICA_URL);
          const proxy = await tcpProxy({ host: u.hostname, port: Number(u.port) });
          const pool = tolerantPool(
            `postgres://postgres@127.0.0.1:${proxy.port}/${new URL(db.replicaUrl).pathname.slice(1)}`,
            5,
          );
          return { pool, proxy, end: async () => void (await pool.end().catch(() => {})) };
        },
        close: () => db.close(),
      };
    },
  },
  mysqlPair('mariadb'),
  // MySQL 8.0: only when MYSQL_REPLICA_PRIMARY_URL and MYSQL_REPLICA_URL are given.
  mysqlPair('mysql'),
];

function mysqlPair(server: 'mariadb' | 'mysql'): Pair {
  const urls =
    server === 'mariadb'
      ? { primary: MARIADB_REPLICA_PRIMARY_URL, replica: MARIADB_REPLICA_URL }
      : MYSQL8_REPLICA;
  return {
    dialect: server,
    sureDelayShare: 0,
    available: server === 'mariadb' ? mariadbReplicaAvailable : mysql8ReplicaGiven,
    setup: (n) => [
      { text: 'CREATE TABLE members (id INT PRIMARY KEY, level INT NOT NULL)' },
      {
        text: `INSERT INTO members (id, level) VALUES ${ids(n)
          .map(() => '(?, 0)')
          .join(', ')}`,
        values: ids(n),
      },
    ],
    select: (id) => ({ text: 'SELECT level FROM members WHERE id = ?', values: [id] }),
    update: (level, id) => ({ text: 'UPDATE members SET level = ? WHERE id = ?', values: [level, id] }),
    param: () => '?',
    async open() {
      const db = await freshMariadbReplicated(30, urls, server);
      return {
        primary: db.primary,
        replica: db.replica,
        delayMs: async () => 1000 * (await mariadbReplicaDelay(db.replica)),
        run: async (q) => void (await db.primary.query(q.text, (q.values ?? []) as unknown[])),
        catchUp: () => db.catchUp(),
        async proxied() {
          const u = new URL(urls.replica);
          const proxy = await tcpProxy({ host: u.hostname, port: Number(u.port || 3306) });
          const auth = u.password ? `${u.username}:${u.password}` : u.username;
          const pool = mariadbPool(`mysql://${auth}@127.0.0.1:${proxy.port}/${db.name}`, 5);
          return { pool, proxy, end: async () => void (await pool.end().catch(() => {})) };
        },
        close: () => db.close(),
      };
    },
  };
}
