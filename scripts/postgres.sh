#!/usr/bin/env bash
# Start, stop or inspect the PostgreSQL server that the tests use (the one scripts/test starts).
#
#   scripts/postgres.sh start    install PostgreSQL if missing, start (or reuse) the server, print its URI
#   scripts/postgres.sh stop     stop it
#   scripts/postgres.sh status   print its URI and exit 0 when running, else exit 1
#   scripts/postgres.sh env      print `export POLYTRACK_TEST_POSTGRES_URI=...` (for eval) when running
#   scripts/postgres.sh psql ... open psql on it
#
# A server started here stays up: scripts/test then reuses it and leaves it running.
# Port: POLYTRACK_TEST_POSTGRES_PORT (default 55433). Details: scripts/lib/postgres.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$here/lib/postgres.sh"
pg_init_paths

case "${1:-}" in
    start)
        apt_ensure postgresql
        pg_start
        echo "$PG_URI"
        ;;
    stop)
        pg_stop
        ;;
    status)
        pg_status || { echo "not running" >&2; exit 1; }
        ;;
    env)
        uri=$(pg_status) || { echo "not running (scripts/postgres.sh start)" >&2; exit 1; }
        printf 'export POLYTRACK_TEST_POSTGRES_URI=%q\n' "$uri"
        ;;
    psql)
        shift
        uri=$(pg_status) || die "not running (scripts/postgres.sh start)"
        exec "$PG_BIN/psql" "$uri" "$@"
        ;;
    *)
        sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
        exit 2
        ;;
esac
