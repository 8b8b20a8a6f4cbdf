#!/usr/bin/env bash
# A MariaDB primary and a delayed replica of it, both of the script's own, in a temporary folder: for the
# MySQL dialect's read-routing tests and benchmarks (MISSION §3, the ghost read) and anything that needs a
# binlog (the machine's MariaDB on 3306 runs with the binlog off, and a test must not change it).
#
# It never touches a server it did not start. Each server is mariadb-install-db'd into its own data
# directory under $TALLY_MARIADB_DIR and stopped by the pid in its own pid file (checked against the
# process's command line, so a reused pid is never signalled).
#
#   scripts/mariadb-replica.sh start      start the primary (install on first use), then the replica;
#                                         wait until the replica's I/O and SQL threads run
#   scripts/mariadb-replica.sh catch-up   wait until the replica has executed the primary's GTID position
#                                         (ignores the delay: it waits as long as the delay needs)
#   scripts/mariadb-replica.sh set-delay S   MASTER_DELAY of the replica, in whole seconds (0 = none)
#   scripts/mariadb-replica.sh stop       stop the replica (data kept)
#   scripts/mariadb-replica.sh kill       SIGKILL the replica (a crash: clients cut off mid-query)
#   scripts/mariadb-replica.sh status     "running <gtid_slave_pos>" or "stopped"
#   scripts/mariadb-replica.sh down       stop the replica, then the primary (data kept)
#   scripts/mariadb-replica.sh purge      down, then remove $TALLY_MARIADB_DIR
#
# Environment (all optional):
#   TALLY_MARIADB_DIR=/tmp/tally-mariadb   where the servers live
#   MARIADB_PRIMARY_PORT=3307               the primary (127.0.0.1, root without a password)
#   MARIADB_REPLICA_PORT=3308               the replica
#   MARIADB_REPLICA_DELAY=1                 MASTER_DELAY in seconds at start (MariaDB counts whole seconds)
#
# Both servers use binlog_format=ROW, log_slave_updates and gtid_strict_mode, so a causal token can be a
# GTID position (MASTER_GTID_WAIT) and the binlog can be tailed.
set -euo pipefail

CMD="${1:-}"
DIR="${TALLY_MARIADB_DIR:-/tmp/tally-mariadb}"
P_PORT="${MARIADB_PRIMARY_PORT:-3307}"
R_PORT="${MARIADB_REPLICA_PORT:-3308}"
DELAY="${MARIADB_REPLICA_DELAY:-1}"
P_DIR="$DIR/primary-$P_PORT"
R_DIR="$DIR/replica-$R_PORT"

die() { echo "mariadb-replica.sh: $*" >&2; exit 1; }
note() { echo "mariadb-replica.sh: $*" >&2; }

[[ "$P_PORT" =~ ^[0-9]+$ ]] || die "MARIADB_PRIMARY_PORT must be a number"
[[ "$R_PORT" =~ ^[0-9]+$ ]] || die "MARIADB_REPLICA_PORT must be a number"
[ "$P_PORT" != "$R_PORT" ] || die "the primary and replica ports must differ"
[ "$P_PORT" != 3306 ] && [ "$R_PORT" != 3306 ] || die "3306 is the machine's server; pick other ports"
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || die "no mariadbd (install mariadb-server)"
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)

# mariadbd refuses to run as root without --user; as root the data belongs to the mysql OS user.
RUN_USER=$(id -un)
[ "$(id -u)" = 0 ] && RUN_USER=mysql

sql() { # port, then mariadb client args
  local port=$1; shift
  mariadb -h 127.0.0.1 -P "$port" -u root --protocol=TCP -N -B "$@"
}

