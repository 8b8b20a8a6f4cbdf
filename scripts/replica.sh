#!/usr/bin/env bash
# A second PostgreSQL as a streaming replica of the local primary, for the read-routing tests and the
# reads benchmark (MISSION §3, the ghost read). The replica applies commits late on purpose
# (recovery_min_apply_delay) so a read after a write hits a stale replica deterministically.
#
#   scripts/replica.sh start      create (pg_basebackup) if needed, start, wait until it streams
#   scripts/replica.sh catch-up   wait until it has replayed what the primary had written (after a long stop)
#   scripts/replica.sh stop       clean shutdown; keeps the data directory and the slot (fast restart)
#   scripts/replica.sh kill       crash it (immediate shutdown: clients are cut off mid-query)
#   scripts/replica.sh restart    start again after stop/kill (same as start when already down)
#   scripts/replica.sh set-delay MS   change the apply delay of the running replica (reload, no restart)
#   scripts/replica.sh status     "running <replay lsn>" or "stopped"
#   scripts/replica.sh destroy    kill, remove the data directory and drop the primary's slot for it
#
# Environment (all optional):
#   PRIMARY_HOST=127.0.0.1 PRIMARY_PORT=5432 PRIMARY_USER=postgres   the primary (trust auth)
#   REPLICA_PORT=5433                    the replica's port; several replicas differ by port
#   REPLICA_DIR=/var/lib/postgresql/tally-replica-$REPLICA_PORT
#   REPLICA_APPLY_DELAY=500ms            recovery_min_apply_delay
#   REPLICA_SLOT=tally_replica_$REPLICA_PORT
#   PG_BIN                               default: /usr/lib/postgresql/<primary major>/bin
#
# Safe to repeat: start on a running replica only re-applies the delay; a replica whose data directory
# is gone is rebuilt from scratch, re-using or re-creating its replication slot. The primary is made
# ready idempotently (wal_level, max_wal_senders, a pg_hba replication entry) on a brand-new machine.
set -euo pipefail

CMD="${1:-}"
PRIMARY_HOST="${PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
PRIMARY_USER="${PRIMARY_USER:-postgres}"
REPLICA_PORT="${REPLICA_PORT:-5433}"
REPLICA_DIR="${REPLICA_DIR:-/var/lib/postgresql/tally-replica-$REPLICA_PORT}"
REPLICA_LOG="${REPLICA_LOG:-$REPLICA_DIR.log}"
REPLICA_APPLY_DELAY="${REPLICA_APPLY_DELAY:-500ms}"
REPLICA_SLOT="${REPLICA_SLOT:-tally_replica_$REPLICA_PORT}"
PG_USER_OS="${PG_USER_OS:-postgres}"

die() { echo "replica.sh: $*" >&2; exit 1; }
note() { echo "replica.sh: $*" >&2; }

[[ "$REPLICA_PORT" =~ ^[0-9]+$ ]] || die "REPLICA_PORT must be a number"
[[ "$REPLICA_SLOT" =~ ^[a-z0-9_]+$ ]] || die "REPLICA_SLOT must match [a-z0-9_]+"

# PostgreSQL refuses to run as root: run its binaries as the postgres OS user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER_OS" -- "$@"; else "$@"; fi
}

psql_primary() { psql -X -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" -d postgres -At -v ON_ERROR_STOP=1 "$@"; }
psql_replica() { psql -X -q -h 127.0.0.1 -p "$REPLICA_PORT" -U "$PRIMARY_USER" -d postgres -At "$@"; }

wait_primary() {
  for _ in $(seq 1 60); do
    psql_primary -c 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "primary $PRIMARY_HOST:$PRIMARY_PORT is not reachable"
}

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local major
  major=$(psql_primary -c 'SHOW server_version_num')
  major=$((major / 10000))
  if [ -x "/usr/lib/postgresql/$major/bin/pg_ctl" ]; then echo "/usr/lib/postgresql/$major/bin"; return; fi
  dirname "$(command -v pg_ctl || die "no pg_ctl for PostgreSQL $major; set PG_BIN")"
}

# Restarts the primary (only ever needed once, on a machine whose primary had replication disabled).
restart_primary() {
  local line ver name
  if command -v pg_lsclusters >/dev/null; then
    line=$(pg_lsclusters -h | awk -v p="$PRIMARY_PORT" '$3 == p { print $1, $2; exit }')
    if [ -n "$line" ]; then
      read -r ver name <<<"$line"
      note "restarting primary cluster $ver/$name to enable replication"
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" restart
      wait_primary
      return
    fi
  fi
  local data
  data=$(psql_primary -c 'SHOW data_directory')
  note "restarting primary at $data to enable replication"
  as_pg "$BIN/pg_ctl" -D "$data" -w restart -m fast >/dev/null
  wait_primary
}

