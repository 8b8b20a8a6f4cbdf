#!/usr/bin/env bash
# A PostgreSQL primary and streaming replicas of it, all of the script's own, in a temporary folder, for the
# read-routing tests and the reads benchmark (MISSION §3, the ghost read). The replicas apply commits late on
# purpose (recovery_min_apply_delay) so a read after a write hits a stale replica deterministically.
#
# It never touches a server it did not start: the machine's PostgreSQL (5432) is left exactly as it was.
# The script's primary is initdb'd into $TALLY_PG_DIR/primary-$PRIMARY_PORT, each replica is a
# pg_basebackup of it in $TALLY_PG_DIR/replica-$REPLICA_PORT, and every server is stopped by its own pid
# (the one its data directory's postmaster.pid names, checked against the process's command line).
#
#   scripts/replica.sh start      start the primary (initdb on first use), create the replica if needed,
#                                 start it and wait until it streams
#   scripts/replica.sh catch-up   wait until the replica has replayed what the primary had written
#   scripts/replica.sh stop       clean shutdown of the replica; keeps its data directory and slot
#   scripts/replica.sh kill       crash the replica (immediate shutdown: clients are cut off mid-query)
#   scripts/replica.sh restart    start the replica again after stop/kill (same as start when it is down)
#   scripts/replica.sh set-delay MS   change the apply delay of the running replica (reload, no restart)
#   scripts/replica.sh status     "running <replay lsn>" or "stopped"
#   scripts/replica.sh destroy    kill the replica, remove its data directory, drop its slot
#   scripts/replica.sh down       stop every replica in $TALLY_PG_DIR, then the primary (data kept)
#   scripts/replica.sh purge      down, then remove $TALLY_PG_DIR
#   scripts/replica.sh primary-status   "running" or "stopped"
#
# Environment (all optional):
#   TALLY_PG_DIR=/tmp/tally-pg           where the script's servers live
#   PRIMARY_PORT=5436                    the script's primary (127.0.0.1, trust, user postgres)
#   REPLICA_PORT=5433                    the replica's port; several replicas differ by port
#   REPLICA_DIR=$TALLY_PG_DIR/replica-$REPLICA_PORT
#   REPLICA_APPLY_DELAY=500ms            recovery_min_apply_delay
#   REPLICA_SLOT=tally_replica_$REPLICA_PORT
#   PG_BIN                               default: the newest /usr/lib/postgresql/<major>/bin
#
# Safe to repeat: start on a running replica only re-applies the delay; a replica whose data directory is
# gone (or whose slot is) is rebuilt from scratch.
set -euo pipefail

CMD="${1:-}"
TALLY_PG_DIR="${TALLY_PG_DIR:-/tmp/tally-pg}"
PRIMARY_HOST=127.0.0.1
PRIMARY_PORT="${PRIMARY_PORT:-5436}"
PRIMARY_USER=postgres
PRIMARY_DIR="$TALLY_PG_DIR/primary-$PRIMARY_PORT"
PRIMARY_LOG="$PRIMARY_DIR.log"
REPLICA_PORT="${REPLICA_PORT:-5433}"
REPLICA_DIR="${REPLICA_DIR:-$TALLY_PG_DIR/replica-$REPLICA_PORT}"
REPLICA_LOG="${REPLICA_LOG:-$REPLICA_DIR.log}"
REPLICA_APPLY_DELAY="${REPLICA_APPLY_DELAY:-500ms}"
REPLICA_SLOT="${REPLICA_SLOT:-tally_replica_$REPLICA_PORT}"
PG_USER_OS="${PG_USER_OS:-postgres}"

die() { echo "replica.sh: $*" >&2; exit 1; }
note() { echo "replica.sh: $*" >&2; }

[[ "$PRIMARY_PORT" =~ ^[0-9]+$ ]] || die "PRIMARY_PORT must be a number"
[[ "$REPLICA_PORT" =~ ^[0-9]+$ ]] || die "REPLICA_PORT must be a number"
[ "$PRIMARY_PORT" != "$REPLICA_PORT" ] || die "PRIMARY_PORT and REPLICA_PORT must differ"
[[ "$REPLICA_SLOT" =~ ^[a-z0-9_]+$ ]] || die "REPLICA_SLOT must match [a-z0-9_]+"

