"""The REST workloads, sent byte-for-byte identically to every server.

Every workload creates its own experiment, loads its data untimed, sends a short untimed warm-up,
then times only the requests it measures. Request bodies are encoded before the clock starts.
Data is generated from a fixed seed, so the expected answers are known and checked.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from client import HttpError, RestClient, dumps, loads

T0 = 1_700_000_000_000  # base timestamp (ms) of every generated metric and run
BATCH = 1000  # metrics per log-batch request (MLflow's limit)


@dataclass(frozen=True)
class Sizes:
    log_metric_n: int
    log_batch_batches: int
    history_points: int
    history_reps: int
    search_runs: int
    search_reps: int
    create_run_n: int
    grpc_batches: int
    load_concurrency: int


FULL = Sizes(
    log_metric_n=3000,
    log_batch_batches=30,
    history_points=100_000,
    history_reps=5,
    search_runs=10_000,
    search_reps=5,
    create_run_n=2000,
    grpc_batches=300,
    load_concurrency=4,
)
QUICK = Sizes(
    log_metric_n=300,
    log_batch_batches=5,
    history_points=10_000,
    history_reps=3,
    search_runs=1000,
    search_reps=3,
    create_run_n=200,
    grpc_batches=40,
    load_concurrency=4,
)

Result = dict[str, Any]


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def log(message: str) -> None:
    print(f"    {message}", flush=True)


# --------------------------------------------------------------------------------------------
# helpers


def create_experiment(client: RestClient, name: str) -> str:
    return str(client.post("experiments/create", {"name": name})["experiment_id"])


def create_run(client: RestClient, experiment_id: str, name: str, start_time: int = T0) -> str:
    body = {"experiment_id": experiment_id, "run_name": name, "start_time": start_time}
    return str(client.post("runs/create", body)["run"]["info"]["run_id"])


def metric_batches(run_id: str, count: int, keys: int, offset: int = 0) -> list[bytes]:
    """`count` log-batch bodies of BATCH metrics spread over `keys` keys, steps increasing."""
    rng = random.Random(1234 + offset)
    bodies = []
    per_key = BATCH // keys
    for b in range(count):
        base = (offset + b) * per_key
        metrics = [
            {
                "key": f"k{j % keys}",
                "value": rng.random(),
                "timestamp": T0 + base + j // keys,
                "step": base + j // keys,
            }
            for j in range(BATCH)
        ]
        bodies.append(dumps({"run_id": run_id, "metrics": metrics}))
    return bodies


def load_post(client: RestClient, endpoint: str, body: bytes, attempts: int = 5) -> bytes:
    """POST for untimed data loading: retry 5xx answers (e.g. a busy SQLite) with backoff."""
    for attempt in range(attempts):
        try:
            return client.post_raw(endpoint, body)
        except HttpError as exc:
            if exc.status < 500 or attempt == attempts - 1:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def history_count(client: RestClient, run_id: str, key: str) -> int:
    return len(client.get("metrics/get-history", {"run_id": run_id, "metric_key": key}).get("metrics", []))


def timed_reps(reps: int, fn: Callable[[], Any]) -> tuple[list[float], Any]:
    """Run `fn` once untimed (warm-up), then `reps` times timed; return the times and last result."""
    result = fn()
    times = []
    cpu = time.process_time()
    for _ in range(reps):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    _client_cpu.append((time.process_time() - cpu, sum(times)))
    return times, result


# (client CPU seconds, wall seconds) of the last timed section, for the client-overhead figure
_client_cpu: list[tuple[float, float]] = []


def client_share() -> float:
    """Fraction of the last timed section's wall time the client spent on the CPU itself."""
    cpu, wall = _client_cpu[-1]
    return round(cpu / wall, 3) if wall else 0.0


ROUNDS = 3  # throughput workloads are timed in this many equal rounds; the median round is the figure


