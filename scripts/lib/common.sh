# shellcheck shell=bash
# Helpers shared by scripts/test and scripts/postgres.sh. Source this file; don't execute it.

POLYTRACK_ROOT=${POLYTRACK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}

log()  { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# Milliseconds since the epoch, and "12.3s" for the time since a value of it.
now_ms()     { local t; t=$(date +%s%N); echo $((t / 1000000)); }
elapsed_ms() { local d=$(($(now_ms) - $1)); printf '%d.%ds' $((d / 1000)) $((d % 1000 / 100)); }

# Run a command as root (we normally are root; otherwise try passwordless sudo).
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@" || die "needs root (passwordless sudo failed) for: $*"
    else
        die "needs root for: $*"
    fi
}

# Print those of the given Debian packages that are not installed.
apt_missing() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
    done
}

# Install the given Debian packages that are missing; `apt-get update` runs once, and only then.
apt_ensure() {
    local missing=()
    mapfile -t missing < <(apt_missing "$@")
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing Debian packages (${missing[*]}) and no apt-get here"
    log "apt: installing ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
    as_root "${apt[@]}" update -qq || die "apt-get update failed"
    as_root "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
    mapfile -t missing < <(apt_missing "$@")
    ((${#missing[@]} == 0)) || die "still not installed after apt-get install: ${missing[*]}"
}
