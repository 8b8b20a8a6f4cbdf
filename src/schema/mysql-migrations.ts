import type { Migration } from './migrations.js';

/**
 * Tally's own tables on MySQL 8.0 / MariaDB 10.6+, an ordered list of its own (decision 0131). MySQL
 * commits every DDL statement on its own, so a migration cannot be one transaction: each statement is
 * written to be re-runnable (`IF NOT EXISTS`, indexes inside CREATE TABLE — MySQL 8.0 has no
 * `CREATE INDEX IF NOT EXISTS`), and the version row is written after them. A migration cut off halfway
 * runs again from its start and finds done what was done. Written to what both servers share: `JSON`
 * (MariaDB: LONGTEXT with a JSON_VALID check; MySQL: binary JSON), DATETIME(6) in UTC (TIMESTAMP stops
 * in 2038 and converts by session time zone), utf8mb4_bin (keys compare byte for byte, as on PostgreSQL).
 * `p(table)` names one of Tally's tables.
 */
export interface MysqlMigration extends Omit<Migration, 'sql'> {
  readonly sql: (p: (table: string) => string) => string;
}

const TABLE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

export const mysqlMigrations: readonly MysqlMigration[] = [
  {
    version: 1,
    name: 'operation log and chunked jobs',
    // entity_key is VARCHAR(512): InnoDB keys stop at 3072 bytes, and (entity_type, entity_key, version)
    // in utf8mb4 is 4 × (128 + 512) + 8 bytes. txid is the feed's ordering column, filled by the feed's
    // slice (InnoDB has no commit-ordered id; see docs/mysql.md); prev_hash/hash stay for the shape of a
    // log row and are NULL (decision 0065: no hash on the write path).
    sql: (p) => `
CREATE TABLE IF NOT EXISTS ${p('log')} (
  id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  entity_type  VARCHAR(128) NOT NULL,
  entity_key   VARCHAR(512) NOT NULL,
  version      BIGINT       NOT NULL CHECK (version >= 1),
  action       VARCHAR(128) NOT NULL,
  actor        TEXT         NOT NULL,
  source_ip    TEXT,
  reason       TEXT,
  request_id   TEXT,
  command_id   TEXT,
  \`before\`     JSON,
  \`after\`      JSON,
  changed      JSON         NOT NULL,
  at           DATETIME(6)  NOT NULL,
  txid         BIGINT UNSIGNED,
  prev_hash    VARBINARY(32),
  hash         VARBINARY(32),
  before_delta BOOLEAN      NOT NULL DEFAULT FALSE,
  UNIQUE KEY log_entity_version (entity_type, entity_key, version),
  KEY log_feed (txid, id)
) ${TABLE} COMMENT 'Tally operation log: one row per changed entity row';

CREATE TABLE IF NOT EXISTS ${p('jobs')} (
  id          CHAR(36)     NOT NULL PRIMARY KEY,
  \`key\`       VARCHAR(255) UNIQUE,
  entity_type VARCHAR(128) NOT NULL,
  op          JSON         NOT NULL,
  fingerprint VARCHAR(128) NOT NULL,
  status      VARCHAR(16)  NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  total       INT          NOT NULL,
  changed     INT          NOT NULL DEFAULT 0,
  unchanged   INT          NOT NULL DEFAULT 0,
  rejected    INT          NOT NULL DEFAULT 0,
  chunks_done INT          NOT NULL DEFAULT 0,
  chunk_size  INT          NOT NULL CHECK (chunk_size > 0),
  lease_owner VARCHAR(64),
  lease_until DATETIME(6),
  error       TEXT,
  created_at  DATETIME(6)  NOT NULL,
  updated_at  DATETIME(6)  NOT NULL,
  finished_at DATETIME(6)
) ${TABLE};

CREATE TABLE IF NOT EXISTS ${p('job_items')} (
  job_id  CHAR(36)     NOT NULL,
  seq     INT          NOT NULL,
  \`key\`   VARCHAR(512) NOT NULL,
  status  VARCHAR(16)  NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'changed', 'unchanged', 'rejected')),
  reason  VARCHAR(32),
  message TEXT,
  PRIMARY KEY (job_id, seq),
  KEY job_items_pending (job_id, status, seq),
  FOREIGN KEY (job_id) REFERENCES ${p('jobs')} (id) ON DELETE CASCADE
) ${TABLE};
`,
  },
];

export const MYSQL_LATEST_VERSION = mysqlMigrations[mysqlMigrations.length - 1]!.version;
