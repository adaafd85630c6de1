# shellcheck shell=bash
# shellcheck disable=SC2034  # PG_STARTED, PG_URI and PG_PORT are read by the scripts that source this
# A throw-away PostgreSQL server on loopback for the tests. Source after common.sh; then:
#   pg_start   start (or reuse) the server; sets PG_URI, PG_PORT, and PG_STARTED=1 if this call started it
#   pg_stop    stop it (fast shutdown); a no-op when it isn't running
#   pg_status  exit 0 and print the URI when running
#
# Layout: PG_BASE (owned by user postgres) holds data/ (the cluster) and server.log. PG_BASE is
# <repo>/.cache/pgdata, unless user postgres cannot reach that folder (a parent directory that only
# root may enter), in which case it is /var/tmp/polytrack-pg-<hash of the repo path>.
# Settings (regenerated at every start into data/polytrack.conf): listen on 127.0.0.1 only, trust
# auth, fsync off (test data only), unix socket inside data/ (or /tmp when that path is too long).
#
# Environment: POLYTRACK_TEST_POSTGRES_PORT (default 55433). When the default port is taken by
# something else, the next free port is used instead; an explicitly chosen busy port is an error.

PG_DEFAULT_PORT=55433
PG_USER=postgres
PG_STARTED=0

