# shellcheck shell=bash
# The R client (clients/r), sourced by scripts/test: `R CMD check` (which runs the package's testthat
# tests against a polytrack server they start) and the conformance cases through the R executor.
# Only Debian packages: CRAN is not needed.

APT_PACKAGES+=(r-base-core r-cran-curl r-cran-jsonlite r-cran-testthat r-cran-withr)
BACKGROUND_SUITES+=(r)
SUITE_DESC[r]="R client: R CMD check (testthat against a live server) and conformance --client r"
SUITE_NEEDS[r]="apt"

suite_r() {
    local work="$ROOT/.cache/r-check" polytrack_command status
    polytrack_command=$(command -v polytrack) || { echo "suite r: no polytrack on PATH" >&2; return 1; }
    rm -rf "$work"
    mkdir -p "$work"
    (cd "$work" && R CMD build --no-manual "$ROOT/clients/r")
    # The tests start `polytrack server` themselves and must not skip (REQUIRE_SERVICES); no
    # LaTeX (--no-manual), no network, Suggests all installed from Debian.
    (
        cd "$work"
        POLYTRACK_SERVER_COMMAND="$polytrack_command" POLYTRACK_TEST_REQUIRE_SERVICES=1 \
            _R_CHECK_FORCE_SUGGESTS_=false _R_CHECK_CRAN_INCOMING_=false \
            _R_CHECK_CRAN_INCOMING_REMOTE_=false _R_CHECK_FUTURE_FILE_TIMESTAMPS_=false \
            R CMD check --no-manual polytrack_*.tar.gz
    ) || { tail -n 60 "$work"/polytrack.Rcheck/tests/testthat.Rout.fail 2>/dev/null; return 1; }
    status=$(grep '^Status:' "$work/polytrack.Rcheck/00check.log" || true)
    if [[ $status == *ERROR* || $status == *WARNING* ]]; then
        echo "suite r: R CMD check reported: ${status:-no status}" >&2
        return 1
    fi
    # The executor installs clients/r into .cache/r-lib when its sources changed.
    "$PYTHON" -m polytrack.cli conformance --client r --spawn -q --no-matrix
}