prepare_primary() {
  exec 8>/tmp/tally-replica-primary.lock
  flock 8
  local restart=0 wal_level senders hba
  wal_level=$(psql_primary -c 'SHOW wal_level')
  if [ "$wal_level" = minimal ]; then
    psql_primary -c "ALTER SYSTEM SET wal_level = 'replica'" >/dev/null
    restart=1
  fi
  senders=$(psql_primary -c 'SHOW max_wal_senders')
  if [ "$senders" -lt 4 ]; then
    psql_primary -c "ALTER SYSTEM SET max_wal_senders = 10" >/dev/null
    restart=1
  fi
  # "all" in pg_hba's database column does not match replication connections: they need their own rule,
  # and the first rule that matches wins (Debian's default asks for a password we do not have).
  if [ "$(psql_primary -c "SELECT auth_method FROM pg_hba_file_rules
        WHERE error IS NULL AND type = 'host' AND 'replication' = ANY(database)
          AND ('all' = ANY(user_name) OR '$PRIMARY_USER' = ANY(user_name))
          AND (address IN ('all', 'samehost') OR address LIKE '127.%')
        ORDER BY line_number LIMIT 1")" != trust ]; then
    hba=$(psql_primary -c 'SHOW hba_file')
    [ -w "$hba" ] || die "cannot add a replication entry to $hba (run as root or the postgres user)"
    note "allowing local replication connections (trust) at the top of $hba"
    sed -i '1i # added by tally scripts/replica.sh: local streaming replicas for tests\
host replication all 127.0.0.1/32 trust\
local replication all trust' "$hba"
    psql_primary -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5
  fi
  if [ "$restart" = 1 ]; then restart_primary; fi
  exec 8>&-
}

running() { [ -f "$REPLICA_DIR/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$REPLICA_DIR" status >/dev/null 2>&1; }

write_delay_conf() {
  # Kept in its own file so set-delay can rewrite it without touching anything else.
  as_pg sh -c "printf '%s\n' \"recovery_min_apply_delay = '$REPLICA_APPLY_DELAY'\" >'$REPLICA_DIR/tally-delay.conf'"
  # ALTER SYSTEM works on a standby too, and postgresql.auto.conf would win over our file: clear it.
  if running; then
    psql_replica -c 'ALTER SYSTEM RESET recovery_min_apply_delay' >/dev/null
    as_pg "$BIN/pg_ctl" -D "$REPLICA_DIR" reload >/dev/null
  fi
}

write_conf() {
  local settings
  # A hot standby must have at least the primary's values for these, or it refuses to start.
  settings=$(psql_primary -F ' = ' -c "SELECT name, setting FROM pg_settings WHERE name IN
    ('max_connections','max_worker_processes','max_wal_senders','max_prepared_transactions',
     'max_locks_per_transaction')")
  as_pg sh -c "cat >'$REPLICA_DIR/postgresql.conf'" <<EOF
# written by tally scripts/replica.sh
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
hot_standby_feedback = on
shared_buffers = 64MB
wal_receiver_status_interval = 1s
log_line_prefix = '%m [%p] replica $REPLICA_PORT: '
$settings
include_if_exists = 'tally-delay.conf'
EOF
  as_pg sh -c "printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >'$REPLICA_DIR/pg_hba.conf'"
  as_pg sh -c ": >'$REPLICA_DIR/pg_ident.conf'"
  write_delay_conf
}

slot_state() { # prints: none | active | inactive
  psql_primary -c "SELECT CASE WHEN active THEN 'active' ELSE 'inactive' END FROM pg_replication_slots
    WHERE slot_name = '$REPLICA_SLOT'
    UNION ALL SELECT 'none' LIMIT 1"
}

drop_slot() {
  for _ in $(seq 1 30); do
    case "$(slot_state)" in
      none) return 0 ;;
      inactive) psql_primary -c "SELECT pg_drop_replication_slot('$REPLICA_SLOT')" >/dev/null 2>&1 || true ;;
      active) sleep 0.5 ;; # the walsender of a replica that just died lingers for a moment
    esac
  done
  die "replication slot $REPLICA_SLOT stays active; is another replica using it?"
}