pg_bindir() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    [[ -n $dir && -x $dir/pg_ctl ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (apt package postgresql)"
    echo "$dir"
}

# Run a command as the cluster's owner, from / (postgres may not be allowed into the current folder).
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_init_paths() {
    PG_BIN=$(pg_bindir)
    mkdir -p "$POLYTRACK_ROOT/.cache"
    PG_BASE=$POLYTRACK_ROOT/.cache/pgdata
    if [[ $EUID -eq 0 ]]; then
        id -u "$PG_USER" >/dev/null 2>&1 || die "user $PG_USER does not exist (apt package postgresql creates it)"
        if ! runuser -u "$PG_USER" -- test -x "$POLYTRACK_ROOT/.cache"; then
            local hash
            hash=$(printf '%s' "$POLYTRACK_ROOT" | sha256sum | cut -c1-12)
            PG_BASE=/var/tmp/polytrack-pg-$hash
        fi
    fi
    PGDATA_DIR=$PG_BASE/data
    PG_LOG=$PG_BASE/server.log
    PG_SOCKET_DIR=$PGDATA_DIR
    # A unix socket path is limited to 107 bytes: "<dir>/.s.PGSQL.<port>" must fit.
    if ((${#PG_SOCKET_DIR} > 80)); then
        PG_SOCKET_DIR=/tmp
    fi
}

# Exit 0 if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The postmaster pid when the server of our data dir is up, else nothing (exit 1). Guards against a
# pid file left by a crash whose pid now belongs to another process.
pg_running_pid() {
    local pidfile=$PGDATA_DIR/postmaster.pid pid cwd
    [[ -f $pidfile ]] || return 1
    pid=$(head -n 1 "$pidfile" 2>/dev/null)
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 1
    if cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null); then
        [[ $cwd == "$(cd "$PGDATA_DIR" && pwd -P)" ]] || return 1
    fi
    echo "$pid"
}

pg_uri() { echo "postgresql://postgres@127.0.0.1:$1/postgres"; }

# Remove what a server that died without shutting down left behind (only when it is not running).
pg_clear_stale() {
    local lock pid
    if [[ -f $PGDATA_DIR/postmaster.pid ]]; then
        warn "removing stale $PGDATA_DIR/postmaster.pid (server not running)"
        rm -f "$PGDATA_DIR/postmaster.pid"
    fi
    lock=$PG_SOCKET_DIR/.s.PGSQL.$PG_PORT.lock
    [[ -f $lock ]] || return 0
    pid=$(head -n 1 "$lock" 2>/dev/null)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then
        return 0  # a live server owns it: leave it alone (postgres then reports the conflict)
    fi
    rm -f "$lock" "${lock%.lock}"
}

pg_initdb() {
    local version
    version=$(basename "$(dirname "$PG_BIN")")
    if [[ -f $PG_BASE/.initialised && $(cat "$PGDATA_DIR/PG_VERSION" 2>/dev/null) == "$version" ]]; then
        return 0
    fi
    log "postgres: initialising a new cluster in $PGDATA_DIR (PostgreSQL $version)"
    rm -rf "$PGDATA_DIR" "$PG_BASE/.initialised"
    mkdir -p "$PG_BASE"
    [[ $EUID -ne 0 ]] || chown "$PG_USER:$PG_USER" "$PG_BASE"
    chmod 700 "$PG_BASE"
    as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust --encoding=UTF8 --no-locale \
        --no-sync >"$PG_BASE/initdb.log" 2>&1 \
        || { cat "$PG_BASE/initdb.log" >&2; die "initdb failed (log above)"; }
    echo "include_if_exists = 'polytrack.conf'" >>"$PGDATA_DIR/postgresql.conf"
    echo "$version" >"$PG_BASE/.initialised"
}

pg_write_conf() {
    local conf=$PGDATA_DIR/polytrack.conf
    cat >"$conf" <<CONF
# Written by scripts/lib/postgres.sh at every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF
    [[ $EUID -ne 0 ]] || chown "$PG_USER:$PG_USER" "$conf"
}

pg_choose_port() {
    PG_PORT=${POLYTRACK_TEST_POSTGRES_PORT:-$PG_DEFAULT_PORT}
    [[ $PG_PORT =~ ^[0-9]+$ ]] || die "POLYTRACK_TEST_POSTGRES_PORT must be a port number, not '$PG_PORT'"
    port_in_use "$PG_PORT" || return 0
    if [[ -n ${POLYTRACK_TEST_POSTGRES_PORT:-} ]]; then
        die "port $PG_PORT (POLYTRACK_TEST_POSTGRES_PORT) is already in use on 127.0.0.1; choose another"
    fi
    local p
    for ((p = PG_PORT + 1; p < PG_PORT + 100; p++)); do
        if ! port_in_use "$p"; then
            warn "port $PG_PORT is in use by something else; PostgreSQL for the tests uses $p"
            PG_PORT=$p
            return 0
        fi
    done
    die "no free port in $PG_PORT..$((PG_PORT + 99)); set POLYTRACK_TEST_POSTGRES_PORT"
}

pg_status() {
    pg_init_paths
    local pid
    pid=$(pg_running_pid) || return 1
    PG_PORT=$(sed -n 4p "$PGDATA_DIR/postmaster.pid")
    PG_URI=$(pg_uri "$PG_PORT")
    echo "$PG_URI"
}

pg_start() {
    pg_init_paths
    local pid
    if pid=$(pg_running_pid); then
        PG_PORT=$(sed -n 4p "$PGDATA_DIR/postmaster.pid")
        log "postgres: reusing the server already running (pid $pid, port $PG_PORT, $PGDATA_DIR)"
    else
        pg_initdb
        pg_choose_port
        pg_clear_stale
        pg_write_conf
        if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 -s start; then
            tail -n 30 "$PG_LOG" >&2 || true
            die "PostgreSQL failed to start (log: $PG_LOG)"
        fi
        PG_STARTED=1
        log "postgres: started on 127.0.0.1:$PG_PORT (data $PGDATA_DIR, log $PG_LOG)"
    fi
    PG_URI=$(pg_uri "$PG_PORT")
    local i
    for ((i = 0; i < 60; i++)); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1 && break
        sleep 0.5
    done
    "$PG_BIN/psql" "$PG_URI" -X -q -t -A -c 'select 1' >/dev/null \
        || die "PostgreSQL on 127.0.0.1:$PG_PORT does not accept $PG_URI (log: $PG_LOG)"
}

pg_stop() {
    pg_init_paths
    pg_running_pid >/dev/null || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 -s stop \
        || warn "pg_ctl stop failed for $PGDATA_DIR (log: $PG_LOG)"
}
