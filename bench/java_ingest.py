"""Java client ingest: metric points per second through `ActiveRun` into a local polytrack (SQLite).

    python bench/java_ingest.py                # build the jar; 2,000,000 points, 20 keys, 4 in flight
    python bench/java_ingest.py --points 500000 --warmup 500000 --concurrency 2 --no-build

Builds clients/java (`mvn -B -q package -DskipTests`) unless --no-build, starts `polytrack server`
on free ports with a fresh SQLite file, runs bench/java_ingest.java: a warm-up run (2,000,000
points by default: the JIT compiles gRPC's and protobuf's paths for several seconds), then the
measured run, from the first `logMetric` until `close()` returned, i.e. after the final flush and
the end of the run. Checks that the server holds every point, and prints the figure with the CPU the
client and the server used meanwhile and the machine's load average before and after. Target:
>= 200,000 points/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JAR = REPO / "clients" / "java" / "target" / "polytrack-client-all.jar"
TARGET_POINTS_PER_SECOND = 200_000
_LISTENING = re.compile(r"polytrack server listening: http://\S+ grpc://(\S+)")


def build_jar() -> None:
    project = REPO / "clients" / "java"
    build = subprocess.run(
        ["mvn", "-B", "-q", "-f", str(project), "package", "-DskipTests"], capture_output=True, text=True
    )
    if build.returncode != 0:
        sys.exit(f"mvn package failed:\n{build.stdout}{build.stderr}")


def start_server(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "polytrack.cli", "server", "--host", "127.0.0.1", "--port", "0",
        "--grpc-port", "0", "--backend-store-uri", f"sqlite:///{workdir / 'db.sqlite'}",
        "--artifacts-destination", str(workdir / "artifacts"),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.stdout is not None
    deadline = time.monotonic() + 60
    for line in server.stdout:
        match = _LISTENING.search(line)
        if match:
            return server, match.group(1)
        if time.monotonic() > deadline:
            break
    server.kill()
    raise RuntimeError("polytrack server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--warmup", type=int, default=2_000_000)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4, help="LogBatch requests in flight")
    parser.add_argument("--no-build", action="store_true", help="use the jar as it is")
    args = parser.parse_args()
    if not args.no_build:
        build_jar()
    workdir = Path(tempfile.mkdtemp(prefix="polytrack-java-bench-"))
    # Compiled ahead, not by java's source launcher: javac inside the measured JVM would leave the JIT
    # compiling javac while the clock runs.
    classes = workdir / "classes"
    source = REPO / "bench" / "java_ingest.java"
    subprocess.run(["javac", "-cp", str(JAR), "-d", str(classes), str(source)], check=True)
    load_before = os.getloadavg()
    server, target = start_server(workdir)
    try:
        run = subprocess.run(
            ["java", "-cp", f"{JAR}{os.pathsep}{classes}", "JavaIngest", "--target", target,
             "--points", str(args.points), "--warmup", str(args.warmup), "--keys", str(args.keys),
             "--concurrency", str(args.concurrency), "--server-pid", str(server.pid)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in load_after]
    result["cpus"] = os.cpu_count()
    verdict = "pass" if result["points_per_second"] >= TARGET_POINTS_PER_SECOND else "below target"
    print(json.dumps(result))
    before = " ".join(map(str, result["load_average_before"]))
    after = " ".join(map(str, result["load_average_after"]))
    print(
        f"Java ActiveRun ingest: {result['points_per_second']:,.0f} points/s "
        f"({result['points']:,} points in {result['seconds']:.2f} s, {result['stored']:,} stored; "
        f"target {TARGET_POINTS_PER_SECOND:,}: {verdict}); CPU during it: client "
        f"{result['client_cpu_seconds'] / result['seconds']:.2f} cores, server "
        f"{result['server_cpu_seconds'] / result['seconds']:.2f} cores; load average {before} -> {after}"
    )
    return 0 if result["stored"] == result["points"] else 1


if __name__ == "__main__":
    sys.exit(main())
