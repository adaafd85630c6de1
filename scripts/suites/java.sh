# shellcheck shell=bash
# The Java client (clients/java), sourced by scripts/test: `mvn verify` (generates the messages and gRPC
# stubs from proto/, compiles, runs the JUnit 5 tests, which start polytrack servers themselves, and
# builds the self-contained jar), then the conformance cases through the Java executor
# (conformance/executors/java, gRPC only). Maven Central downloads are cached in ~/.m2.

APT_PACKAGES+=(maven openjdk-17-jdk-headless openssl)
BACKGROUND_SUITES+=(java)
SUITE_DESC[java]="Java client: mvn verify (JUnit 5 against live servers) and conformance --client java"
SUITE_NEEDS[java]="apt"

# Maven, quiet and without progress bars; Debian's Maven prints bare colour resets even in batch mode,
# which only clutter a log, so they are dropped.
java_mvn() {
    local status
    mvn -B -q --no-transfer-progress -Dstyle.color=never -f "$ROOT/clients/java" "$@" 2>&1 | sed -u $'s/\e\\[0m//g'
    status=${PIPESTATUS[0]}
    return "$status"
}

# One line for `mvn -q`'s silence on success: how many JUnit tests ran, from surefire's reports.
java_test_summary() {
    local reports=("$ROOT"/clients/java/target/surefire-reports/TEST-*.xml)
    [[ -e ${reports[0]} ]] || return 0
    sed -n 's/.*<testsuite [^>]*tests="\([0-9]*\)".*/\1/p' "${reports[@]}" \
        | awk -v classes="${#reports[@]}" '{ n += $1 } END { printf "java: %d JUnit tests passed in %d classes\n", n, classes }'
}

suite_java() {
    # The tests start `python -m polytrack.cli server` with the interpreter scripts/test set up.
    POLYTRACK_PYTHON="$PYTHON" java_mvn verify
    java_test_summary
    "$PYTHON" -m polytrack.cli conformance --client java --spawn -q --no-matrix
}
