"""polytrack only: LogBatch over gRPC into SQLite, 1000 metric points per request -> points/s.

Uses the generated stub. Requests are built before the clock starts; up to `inflight` calls are
outstanding at once (unary futures on one channel), and each in-flight level is measured on its
own run so the figures do not share a history. Both forms of LogBatch are measured: `metrics`
(one Metric message per point, what MLflow-style clients send) and `metric_columns` (the packed
columns polytrack's own gRPC clients send); the figure is the better one, and both are reported.
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

import grpc
from client import RestClient
from workloads import BATCH, T0, CheckFailed, create_experiment, create_run, history_count

from polytrack.v1 import tracking_pb2, tracking_service_pb2, tracking_service_pb2_grpc

INFLIGHT_LEVELS = (1, 4)
KEYS = 20


FORMS = ("metrics", "metric_columns")


def _requests(
    run_id: str, count: int, offset: int = 0, form: str = "metrics"
) -> list[tracking_service_pb2.LogBatchRequest]:
    """`count` batches of 1000 points (KEYS keys, one step each per batch); the same points in
    either form."""
    rng = random.Random(99 + offset)
    per_key = BATCH // KEYS
    requests = []
    for b in range(count):
        base = (offset + b) * per_key
        values = [rng.random() for _ in range(BATCH)]
        steps = [base + j // KEYS for j in range(BATCH)]
        if form == "metric_columns":
            columns = tracking_pb2.MetricColumns(
                keys=[f"k{k}" for k in range(KEYS)],
                key_indexes=[j % KEYS for j in range(BATCH)],
                values=values,
                timestamps=[T0 + step for step in steps],
                steps=steps,
            )
            requests.append(tracking_service_pb2.LogBatchRequest(run_id=run_id, metric_columns=columns))
            continue
        metrics = [
            tracking_pb2.Metric(key=f"k{j % KEYS}", value=values[j], timestamp=T0 + steps[j], step=steps[j])
            for j in range(BATCH)
        ]
        requests.append(tracking_service_pb2.LogBatchRequest(run_id=run_id, metrics=metrics))
    return requests


def _ingest(stub: Any, requests: list[Any], inflight: int) -> float:
    pending: deque[Any] = deque()
    started = time.perf_counter()
    for request in requests:
        if len(pending) >= inflight:
            pending.popleft().result()
        pending.append(stub.LogBatch.future(request, timeout=120))
    while pending:
        pending.popleft().result()
    return time.perf_counter() - started


def grpc_log_batch(client: RestClient, grpc_target: str, batches: int) -> dict[str, Any]:
    exp = create_experiment(client, "bench-grpc-ingest")
    levels: dict[str, Any] = {}
    with grpc.insecure_channel(grpc_target) as channel:
        stub = tracking_service_pb2_grpc.TrackingServiceStub(channel)
        for form in FORMS:
            for inflight in INFLIGHT_LEVELS:
                run_id = create_run(client, exp, f"grpc-{form}-inflight-{inflight}")
                warm = _requests(run_id, 4, offset=1_000_000, form=form)
                requests = _requests(run_id, batches, form=form)
                _ingest(stub, warm, inflight)
                elapsed = _ingest(stub, requests, inflight)
                points = batches * BATCH
                stored = history_count(client, run_id, "k0")
                expected = (batches + len(warm)) * (BATCH // KEYS)
                if stored != expected:
                    raise CheckFailed(
                        f"grpc ingest ({form}) stored {stored} points of k0, expected {expected}"
                    )
                label = f"{form}, {inflight} in flight"
                levels[label] = {"points_per_s": points / elapsed, "points": points, "s": elapsed}
                print(f"    gRPC LogBatch {label}: {points / elapsed:,.0f} points/s", flush=True)
    best = max(levels, key=lambda k: levels[k]["points_per_s"])
    return {
        "unit": "points/s",
        "value": levels[best]["points_per_s"],
        "best": best,
        "levels": levels,
    }