# The pid of the server whose data directory is $1, or nothing: the pid file must name a live process
# whose command line names that directory.
server_pid() {
  local pid
  [ -f "$1/mariadbd.pid" ] || return 0
  pid=$(cat "$1/mariadbd.pid" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--datadir=$1" && echo "$pid"
  return 0
}

install_db() { # dir
  [ -d "$1/mysql" ] && return 0
  mkdir -p "$1"
  [ "$(id -u)" = 0 ] && chown -R mysql:mysql "$DIR"
  mariadb-install-db --no-defaults --datadir="$1" --user="$RUN_USER" --auth-root-authentication-method=normal \
    --skip-test-db >"$1.install.log" 2>&1 || { cat "$1.install.log" >&2; die "install into $1 failed"; }
}

start_server() { # dir port server_id extra...
  local dir=$1 port=$2 id=$3; shift 3
  if [ -n "$(server_pid "$dir")" ]; then return 0; fi
  install_db "$dir"
  "$MARIADBD" --no-defaults --datadir="$dir" --user="$RUN_USER" --port="$port" --bind-address=127.0.0.1 \
    --socket="$dir.sock" --pid-file="$dir/mariadbd.pid" --log-error="$dir.err" --server-id="$id" \
    --log-bin=binlog --binlog-format=ROW --log-slave-updates=ON --gtid-strict-mode=ON \
    --skip-name-resolve --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
    --max-connections=300 "$@" >/dev/null 2>&1 &
  for _ in $(seq 1 120); do
    if sql "$port" -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  tail -n 20 "$dir.err" >&2 || true
  die "the server in $dir did not answer on $port"
}

stop_server() { # dir signal
  local pid
  pid=$(server_pid "$1")
  [ -n "$pid" ] || return 0
  kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    [ -d "/proc/$pid" ] || return 0
    sleep 0.25
  done
  die "the server in $1 (pid $pid) did not stop"
}

[[ "$DELAY" =~ ^[0-9]+$ ]] || die "MARIADB_REPLICA_DELAY must be whole seconds"

replica_running() {
  # Vertical output keeps its field names only without -N, so this one query skips sql().
  local st
  st=$(mariadb -h 127.0.0.1 -P "$R_PORT" -u root --protocol=TCP -e "SHOW SLAVE STATUS\G" 2>/dev/null || true)
  grep -q 'Slave_IO_Running: Yes' <<<"$st" && grep -q 'Slave_SQL_Running: Yes' <<<"$st"
}

case "$CMD" in
  start)
    start_server "$P_DIR" "$P_PORT" 1
    sql "$P_PORT" -e "CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'"
    note "primary running on 127.0.0.1:$P_PORT (pid $(server_pid "$P_DIR"))"
    fresh=0; [ -d "$R_DIR/mysql" ] || fresh=1
    start_server "$R_DIR" "$R_PORT" 2 --read-only=ON
    if [ "$fresh" = 1 ] || ! replica_running; then
      # A fresh replica starts from an empty gtid_slave_pos, i.e. the primary's first event: the
      # script's primary keeps its whole binlog, so the replica gets every database it holds.
      sql "$R_PORT" -e "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$P_PORT,
        MASTER_USER='repl', MASTER_USE_GTID=slave_pos, MASTER_DELAY=$DELAY; START SLAVE" 2>/dev/null ||
        sql "$R_PORT" -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$P_PORT,
        MASTER_USER='repl', MASTER_USE_GTID=slave_pos, MASTER_DELAY=$DELAY; START SLAVE"
    fi
    for _ in $(seq 1 120); do replica_running && break; sleep 0.25; done
    replica_running || die "the replica on $R_PORT does not replicate (see $R_DIR.err)"
    note "replica running on 127.0.0.1:$R_PORT (pid $(server_pid "$R_DIR"), MASTER_DELAY $DELAY s)"
    ;;
  catch-up)
    pos=$(sql "$P_PORT" -e "SELECT @@gtid_binlog_pos")
    [ -z "$pos" ] && exit 0
    r=$(sql "$R_PORT" -e "SELECT MASTER_GTID_WAIT('$pos', 120)")
    [ "$r" = 0 ] || die "the replica did not reach $pos in 120 s"
    ;;
  set-delay)
    s="${2:-}"
    [[ "$s" =~ ^[0-9]+$ ]] || die "set-delay needs whole seconds"
    sql "$R_PORT" -e "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=$s; START SLAVE"
    ;;
  stop) stop_server "$R_DIR" TERM ;;
  kill) stop_server "$R_DIR" KILL ;;
  status)
    if [ -n "$(server_pid "$R_DIR")" ]; then
      echo "running $(sql "$R_PORT" -e 'SELECT @@gtid_slave_pos')"
    else
      echo stopped
    fi
    ;;
  down)
    stop_server "$R_DIR" TERM
    stop_server "$P_DIR" TERM
    ;;
  purge)
    stop_server "$R_DIR" TERM
    stop_server "$P_DIR" TERM
    rm -rf "$DIR"
    ;;
  *) die "usage: $0 start|catch-up|set-delay S|stop|kill|status|down|purge" ;;
esac