build() {
  note "creating replica in $REPLICA_DIR from $PRIMARY_HOST:$PRIMARY_PORT"
  # A slot left by an earlier replica may point at WAL long gone: a fresh copy gets a fresh slot.
  drop_slot
  as_pg rm -rf "$REPLICA_DIR"
  as_pg mkdir -p "$REPLICA_DIR"
  as_pg chmod 700 "$REPLICA_DIR"
  as_pg "$BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" -D "$REPLICA_DIR" \
    -X stream -c fast -C -S "$REPLICA_SLOT" -R --no-verify-checksums >/dev/null
  write_conf
}

wait_streaming() {
  for _ in $(seq 1 120); do
    if [ "$(psql_replica -c "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null)" = 1 ]; then
      return 0
    fi
    sleep 0.5
  done
  tail -n 20 "$REPLICA_LOG" >&2 || true
  die "replica on port $REPLICA_PORT did not start streaming"
}

pg_start() {
  as_pg touch "$REPLICA_LOG" 2>/dev/null || true
  # The server must not inherit our descriptors: it would hold our locks and keep the caller's pipes
  # (CI's output) open for as long as it runs.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    as_pg "$BIN/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_LOG" -w -t 60 start </dev/null >/dev/null
  )
}

start() {
  prepare_primary
  if running; then
    write_delay_conf
    wait_streaming
    note "replica on port $REPLICA_PORT already running (apply delay $REPLICA_APPLY_DELAY)"
    return 0
  fi
  if [ ! -f "$REPLICA_DIR/PG_VERSION" ] || [ ! -f "$REPLICA_DIR/standby.signal" ] || [ "$(slot_state)" = none ]; then
    build
  else
    write_delay_conf
  fi
  if ! pg_start; then
    # A data directory that cannot start (or lost its WAL) is rebuilt once from scratch.
    note "existing replica would not start; rebuilding"
    build
    pg_start
  fi
  wait_streaming
  note "replica streaming on 127.0.0.1:$REPLICA_PORT (apply delay $REPLICA_APPLY_DELAY)"
}

# Waits until the replica has replayed everything the primary had written when this began. A replica
# that was stopped while the primary wrote a lot (benchmarks load and drop million-row tables) streams
# within a second of starting but needs minutes to replay that backlog; tests that wait ~30 s for a new
# database to appear on it would fail meanwhile.
catch_up() {
  running || die "replica on port $REPLICA_PORT is not running"
  local target replay behind waited=0
  target=$(psql_primary -c 'SELECT pg_current_wal_lsn()')
  while :; do
    replay=$(psql_replica -c 'SELECT pg_last_wal_replay_lsn()' 2>/dev/null || echo '')
    behind=unknown
    if [ -n "$replay" ]; then
      behind=$(psql_primary -c "SELECT greatest(0, pg_wal_lsn_diff('$target', '$replay'))::int8")
      [ "$behind" = 0 ] && break
    fi
    [ "$waited" -ge 900 ] && die "replica on port $REPLICA_PORT is still $behind bytes behind after 900 s"
    if [ $((waited % 10)) = 0 ]; then note "replica on port $REPLICA_PORT replaying: $behind bytes behind"; fi
    sleep 1
    waited=$((waited + 1))
  done
  note "replica on port $REPLICA_PORT has caught up with the primary (as of $target)"
}

stop() {
  if running; then as_pg "$BIN/pg_ctl" -D "$REPLICA_DIR" -w -m "$1" stop >/dev/null; fi
  return 0
}

wait_primary
BIN=$(pg_bin)
exec 9>"/tmp/tally-replica-$REPLICA_PORT.lock"
flock 9

case "$CMD" in
  start) start ;;
  catch-up) catch_up ;;
  restart) stop fast; start ;;
  stop) stop fast ;;
  kill) stop immediate ;;
  set-delay)
    [[ "${2:-}" =~ ^[0-9]+(ms|s)?$ ]] || die "usage: replica.sh set-delay MS (e.g. 200ms)"
    REPLICA_APPLY_DELAY="$2"
    running || die "replica on port $REPLICA_PORT is not running"
    write_delay_conf
    ;;
  status)
    if running; then echo "running $(psql_replica -c 'SELECT pg_last_wal_replay_lsn()' 2>/dev/null || echo '?')"
    else echo stopped; fi
    ;;
  destroy)
    stop immediate
    as_pg rm -rf "$REPLICA_DIR"
    rm -f "$REPLICA_LOG"
    drop_slot
    ;;
  *) die "usage: replica.sh start|stop|kill|restart|set-delay MS|status|destroy" ;;
esac