# PostgreSQL refuses to run as root: run its binaries as the postgres OS user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER_OS" -- "$@"; else "$@"; fi
}

psql_primary() { psql -X -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" -d postgres -At -v ON_ERROR_STOP=1 "$@"; }
psql_replica() { psql -X -q -h 127.0.0.1 -p "$REPLICA_PORT" -U "$PRIMARY_USER" -d postgres -At "$@"; }

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then echo "$newest"; return; fi
  dirname "$(command -v initdb || die "no initdb found; install PostgreSQL's server package or set PG_BIN")"
}

# The pid of the server running in a data directory, or nothing. A postmaster.pid left by a crash, or
# naming a pid that now belongs to another process, does not count: the command line must name the dir.
server_pid() { # dir
  local pid
  [ -f "$1/postmaster.pid" ] || return 0
  pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$1"; then echo "$pid"; fi
}

# Stops the server of a data directory by its own pid. SIGINT is PostgreSQL's fast shutdown, SIGQUIT its
# immediate one (a crash: recovery runs at the next start).
stop_server() { # dir fast|immediate
  local pid sig=INT
  [ "$2" = immediate ] && sig=QUIT
  pid=$(server_pid "$1")
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  die "the server in $1 (pid $pid) did not stop within 60 s"
}

# Starts the server of a data directory. It must not inherit our descriptors: it would hold our locks and
# keep the caller's pipes (CI's output) open for as long as it runs.
start_server() { # dir log
  own_root
  as_pg touch "$2" 2>/dev/null || true
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    as_pg "$BIN/pg_ctl" -D "$1" -l "$2" -w -t 60 start </dev/null >/dev/null
  )
}

# The folder of the script's servers belongs to the postgres OS user, as initdb and pg_basebackup need.
own_root() {
  mkdir -p "$TALLY_PG_DIR"
  if [ "$(id -u)" = 0 ]; then chown "$PG_USER_OS" "$TALLY_PG_DIR"; fi
}

fresh_dir() { # dir: removed if there, made again, empty
  own_root
  as_pg rm -rf "$1"
  as_pg mkdir -p "$1"
  as_pg chmod 700 "$1"
}

init_primary() {
  note "creating the test primary in $PRIMARY_DIR (port $PRIMARY_PORT)"
  fresh_dir "$PRIMARY_DIR"
  as_pg "$BIN/initdb" -D "$PRIMARY_DIR" -U "$PRIMARY_USER" --auth=trust -E UTF8 --locale=C --no-sync \
    --no-instructions >/dev/null
  as_pg sh -c "cat >>'$PRIMARY_DIR/postgresql.conf'" <<EOF2
# written by tally scripts/replica.sh: a throwaway primary for the read-routing tests
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
wal_level = replica
max_wal_senders = 16
max_replication_slots = 16
max_connections = 200
shared_buffers = 128MB
log_line_prefix = '%m [%p] primary $PRIMARY_PORT: '
EOF2
  as_pg sh -c "printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n' >'$PRIMARY_DIR/pg_hba.conf'"
}

wait_primary() {
  for _ in $(seq 1 120); do
    psql_primary -c 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  tail -n 20 "$PRIMARY_LOG" >&2 || true
  die "the test primary on $PRIMARY_HOST:$PRIMARY_PORT does not answer"
}

ensure_primary() {
  exec 8>"/tmp/tally-pg-primary-$PRIMARY_PORT.lock"
  flock 8
  if [ -z "$(server_pid "$PRIMARY_DIR")" ]; then
    [ -f "$PRIMARY_DIR/PG_VERSION" ] || init_primary
    if ! start_server "$PRIMARY_DIR" "$PRIMARY_LOG"; then
      tail -n 20 "$PRIMARY_LOG" >&2 || true
      die "the test primary in $PRIMARY_DIR would not start (is port $PRIMARY_PORT taken? set PRIMARY_PORT)"
    fi
    note "test primary running on $PRIMARY_HOST:$PRIMARY_PORT (pid $(server_pid "$PRIMARY_DIR"))"
  fi
  wait_primary
  exec 8>&-
}