def throughput(
    post: Callable[[str, bytes], bytes], endpoint: str, bodies: Sequence[bytes], per_body: int, unit: str
) -> Result:
    """POST every body in turn, timed in ROUNDS equal rounds -> median items/s over the rounds.

    The median round is robust to a burst of other work on the machine; the overall rate is kept too.
    """
    size = -(-len(bodies) // ROUNDS)
    rounds = [bodies[i : i + size] for i in range(0, len(bodies), size)]
    rates = []
    cpu = time.process_time()
    total = 0.0
    for chunk in rounds:
        started = time.perf_counter()
        for body in chunk:
            post(endpoint, body)
        elapsed = time.perf_counter() - started
        total += elapsed
        rates.append(len(chunk) * per_body / elapsed)
    _client_cpu.append((time.process_time() - cpu, total))
    return {
        "unit": unit,
        "value": statistics.median(rates),
        "overall": len(bodies) * per_body / total,
        "rounds": [round(r, 1) for r in rates],
        "items": len(bodies) * per_body,
        "s": total,
        "client_cpu_share": client_share(),
    }


def latency_result(times: Sequence[float], **extra: Any) -> Result:
    return {
        "client_cpu_share": client_share(),
        "unit": "s",
        "value": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "reps": len(times),
        "times": [round(t, 6) for t in times],
        **extra,
    }


def parallel_load(
    make_client: Callable[[], RestClient],
    jobs: Iterable[Callable[[RestClient], None]],
    total: int,
    what: str,
    concurrency: int,
) -> None:
    """Run untimed loading jobs over a few keep-alive connections, printing progress."""
    local = threading.local()
    clients: list[RestClient] = []
    lock = threading.Lock()
    done = 0
    started = time.perf_counter()
    step = max(1, total // 10)

    def run(job: Callable[[RestClient], None]) -> None:
        nonlocal done
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = make_client()
            with lock:
                clients.append(client)
        job(client)
        with lock:
            done += 1
            if done % step == 0 or done == total:
                rate = done / (time.perf_counter() - started)
                log(f"loading {what}: {done}/{total} ({rate:.0f}/s)")

    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(run, job) for job in jobs]:
                future.result()
    finally:
        for client in clients:
            client.close()


# --------------------------------------------------------------------------------------------
# workloads


def log_metric(client: RestClient, sizes: Sizes, make_client: Callable[[], RestClient]) -> Result:
    """N single log-metric requests into one run -> requests/s."""
    exp = create_experiment(client, "bench-log-metric")
    run_id = create_run(client, exp, "log-metric")
    rng = random.Random(7)
    warm = [
        dumps({"run_id": run_id, "key": "warmup", "value": 0.5, "timestamp": T0 + i, "step": i})
        for i in range(50)
    ]
    bodies = [
        dumps({"run_id": run_id, "key": "loss", "value": rng.random(), "timestamp": T0 + i, "step": i})
        for i in range(sizes.log_metric_n)
    ]
    for body in warm:
        client.post_raw("runs/log-metric", body)
    result = throughput(client.post_raw, "runs/log-metric", bodies, 1, "requests/s")
    stored = history_count(client, run_id, "loss")
    check(stored == sizes.log_metric_n, f"log_metric stored {stored} points, sent {sizes.log_metric_n}")
    return result


def log_batch(client: RestClient, sizes: Sizes, make_client: Callable[[], RestClient]) -> Result:
    """log-batch requests of 1000 metrics each (20 keys x 50 steps) -> metric points/s."""
    exp = create_experiment(client, "bench-log-batch")
    run_id = create_run(client, exp, "log-batch")
    warm = metric_batches(run_id, 2, keys=20, offset=1_000_000)
    bodies = metric_batches(run_id, sizes.log_batch_batches, keys=20)
    for body in warm:
        client.post_raw("runs/log-batch", body)
    result = throughput(client.post_raw, "runs/log-batch", bodies, BATCH, "points/s")
    stored = history_count(client, run_id, "k0")
    check(stored == sizes.log_batch_batches * BATCH // 20 + 2 * 50, f"log_batch stored {stored} points of k0")
    return result


def metric_history(client: RestClient, sizes: Sizes, make_client: Callable[[], RestClient]) -> Result:
    """Whole history of one metric (no max_results) -> seconds per fetch.

    Timed: sending the request and receiving the whole body. The JSON is parsed (to check the
    point count) after the clock stops, so the client's parser is not part of the figure.
    """
    exp = create_experiment(client, "bench-metric-history")
    run_id = create_run(client, exp, "metric-history")
    n_batches = sizes.history_points // BATCH
    for i, body in enumerate(metric_batches(run_id, n_batches, keys=1)):
        load_post(client, "runs/log-batch", body)
        if (i + 1) % max(1, n_batches // 5) == 0:
            log(f"loading history: {(i + 1) * BATCH}/{sizes.history_points} points")
    params = {"run_id": run_id, "metric_key": "k0"}
    times, raw = timed_reps(sizes.history_reps, lambda: client.get_raw("metrics/get-history", params))
    metrics = loads(raw).get("metrics", [])
    check(len(metrics) == sizes.history_points, f"history returned {len(metrics)} points")
    check(
        [m["step"] for m in metrics[:3]] == [0, 1, 2] and metrics[-1]["step"] == sizes.history_points - 1,
        "history is not in step order",
    )
    return latency_result(times, points=len(metrics), response_bytes=len(raw))


@dataclass
class SearchData:
    experiment_id: str
    names: list[str]
    m0: list[float]
    m1: list[float]


def load_search_runs(client: RestClient, sizes: Sizes, make_client: Callable[[], RestClient]) -> SearchData:
    """runs/create (3 tags) + log-batch (5 params, 5 metrics) per run, over a few connections."""
    exp = create_experiment(client, "bench-search")
    rng = random.Random(42)
    n = sizes.search_runs
    names = [f"run-{i:05d}" for i in range(n)]
    values = [[rng.random() for _ in range(5)] for _ in range(n)]

    def job(i: int) -> Callable[[RestClient], None]:
        def load(c: RestClient) -> None:
            tags = [{"key": f"t{k}", "value": f"tag-{k}-{i % (k + 3)}"} for k in range(3)]
            body = {"experiment_id": exp, "run_name": names[i], "start_time": T0 + i, "tags": tags}
            run_id = loads(load_post(c, "runs/create", dumps(body)))["run"]["info"]["run_id"]
            batch = {
                "run_id": run_id,
                "params": [{"key": f"p{k}", "value": f"v{k}-{i % (k + 7)}"} for k in range(5)],
                "metrics": [
                    {"key": f"m{k}", "value": values[i][k], "timestamp": T0 + i, "step": 0} for k in range(5)
                ],
            }
            load_post(c, "runs/log-batch", dumps(batch))

        return load

    parallel_load(make_client, (job(i) for i in range(n)), n, "search runs", sizes.load_concurrency)
    return SearchData(exp, names, [v[0] for v in values], [v[1] for v in values])


def _page_names(page: dict[str, Any]) -> list[str]:
    return [run["info"]["run_name"] for run in page.get("runs", [])]


def search_runs(client: RestClient, sizes: Sizes, make_client: Callable[[], RestClient]) -> Result:
    """Three runs/search queries over one experiment of N runs -> seconds per query (or per pass)."""
    data = load_search_runs(client, sizes, make_client)
    n = sizes.search_runs
    exp = data.experiment_id
    out: Result = {}

    # (a) filter on a metric; default order is start_time DESC, so the newest matching runs first.
    body_a = dumps({"experiment_ids": [exp], "filter": "metrics.m0 > 0.5", "max_results": 100})
    times, raw = timed_reps(sizes.search_reps, lambda: client.post_raw("runs/search", body_a))
    expected = [data.names[i] for i in reversed(range(n)) if data.m0[i] > 0.5][:100]
    got = _page_names(loads(raw))
    check(got == expected, f"search filter: got {len(got)} runs, not the expected {len(expected)}")
    out["search_filter"] = latency_result(times, results=len(got))

    # (b) order by a metric.
    body_b = dumps({"experiment_ids": [exp], "order_by": ["metrics.m1 DESC"], "max_results": 100})
    times, raw = timed_reps(sizes.search_reps, lambda: client.post_raw("runs/search", body_b))
    expected = [data.names[i] for i in sorted(range(n), key=lambda i: -data.m1[i])][:100]
    got = _page_names(loads(raw))
    check(got == expected, f"search order_by: got {len(got)} runs, not the expected {len(expected)}")
    out["search_order_by"] = latency_result(times, results=len(got))

    # (c) page through everything, 1000 at a time (parsing each page is needed for its token).
    def page_all() -> list[str]:
        names: list[str] = []
        token = None
        while True:
            body: dict[str, Any] = {"experiment_ids": [exp], "max_results": 1000}
            if token:
                body["page_token"] = token
            page = client.post("runs/search", body)
            names.extend(_page_names(page))
            token = page.get("next_page_token")
            if not token:
                return names

    reps = max(1, sizes.search_reps - 2)
    times, names = timed_reps(reps, page_all)
    check(len(names) == n and set(names) == set(data.names), f"paging returned {len(names)} of {n} runs")
    out["search_paging"] = latency_result(times, results=len(names), pages=-(-n // 1000))
    return out


def create_runs(client: RestClient, sizes: Sizes, make_client: Callable[[], RestClient]) -> Result:
    """N runs/create requests (with the tags the MLflow Python client sends) -> runs/s."""
    exp = create_experiment(client, "bench-create-run")

    def body(i: int) -> bytes:
        tags = [
            {"key": "mlflow.user", "value": "bench"},
            {"key": "mlflow.source.name", "value": "bench/run.py"},
            {"key": "mlflow.source.type", "value": "LOCAL"},
        ]
        return dumps({"experiment_id": exp, "run_name": f"cr-{i}", "start_time": T0 + i, "tags": tags})

    for i in range(20):
        client.post_raw("runs/create", body(-1 - i))
    bodies = [body(i) for i in range(sizes.create_run_n)]
    result = throughput(client.post_raw, "runs/create", bodies, 1, "runs/s")
    found = client.post("runs/search", {"experiment_ids": [exp], "max_results": 50000}).get("runs", [])
    check(len(found) == sizes.create_run_n + 20, f"create_run: {len(found)} runs found")
    return result


# name -> (function, whether it returns several sub-results keyed by name)
REST_WORKLOADS: dict[str, tuple[Callable[[RestClient, Sizes, Callable[[], RestClient]], Result], bool]] = {
    "log_metric": (log_metric, False),
    "log_batch": (log_batch, False),
    "metric_history": (metric_history, False),
    "search_runs": (search_runs, True),
    "create_run": (create_runs, False),
}
