/**
 * Tally's own tables, as an ordered list of migrations. A migration is never edited once released:
 * a change is a new entry with the next version. `s` is the quoted schema name.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (s: string) => string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'operation log and chunked jobs',
    sql: (s) => `
CREATE TABLE ${s}.log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entity_type text        NOT NULL,
  entity_key  text        NOT NULL,
  version     bigint      NOT NULL CHECK (version >= 1),
  action      text        NOT NULL,
  actor       text        NOT NULL,
  source_ip   text,
  reason      text,
  request_id  text,
  command_id  text,
  before      jsonb,
  after       jsonb,
  changed     text[]      NOT NULL,
  at          timestamptz NOT NULL,
  txid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
  prev_hash   bytea,
  hash        bytea       NOT NULL,
  CONSTRAINT log_entity_version UNIQUE (entity_type, entity_key, version)
);
COMMENT ON TABLE ${s}.log IS 'Tally operation log: one row per changed entity row, hash-chained per entity';

CREATE TABLE ${s}.jobs (
  id          uuid        PRIMARY KEY,
  key         text        UNIQUE,
  entity_type text        NOT NULL,
  op          jsonb       NOT NULL,
  fingerprint text        NOT NULL,
  status      text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
  total       integer     NOT NULL,
  changed     integer     NOT NULL DEFAULT 0,
  unchanged   integer     NOT NULL DEFAULT 0,
  rejected    integer     NOT NULL DEFAULT 0,
  chunks_done integer     NOT NULL DEFAULT 0,
  chunk_size  integer     NOT NULL CHECK (chunk_size > 0),
  lease_owner text,
  lease_until timestamptz,
  error       text,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  finished_at timestamptz
);

CREATE TABLE ${s}.job_items (
  job_id uuid    NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
  seq    integer NOT NULL,
  key    text    NOT NULL,
  status text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'changed', 'unchanged', 'rejected')),
  reason text,
  message text,
  PRIMARY KEY (job_id, seq)
);
CREATE INDEX job_items_pending ON ${s}.job_items (job_id, seq) WHERE status = 'pending';
`,
  },
  {
    version: 2,
    name: 'once-only commands',
    sql: (s) => `
CREATE TABLE ${s}.commands (
  id          uuid        PRIMARY KEY,
  type        text        NOT NULL,
  principal   text        NOT NULL,
  key         text        NOT NULL,
  fingerprint text        NOT NULL,
  params      jsonb       NOT NULL,
  input       jsonb       NOT NULL,
  status      text        NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'compensating', 'succeeded', 'failed', 'needs_attention')),
  step_index  integer     NOT NULL DEFAULT 0 CHECK (step_index >= 0),
  decisions   jsonb       NOT NULL DEFAULT '{}',
  outputs     jsonb       NOT NULL DEFAULT '{}',
  result      jsonb,
  error       jsonb,
  attempts    integer     NOT NULL DEFAULT 0,
  next_at     timestamptz NOT NULL,
  lease_owner text,
  lease_until timestamptz,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  finished_at timestamptz,
  CONSTRAINT commands_idempotency UNIQUE (type, principal, key)
);
COMMENT ON TABLE ${s}.commands IS 'Tally once-only commands: idempotency key, fingerprint, input snapshot, state, decisions';
CREATE INDEX commands_due ON ${s}.commands (next_at) WHERE status IN ('pending', 'compensating');

CREATE TABLE ${s}.command_calls (
  command_id     uuid        NOT NULL REFERENCES ${s}.commands (id) ON DELETE CASCADE,
  step           text        NOT NULL,
  downstream_key text        NOT NULL UNIQUE,
  request        jsonb       NOT NULL,
  sends          integer     NOT NULL DEFAULT 0,
  queries        integer     NOT NULL DEFAULT 0,
  first_sent_at  timestamptz,
  last_sent_at   timestamptz,
  outcome        text        CHECK (outcome IN ('success', 'failure')),
  value          jsonb,
  resolved_by    text,
  resolved_at    timestamptz,
  created_at     timestamptz NOT NULL,
  PRIMARY KEY (command_id, step)
);

CREATE TABLE ${s}.command_events (
  id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  command_id uuid        NOT NULL REFERENCES ${s}.commands (id) ON DELETE CASCADE,
  kind       text        NOT NULL,
  step       text,
  data       jsonb,
  at         timestamptz NOT NULL
);
CREATE INDEX command_events_by_command ON ${s}.command_events (command_id, id);

CREATE TABLE ${s}.command_alerts (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  command_id   uuid        REFERENCES ${s}.commands (id) ON DELETE CASCADE,
  command_type text        NOT NULL,
  kind         text        NOT NULL,
  message      text        NOT NULL,
  data         jsonb,
  at           timestamptz NOT NULL,
  resolved_at  timestamptz
);
CREATE INDEX command_alerts_open ON ${s}.command_alerts (command_type, id) WHERE resolved_at IS NULL;
`,
  },
  {
    version: 3,
    name: 'command intake (failover store)',
    sql: (s) => `
CREATE TABLE ${s}.command_intake (
  id           uuid        PRIMARY KEY,
  type         text        NOT NULL,
  principal    text        NOT NULL,
  key          text        NOT NULL,
  fingerprint  text        NOT NULL,
  params       jsonb       NOT NULL,
  input        jsonb       NOT NULL,
  received_at  timestamptz NOT NULL,
  handed_over_at timestamptz,
  handover     text        CHECK (handover IN ('moved', 'merged', 'rejected')),
  primary_id   uuid,
  CONSTRAINT command_intake_key UNIQUE (type, principal, key)
);
COMMENT ON TABLE ${s}.command_intake IS 'Tally failover store: commands recorded while their primary was unreachable; no step runs here, each is handed over to the primary';
CREATE INDEX command_intake_open ON ${s}.command_intake (received_at) WHERE handed_over_at IS NULL;
`,
  },
  {
    version: 4,
    name: 'feed: consumers, inbox, commit-order cursor',
    // The feed reads both append-only tables by writing transaction (xid8), see decision 0040. The
    // NOTIFY is a wake-up hint only (delivered at commit, deduplicated per transaction): statement level
    // so a 100,000-row batch costs one call. The channel is the schema name plus _feed, cut to fit 63 bytes.
    // The triggers start disabled: a NOTIFY serializes commits cluster-wide (setFeedNotify turns them on).
    sql: (s) => `
CREATE INDEX log_feed ON ${s}.log (txid, id);
ALTER TABLE ${s}.command_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX command_events_feed ON ${s}.command_events (txid, id);

CREATE TABLE ${s}.feed_consumers (
  name         text        PRIMARY KEY,
  source       text        NOT NULL CHECK (source IN ('log', 'command_events')),
  entity_types text[],
  snapshot     text        NOT NULL,
  upper        text,
  after_id     bigint,
  delivered    bigint      NOT NULL DEFAULT 0,
  lease_owner  text,
  lease_until  timestamptz,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  CHECK ((upper IS NULL) = (after_id IS NULL))
);
COMMENT ON TABLE ${s}.feed_consumers IS 'Tally feed consumers: durable checkpoint (a pg_snapshot, plus the window being paged) and the lease of the process delivering';

CREATE TABLE ${s}.feed_inbox (
  consumer   text        NOT NULL,
  source     text        NOT NULL,
  entry_id   bigint      NOT NULL,
  applied_at timestamptz NOT NULL,
  PRIMARY KEY (consumer, source, entry_id)
);
COMMENT ON TABLE ${s}.feed_inbox IS 'Tally feed inbox: entries a consumer applied, so a redelivery is absorbed';

CREATE FUNCTION ${s}.feed_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('${s.slice(1, -1).slice(0, 58)}_feed', TG_ARGV[0]);
  RETURN NULL;
END
$fn$;
CREATE TRIGGER feed_notify AFTER INSERT ON ${s}.log
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.feed_notify('log');
CREATE TRIGGER feed_notify AFTER INSERT ON ${s}.command_events
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.feed_notify('command_events');
ALTER TABLE ${s}.log DISABLE TRIGGER feed_notify;
ALTER TABLE ${s}.command_events DISABLE TRIGGER feed_notify;
`,
  },
  {
    version: 5,
    name: 'log: previous-hash probes from the index alone',
    // A change finds each entity's previous log row by (entity_type, entity_key, version) only to read
    // its hash. With the hash in the index that probe is index-only: no visit to a log heap far larger
    // than memory (decision 0006). The constraint keeps its name and key columns, so nothing else moves.
    sql: (s) => `
ALTER TABLE ${s}.log DROP CONSTRAINT log_entity_version;
ALTER TABLE ${s}.log ADD CONSTRAINT log_entity_version UNIQUE (entity_type, entity_key, version) INCLUDE (hash);
`,
  },
  {
    version: 6,
    name: 'log: before image as the changed fields only',
    // true: `before` holds the old values of the changed fields only; the full before image is
    // `after || before` (decision 0007). Existing rows keep their full before images (false). A constant
    // default adds the column without rewriting the log.
    // The per-entity index takes each entity's next entry right beside its previous one, i.e. at random
    // places: leaves packed full by an in-order load (entities created in key order) split on the first
    // wave of changes. Fillfactor 70 leaves them room; it applies to pages filled from now on (an
    // existing index keeps its packing until a REINDEX).
    sql: (s) => `
ALTER TABLE ${s}.log ADD COLUMN before_delta boolean NOT NULL DEFAULT false;
ALTER INDEX ${s}.log_entity_version SET (fillfactor = 70);
`,
  },
  {
    version: 7,
    name: 'commands: retry budget by time, downstream breakers',
    // budget_from: where a command's retry deadline counts from (NULL: its created_at; a requeue sets it).
    // paused_on: the downstream whose open breaker holds the command; closing the breaker wakes them all
    // at once (decision 0027). Both nullable without a default: no rewrite of the commands table.
    sql: (s) => `
ALTER TABLE ${s}.commands ADD COLUMN budget_from timestamptz, ADD COLUMN paused_on text;
CREATE INDEX commands_paused ON ${s}.commands (paused_on) WHERE paused_on IS NOT NULL;

CREATE TABLE ${s}.downstreams (
  name        text        PRIMARY KEY,
  state       text        NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open')),
  failures    integer     NOT NULL DEFAULT 0,
  opened_at   timestamptz,
  probe_at    timestamptz,
  probes      integer     NOT NULL DEFAULT 0,
  probe_owner text,
  probe_until timestamptz,
  last_error  text,
  updated_at  timestamptz NOT NULL
);
COMMENT ON TABLE ${s}.downstreams IS 'Tally breakers: per downstream, consecutive unreachable calls, and while open when the next probe is due';
`,
  },
  {
    version: 8,
    name: 'alerts resolved by a person; calls the commands reconciler has settled',
    // resolved_status: the command's status when a person resolved the alert; the commands reconciler
    // does not raise the same mismatch again while the command is still in it (decision 0058).
    // reconciled_at: set once a finished command's call agreed with the downstream; a round reads only
    // calls without it, through a partial index that holds just those (decision 0058). Migrations run in
    // a transaction, so the index is built with a plain CREATE INDEX (it blocks writes to command_calls
    // while it is built). On a large table a DBA can run the last two statements first by hand, the index
    // CREATE INDEX CONCURRENTLY: both are IF NOT EXISTS, so the migration then finds them done.
    sql: (s) => `
ALTER TABLE ${s}.command_alerts ADD COLUMN resolved_by text, ADD COLUMN resolved_reason text,
  ADD COLUMN resolved_status text;
CREATE INDEX command_alerts_by_command ON ${s}.command_alerts (command_id, kind, id);
ALTER TABLE ${s}.command_calls ADD COLUMN IF NOT EXISTS reconciled_at timestamptz;
CREATE INDEX IF NOT EXISTS command_calls_unreconciled ON ${s}.command_calls (downstream_key)
  WHERE reconciled_at IS NULL;
`,
  },
  {
    version: 9,
    name: 'evidence: the sealed tree of the log and its signed checkpoints',
    // Decision 0060. seal_leaves: which log row is at which tree position — the tree follows the feed's
    // commit order, not id order, so the mapping is stored (a row per leaf; UNIQUE (origin, log_id) is how
    // a proof finds a row's position). seal_state: each log's frontier, written in the transaction that
    // moves the sealer's feed checkpoint, so the two never disagree. checkpoints: every signed
    // checkpoint's note as signed. All three new and empty: nothing existing is rewritten.
    sql: (s) => `
CREATE TABLE ${s}.seal_leaves (
  origin   text   NOT NULL,
  position bigint NOT NULL CHECK (position >= 0),
  log_id   bigint NOT NULL,
  PRIMARY KEY (origin, position),
  UNIQUE (origin, log_id)
);
CREATE TABLE ${s}.seal_state (
  origin    text   PRIMARY KEY,
  tree_size bigint NOT NULL CHECK (tree_size >= 0),
  frontier  jsonb  NOT NULL
);
CREATE TABLE ${s}.checkpoints (
  origin    text        NOT NULL,
  tree_size bigint      NOT NULL CHECK (tree_size >= 0),
  root_hash text        NOT NULL,
  at        timestamptz NOT NULL,
  note      text        NOT NULL,
  PRIMARY KEY (origin, tree_size)
);
COMMENT ON TABLE ${s}.checkpoints IS 'Tally evidence: signed checkpoints of the log''s Merkle tree (docs/evidence.md)';
`,
  },
  {
    version: 10,
    name: 'log: new rows carry no per-entity hash chain',
    // Decision 0065. Writers stop computing prev_hash/hash (the sealed tree and the per-entity version
    // sequence detect what the chain did); existing rows keep theirs, unrewritten, and readers still
    // check them. DROP NOT NULL is catalog-only (no scan, no rewrite; the lock is held for a moment).
    // log_chain records the last id written with a hash: a row at or below it without one had its hash
    // stripped, which verifiers report. max(id) is one probe of the primary key. The unique index keeps
    // (entity_type, entity_key, version) — the version sequence is the per-entity evidence now — and its
    // INCLUDE (hash), which a new row fills with a null (a bit, not 32 bytes): dropping it would rebuild
    // the index, which this migration must not do on a large log.
    sql: (s) => `
ALTER TABLE ${s}.log ALTER COLUMN hash DROP NOT NULL;
CREATE TABLE ${s}.log_chain (
  one             boolean     PRIMARY KEY DEFAULT true CHECK (one),
  last_chained_id bigint      NOT NULL,
  ended_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ${s}.log_chain (last_chained_id) SELECT coalesce(max(id), 0) FROM ${s}.log;
COMMENT ON TABLE ${s}.log_chain IS 'Tally: the per-entity hash chain ends at last_chained_id; later log rows carry no hash (decision 0065)';
`,
  },
  {
    version: 11,
    name: 'retention: expired command records, archived log ranges',
    // Decisions 0061 and 0062. commands_finished finds a type's finished commands oldest first, so a
    // prune chunk reads only what it deletes. On a PostgreSQL pool it is built CONCURRENTLY (online-plans.ts,
    // decision 0067); this text is the one-transaction form (PGlite, `online: false`).
    // log_archives: a range of tree positions written to an archive file (its name and sha256) and
    // deleted from the log; `deleted` is set once the last chunk of its rows is gone. New and empty.
    sql: (s) => `
CREATE INDEX IF NOT EXISTS commands_finished ON ${s}.commands (type, finished_at)
  WHERE status IN ('succeeded', 'failed');
CREATE TABLE ${s}.log_archives (
  origin          text        NOT NULL,
  from_position   bigint      NOT NULL CHECK (from_position >= 0),
  to_position     bigint      NOT NULL,
  checkpoint_size bigint      NOT NULL,
  file            text        NOT NULL,
  sha256          text        NOT NULL,
  rows            bigint      NOT NULL,
  archived_at     timestamptz NOT NULL,
  deleted         boolean     NOT NULL DEFAULT false,
  PRIMARY KEY (origin, from_position),
  CHECK (to_position > from_position AND to_position <= checkpoint_size)
);
COMMENT ON TABLE ${s}.log_archives IS 'Tally evidence: log ranges (tree positions) moved to archive files (docs/retention.md)';
`,
  },
  {
    version: 12,
    name: 'evidence: the roots of every 1024 sealed leaves',
    // Decision 0063. seal_chunks: the Merkle root of each complete, aligned run of 1024 tree positions,
    // written by the sealer in the transaction that appends them, so an inclusion proof reads one chunk of
    // rows and the chunk roots instead of every row. New and empty: logs sealed before keep proving the
    // long way until their chunks are written (a proof falls back when a chunk root is missing).
    sql: (s) => `
CREATE TABLE ${s}.seal_chunks (
  origin text   NOT NULL,
  chunk  bigint NOT NULL CHECK (chunk >= 0),
  root   text   NOT NULL,
  PRIMARY KEY (origin, chunk)
);
`,
  },
  {
    version: 13,
    name: 'observe: the head request trace context, needs_attention counted from an index',
    // Decision 0140. trace_context: the W3C traceparent of the request that submitted the command (null
    // when tracing was off), so a worker drive later links its spans to it. commands_attention answers the
    // needs_attention gauge at scrape time without reading the table (small: only commands waiting for a
    // person). Plain CREATE INDEX in the migration's transaction; on a large table a DBA builds it first by
    // hand CONCURRENTLY — IF NOT EXISTS, so the migration then finds it done.
    sql: (s) => `
ALTER TABLE ${s}.commands ADD COLUMN trace_context text;
CREATE INDEX IF NOT EXISTS commands_attention ON ${s}.commands (type) WHERE status = 'needs_attention';
`,
  },
  {
    version: 14,
    name: 'alert delivery outbox; operator actions',
    // Decision 0144. alert_deliveries: one row per alert, written by a statement-level trigger in the
    // transaction that raises the alert (every place that raises one, present or future), so an alert is
    // never raised without its delivery recorded. The worker claims due rows (next_at doubles as the lease),
    // sends to the configured channels and records which acknowledged; delivery_id is what a receiver
    // dedupes on. Decision 0145. operator_actions: every operator action with who and why. Both tables are
    // new and empty; the trigger takes a brief lock on command_alerts and scans nothing: no online plan.
    sql: (s) => `
CREATE TABLE ${s}.alert_deliveries (
  alert_id    bigint      PRIMARY KEY REFERENCES ${s}.command_alerts (id) ON DELETE CASCADE,
  delivery_id uuid        NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  status      text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'skipped')),
  acked       text[]      NOT NULL DEFAULT '{}',
  attempts    integer     NOT NULL DEFAULT 0,
  last_error  text,
  next_at     timestamptz NOT NULL,
  lease_owner text,
  created_at  timestamptz NOT NULL,
  done_at     timestamptz
);
COMMENT ON TABLE ${s}.alert_deliveries IS 'Tally alert outbox: each alert''s delivery to the configured webhook / NATS subject, attempts and last error';
CREATE INDEX alert_deliveries_due ON ${s}.alert_deliveries (next_at) WHERE status = 'pending';
CREATE FUNCTION ${s}.alert_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${s}.alert_deliveries (alert_id, next_at, created_at) SELECT id, at, at FROM raised;
  RETURN NULL;
END
$fn$;
CREATE TRIGGER alert_outbox AFTER INSERT ON ${s}.command_alerts REFERENCING NEW TABLE AS raised
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.alert_outbox();

CREATE TABLE ${s}.operator_actions (
  id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action  text        NOT NULL,
  target  text        NOT NULL,
  actor   text        NOT NULL,
  reason  text        NOT NULL,
  data    jsonb,
  at      timestamptz NOT NULL
);
COMMENT ON TABLE ${s}.operator_actions IS 'Tally operator actions: retry now, requeue, resolve an alert, resume a job, apply a repair, with who and why';
CREATE INDEX operator_actions_by_target ON ${s}.operator_actions (target, id);
`,
  },
  {
    version: 15,
    name: 'console: keyset indexes for the commands list, key lookup, rejected job items',
    // Decision 0141. The console lists commands newest first, keyset-paginated on (created_at, id), as one
    // ordered index range per status (UNION ALL): commands_status_created serves the list and the status
    // filter, the type and principal ones those filters, commands_key a lookup by idempotency key alone
    // (commands_idempotency leads with type). job_items_rejected holds only rejected items, so a job's
    // page reads them without passing its accepted ones. On a PostgreSQL pool all five are built
    // CONCURRENTLY (online-plans.ts, decision 0067); this text is the one-transaction form (PGlite).
    sql: (s) => `
CREATE INDEX IF NOT EXISTS commands_status_created ON ${s}.commands (status, created_at, id);
CREATE INDEX IF NOT EXISTS commands_type_status_created ON ${s}.commands (type, status, created_at, id);
CREATE INDEX IF NOT EXISTS commands_principal_status_created ON ${s}.commands (principal, status, created_at, id);
CREATE INDEX IF NOT EXISTS commands_key ON ${s}.commands (key);
CREATE INDEX IF NOT EXISTS job_items_rejected ON ${s}.job_items (job_id, seq) WHERE status = 'rejected';
`,
  },
  {
    version: 16,
    name: 'console: worker rounds per minute, reconcile results per entity type',
    // Decision 0146. worker_rounds: one row per worker per minute in which it claimed something, the
    // round's counts added in place (an upsert at most once a second per worker, none while idle); rows
    // older than a day are deleted by the workers as minutes turn. reconcile_runs: one row per entity
    // type per check (rows checked, findings) or repair (entries written); the last 50 of each type are
    // kept. Both new, small and empty: no online plan.
    sql: (s) => `
CREATE TABLE ${s}.worker_rounds (
  minute          timestamptz NOT NULL,
  worker          text        NOT NULL,
  rounds          integer     NOT NULL,
  claimed         integer     NOT NULL,
  succeeded       integer     NOT NULL,
  failed          integer     NOT NULL,
  needs_attention integer     NOT NULL,
  waiting         integer     NOT NULL,
  errors          integer     NOT NULL,
  busy_ms         bigint      NOT NULL,
  last_at         timestamptz NOT NULL,
  PRIMARY KEY (minute, worker)
);
COMMENT ON TABLE ${s}.worker_rounds IS 'Tally worker rounds that claimed commands, added up per worker per minute (the last day)';
CREATE TABLE ${s}.reconcile_runs (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entity_type text        NOT NULL,
  kind        text        NOT NULL CHECK (kind IN ('check', 'repair')),
  at          timestamptz NOT NULL,
  checked     bigint,
  log_entries bigint,
  findings    bigint,
  repaired    bigint,
  duration_ms integer     NOT NULL
);
COMMENT ON TABLE ${s}.reconcile_runs IS 'Tally reconcile results per entity type: each check (rows, findings) and repair (entries written), the last 50 of each';
CREATE INDEX reconcile_runs_by_type ON ${s}.reconcile_runs (entity_type, id);
`,
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