running() { [ -n "$(server_pid "$REPLICA_DIR")" ]; }

primary_up() { psql_primary -c 'SELECT 1' >/dev/null 2>&1; }

write_delay_conf() {
  # Kept in its own file so set-delay can rewrite it without touching anything else.
  as_pg sh -c "printf '%s\n' \"recovery_min_apply_delay = '$REPLICA_APPLY_DELAY'\" >'$REPLICA_DIR/tally-delay.conf'"
  # ALTER SYSTEM works on a standby too, and postgresql.auto.conf would win over our file: clear it.
  if running; then
    psql_replica -c 'ALTER SYSTEM RESET recovery_min_apply_delay' >/dev/null
    kill -HUP "$(server_pid "$REPLICA_DIR")" # reload the configuration
  fi
}

write_conf() {
  local settings
  # A hot standby must have at least the primary's values for these, or it refuses to start.
  settings=$(psql_primary -F ' = ' -c "SELECT name, setting FROM pg_settings WHERE name IN
    ('max_connections','max_worker_processes','max_wal_senders','max_prepared_transactions',
     'max_locks_per_transaction')")
  as_pg sh -c "cat >'$REPLICA_DIR/postgresql.conf'" <<EOF2
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
EOF2
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
  local state
  for _ in $(seq 1 30); do
    state=$(slot_state)
    case "$state" in
      none) return 0 ;;
      inactive) psql_primary -c "SELECT pg_drop_replication_slot('$REPLICA_SLOT')" >/dev/null 2>&1 || true ;;
      active) sleep 0.5 ;; # the walsender of a replica that just died lingers for a moment
    esac
  done
  die "replication slot $REPLICA_SLOT stays active; is another replica using it?"
}

build() {
  note "creating replica in $REPLICA_DIR from the test primary on port $PRIMARY_PORT"
  # A slot left by an earlier replica may point at WAL long gone: a fresh copy gets a fresh slot.
  drop_slot
  fresh_dir "$REPLICA_DIR"
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

start() {
  ensure_primary
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
  if ! start_server "$REPLICA_DIR" "$REPLICA_LOG"; then
    # A data directory that cannot start (or lost its WAL) is rebuilt once from scratch.
    note "existing replica would not start; rebuilding"
    build
    start_server "$REPLICA_DIR" "$REPLICA_LOG"
  fi
  wait_streaming
  note "replica streaming on 127.0.0.1:$REPLICA_PORT (apply delay $REPLICA_APPLY_DELAY)"
}

# Waits until the replica has replayed everything the primary had written when this began. A replica
# that was stopped while the primary wrote a lot needs time to replay that backlog; tests that wait ~30 s
# for a new database to appear on it would fail meanwhile.
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

# Every replica first (a primary waits for its walsenders at a fast shutdown), then the primary.
down() {
  local dir
  for dir in "$TALLY_PG_DIR"/replica-*; do
    [ -d "$dir" ] && stop_server "$dir" fast
  done
  stop_server "$PRIMARY_DIR" fast
}

BIN=$(pg_bin)
exec 9>"/tmp/tally-replica-$REPLICA_PORT.lock"
flock 9

case "$CMD" in
  start) start ;;
  catch-up) ensure_primary; catch_up ;;
  restart) stop_server "$REPLICA_DIR" fast; start ;;
  stop) stop_server "$REPLICA_DIR" fast ;;
  kill) stop_server "$REPLICA_DIR" immediate ;;
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
  primary-status)
    if [ -n "$(server_pid "$PRIMARY_DIR")" ]; then echo running; else echo stopped; fi
    ;;
  destroy)
    stop_server "$REPLICA_DIR" immediate
    as_pg rm -rf "$REPLICA_DIR"
    rm -f "$REPLICA_LOG"
    if primary_up; then drop_slot; fi
    ;;
  down) down ;;
  purge)
    down
    rm -rf "$TALLY_PG_DIR"
    ;;
  *) die "usage: replica.sh start|stop|kill|restart|set-delay MS|status|destroy|catch-up|down|purge|primary-status" ;;
esac
