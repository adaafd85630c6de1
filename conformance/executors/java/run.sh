#!/bin/sh
# Starts the Java conformance executor with the arguments the runner gives (--transport grpc --target ...).
# The jar is built by `mvn -B -q -f clients/java package` (scripts/test's java suite builds it first).
root=$(cd "$(dirname "$0")/../../.." && pwd -P)
jar=$root/clients/java/target/polytrack-client-all.jar
if [ ! -f "$jar" ]; then
    echo "executor java: $jar is missing; build it with: mvn -B -q -f clients/java package -DskipTests" >&2
    exit 2
fi
# A short-lived JVM answering a few hundred small calls: the C1 compiler alone starts fastest.
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$jar" dev.polytrack.conformance.ConformanceExecutor "$@"
