"""Application assembly: a registry store of its own is migrated, used and closed with the server,
and model versions may be registered from configured model source roots (live server)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from polytrack.client import Client
from polytrack.errors import PolytrackException
from polytrack_server.app import build_application
from polytrack_server.config import ServerConfig

READY = re.compile(r"polytrack server listening: (?P<url>http://\S+) grpc://(?P<grpc>\S+)")


def _count_closed_connections(engine: sa.Engine) -> list[int]:
    closed = [0]

    def on_close(_dbapi_connection: Any, _record: Any) -> None:
        closed[0] += 1

    sa.event.listen(engine.pool, "close", on_close)
    return closed


def test_separate_registry_store_is_migrated_used_and_disposed(tmp_path: Path) -> None:
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'tracking.db'}",
        registry_store_uri=f"sqlite:///{tmp_path / 'registry.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    application = build_application(config)
    registry_engine = application.registry_engine
    assert registry_engine is not None and registry_engine is not application.engine
    assert registry_engine.url.database == str(tmp_path / "registry.db")
    with registry_engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert "registered_models" in tables
    closed = _count_closed_connections(registry_engine)
    application.close()
    assert closed[0] >= 1, "the registry engine's pooled connections were not closed"


def test_shared_registry_store_has_no_engine_of_its_own(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    application = build_application(
        ServerConfig(backend_store_uri=uri, registry_store_uri=uri, artifacts_destination=str(tmp_path))
    )
    try:
        assert application.registry_engine is None
    finally:
        application.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """`polytrack server` with a registry database of its own and two extra model source roots
    (one from the command line's file: URI, one from the environment, which the command line
    replaces; so only the command line's count)."""
    released = tmp_path / "released-models"  # deliberately not created: roots need not exist
    command = [
        sys.executable, "-m", "polytrack.cli", "server",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'tracking.db'}",
        "--registry-store-uri", f"sqlite:///{tmp_path / 'registry.db'}",
        "--artifacts-destination", str(tmp_path / "artifacts"),
        "--model-source-root", released.as_uri() + "/",
        "--model-source-root", "s3://models-bucket/released",
        "--port", "0", "--grpc-port", "0",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONUNBUFFERED="1", POLYTRACK_MODEL_SOURCE_ROOTS="/ignored/by/the/cli")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path
    )
    output: list[str] = []
    ready = threading.Event()
    found: dict[str, str] = {}

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = READY.search(line)
            if match and not found:
                found.update(match.groupdict())
                ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        ready.wait(60)
        if not found:
            pytest.fail("server did not start:\n" + "".join(output), pytrace=False)
        yield found["url"], released, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def test_live_server_registers_versions_from_model_source_roots(
    server: tuple[str, Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    url, released, process = server
    with Client(url) as client:
        client.create_registered_model("churn")
        local = client.create_model_version("churn", f"{released.as_uri()}/churn/v1")
        assert (
            client.get_model_version_download_uri("churn", local.version) == f"{released.as_uri()}/churn/v1"
        )
        remote = client.create_model_version("churn", "s3://models-bucket/released/churn/v2")
        assert remote.version == "2"
        for outside in (
            f"{tmp_path}/elsewhere/m",
            "s3://models-bucket/other/m",
            "/ignored/by/the/cli/m",
            f"{released}/../escape",
        ):
            with pytest.raises(PolytrackException) as refused:
                client.create_model_version("churn", outside)
            assert refused.value.error_code == "INVALID_PARAMETER_VALUE", outside
    assert not released.exists()
    # The registry lives in its own database, and the server stops cleanly with it open.
    process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal it handled once it has drained, so the status is -SIGTERM.
    assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    registry = sa.create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    tracking = sa.create_engine(f"sqlite:///{tmp_path / 'tracking.db'}")
    try:
        with registry.connect() as connection:
            rows = connection.exec_driver_sql("SELECT count(*) FROM model_versions").scalar()
        assert rows == 2
        with tracking.connect() as connection:
            rows = connection.exec_driver_sql("SELECT count(*) FROM model_versions").scalar()
        assert rows == 0
    finally:
        registry.dispose()
        tracking.dispose()
