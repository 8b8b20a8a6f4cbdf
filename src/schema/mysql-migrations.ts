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
  {
    version: 2,
    name: 'once-only commands',
    // Decision 0132. What PostgreSQL's migrations 2, 3, 7, 8, 11 and 13 made for commands, as one table
    // set: commands (with budget_from, paused_on, trace_context), calls (with reconciled_at), events,
    // alerts (with who resolved them), the failover intake and the breakers. No partial indexes: `due_at`
    // is next_at while the command is unfinished and NULL after, so its index holds only what the worker
    // scans (PostgreSQL's commands_due WHERE status IN …), in the order it claims; the open-alert and
    // finished-command indexes lead with what PostgreSQL filtered on. Ids are CHAR(36) UUIDs, times
    // DATETIME(6) UTC, JSON as on migration 1. `params`, `input`,
    // `result` may hold a bare JSON string: readers CAST them to text and parse once (decision 0029).
    sql: (p) => `
CREATE TABLE IF NOT EXISTS ${p('commands')} (
  id            CHAR(36)     NOT NULL PRIMARY KEY,
  type          VARCHAR(128) NOT NULL,
  principal     VARCHAR(255) NOT NULL,
  \`key\`         VARCHAR(255) NOT NULL,
  fingerprint   VARCHAR(128) NOT NULL,
  params        JSON         NOT NULL,
  input         JSON         NOT NULL,
  status        VARCHAR(16)  NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'compensating', 'succeeded', 'failed', 'needs_attention')),
  step_index    INT          NOT NULL DEFAULT 0 CHECK (step_index >= 0),
  decisions     JSON         NOT NULL,
  outputs       JSON         NOT NULL,
  result        JSON,
  error         JSON,
  attempts      INT          NOT NULL DEFAULT 0,
  next_at       DATETIME(6)  NOT NULL,
  lease_owner   VARCHAR(255),
  lease_until   DATETIME(6),
  created_at    DATETIME(6)  NOT NULL,
  updated_at    DATETIME(6)  NOT NULL,
  finished_at   DATETIME(6),
  budget_from   DATETIME(6),
  paused_on     VARCHAR(255),
  trace_context VARCHAR(255),
  due_at        DATETIME(6)  GENERATED ALWAYS AS (CASE WHEN status IN ('pending', 'compensating') THEN next_at END) STORED,
  UNIQUE KEY commands_idempotency (type, principal, \`key\`),
  KEY commands_due (due_at),
  KEY commands_paused (paused_on),
  KEY commands_finished (type, status, finished_at)
) ${TABLE} COMMENT 'Tally once-only commands: idempotency key, fingerprint, input snapshot, state, decisions';

CREATE TABLE IF NOT EXISTS ${p('command_calls')} (
  command_id     CHAR(36)     NOT NULL,
  step           VARCHAR(128) NOT NULL,
  downstream_key VARCHAR(255) NOT NULL,
  request        JSON         NOT NULL,
  sends          INT          NOT NULL DEFAULT 0,
  queries        INT          NOT NULL DEFAULT 0,
  first_sent_at  DATETIME(6),
  last_sent_at   DATETIME(6),
  outcome        VARCHAR(16)  CHECK (outcome IN ('success', 'failure')),
  value          JSON,
  resolved_by    VARCHAR(32),
  resolved_at    DATETIME(6),
  created_at     DATETIME(6)  NOT NULL,
  reconciled_at  DATETIME(6),
  PRIMARY KEY (command_id, step),
  UNIQUE KEY command_calls_downstream_key (downstream_key),
  FOREIGN KEY (command_id) REFERENCES ${p('commands')} (id) ON DELETE CASCADE
) ${TABLE};

CREATE TABLE IF NOT EXISTS ${p('command_events')} (
  id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  command_id CHAR(36)     NOT NULL,
  kind       VARCHAR(64)  NOT NULL,
  step       VARCHAR(128),
  data       JSON,
  at         DATETIME(6)  NOT NULL,
  txid       BIGINT UNSIGNED,
  KEY command_events_by_command (command_id, id),
  KEY command_events_feed (txid, id),
  FOREIGN KEY (command_id) REFERENCES ${p('commands')} (id) ON DELETE CASCADE
) ${TABLE};

CREATE TABLE IF NOT EXISTS ${p('command_alerts')} (
  id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  command_id      CHAR(36),
  command_type    VARCHAR(128) NOT NULL,
  kind            VARCHAR(64)  NOT NULL,
  message         TEXT         NOT NULL,
  data            JSON,
  at              DATETIME(6)  NOT NULL,
  resolved_at     DATETIME(6),
  resolved_by     VARCHAR(255),
  resolved_reason TEXT,
  resolved_status VARCHAR(16),
  KEY command_alerts_open (command_type, resolved_at, id),
  KEY command_alerts_by_command (command_id, kind, id),
  FOREIGN KEY (command_id) REFERENCES ${p('commands')} (id) ON DELETE CASCADE
) ${TABLE};

CREATE TABLE IF NOT EXISTS ${p('command_intake')} (
  id             CHAR(36)     NOT NULL PRIMARY KEY,
  type           VARCHAR(128) NOT NULL,
  principal      VARCHAR(255) NOT NULL,
  \`key\`          VARCHAR(255) NOT NULL,
  fingerprint    VARCHAR(128) NOT NULL,
  params         JSON         NOT NULL,
  input          JSON         NOT NULL,
  received_at    DATETIME(6)  NOT NULL,
  handed_over_at DATETIME(6),
  handover       VARCHAR(16)  CHECK (handover IN ('moved', 'merged', 'rejected')),
  primary_id     CHAR(36),
  UNIQUE KEY command_intake_key (type, principal, \`key\`),
  KEY command_intake_open (handed_over_at, received_at)
) ${TABLE} COMMENT 'Tally failover store: commands recorded while their primary was unreachable';

CREATE TABLE IF NOT EXISTS ${p('downstreams')} (
  name        VARCHAR(255) NOT NULL PRIMARY KEY,
  state       VARCHAR(16)  NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open')),
  failures    INT          NOT NULL DEFAULT 0,
  opened_at   DATETIME(6),
  probe_at    DATETIME(6),
  probes      INT          NOT NULL DEFAULT 0,
  probe_owner VARCHAR(255),
  probe_until DATETIME(6),
  last_error  TEXT,
  updated_at  DATETIME(6)  NOT NULL
) ${TABLE} COMMENT 'Tally breakers: per downstream, consecutive unreachable calls and the next probe';
`,
  },
  {
    version: 3,
    name: 'feed: log transactions, consumers, inbox',
    // Decision 0134. log_tx: one row per log-writing statement, inserted (AUTO_INCREMENT seq) in the
    // writer's transaction before its log rows, which carry the seq as txid. A reader's snapshot is the set
    // of seqs committed at one instant (a consistent read); gaps are in flight (locked) or rolled back. A
    // reader proves a gap dead by inserting it itself (dead = TRUE): a writer holding that seq later gets a
    // duplicate key and takes another, so a dead seq never has log rows. feed_consumers and feed_inbox as
    // on PostgreSQL (decision 0041); positions keep pg_snapshot's text form (xmin:xmax:xip) over seqs.
    sql: (p) => `
CREATE TABLE IF NOT EXISTS ${p('log_tx')} (
  seq  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  dead BOOLEAN         NOT NULL DEFAULT FALSE
) ${TABLE} COMMENT 'Tally feed: one row per log-writing statement (decision 0134)';

CREATE TABLE IF NOT EXISTS ${p('log_tx_floor')} (
  id    TINYINT         NOT NULL PRIMARY KEY CHECK (id = 1),
  below BIGINT UNSIGNED NOT NULL
) ${TABLE} COMMENT 'Tally feed: every log_tx seq below this one is finished; their rows may be pruned (decision 0135)';
INSERT IGNORE INTO ${p('log_tx_floor')} (id, below) VALUES (1, 1);

CREATE TABLE IF NOT EXISTS ${p('feed_consumers')} (
  name         VARCHAR(128) NOT NULL PRIMARY KEY,
  source       VARCHAR(32)  NOT NULL CHECK (source IN ('log', 'command_events')),
  entity_types JSON,
  snapshot     MEDIUMTEXT   NOT NULL,
  upper        MEDIUMTEXT,
  after_id     BIGINT,
  delivered    BIGINT       NOT NULL DEFAULT 0,
  lease_owner  VARCHAR(64),
  lease_until  DATETIME(6),
  created_at   DATETIME(6)  NOT NULL,
  updated_at   DATETIME(6)  NOT NULL
) ${TABLE};

CREATE TABLE IF NOT EXISTS ${p('feed_inbox')} (
  consumer   VARCHAR(128) NOT NULL,
  source     VARCHAR(32)  NOT NULL,
  entry_id   BIGINT       NOT NULL,
  applied_at DATETIME(6)  NOT NULL,
  PRIMARY KEY (consumer, source, entry_id),
  KEY feed_inbox_applied (consumer, applied_at)
) ${TABLE};
`,
  },
];

export const MYSQL_LATEST_VERSION = mysqlMigrations[mysqlMigrations.length - 1]!.version;
