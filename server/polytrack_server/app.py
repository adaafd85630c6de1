"""Assembles one polytrack server: storage, servicers, the REST gateway and the gRPC edge.

Storage is created here and injected into the servicers (no module-level state), and both edges
are built from the same bound RPC methods, so every RPC is served identically on both transports.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import uvicorn
import uvloop
from google.protobuf.descriptor import ServiceDescriptor
from sqlalchemy import Engine
from starlette.types import ASGIApp

from polytrack.v1 import artifacts_service_pb2, model_registry_service_pb2, tracking_service_pb2
from polytrack_server.allocator import tune_allocator
from polytrack_server.artifacts.roots import artifact_roots_for
from polytrack_server.config import ServerConfig
from polytrack_server.gateway.app import build_gateway
from polytrack_server.gateway.artifact_routes import ArtifactsDisabled, artifact_routes
from polytrack_server.grpc_edge.server import build_grpc_server
from polytrack_server.rpc import Invoker, RpcMethod, bind_services
from polytrack_server.services.artifacts import ArtifactsServicer
from polytrack_server.services.model_sources import SourcePolicy
from polytrack_server.services.registry import ModelRegistryServicer
from polytrack_server.services.tracking import TrackingServicer
from polytrack_server.store.engine import create_engine_for
from polytrack_server.store.migrations import upgrade_database
from polytrack_server.store.registry import SqlRegistryStore
from polytrack_server.store.tracking import SqlTrackingStore

log = logging.getLogger("polytrack.server")

TRACKING_SERVICE = tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"]
ARTIFACTS_SERVICE = artifacts_service_pb2.DESCRIPTOR.services_by_name["ArtifactsService"]
REGISTRY_SERVICE = model_registry_service_pb2.DESCRIPTOR.services_by_name["ModelRegistryService"]


@dataclass
class Application:
    """The parts of a running server that outlive a single request."""

    config: ServerConfig
    engine: Engine
    methods: list[RpcMethod]
    invoker: Invoker
    gateway: ASGIApp
    # The model registry's engine when `registry_store_uri` names another database, else None.
    registry_engine: Engine | None = None

    def close(self) -> None:
        self.invoker.shutdown()
        self.engine.dispose()
        if self.registry_engine is not None:
            self.registry_engine.dispose()


def open_registry_engine(config: ServerConfig, engine: Engine, *, migrate: bool = True) -> Engine | None:
    """An engine of its own (migrated here unless `migrate` is False) when `registry_store_uri`
    names another database than the backend store, else None: the registry shares `engine`.
    Its owner disposes it."""
    if config.effective_registry_store_uri == config.backend_store_uri:
        return None
    registry_engine = create_engine_for(config.effective_registry_store_uri)
    if migrate:
        try:
            upgrade_database(registry_engine)
        except BaseException:
            registry_engine.dispose()
            raise
    return registry_engine


def build_services(
    config: ServerConfig, engine: Engine, registry_engine: Engine | None = None
) -> Mapping[ServiceDescriptor, Any]:
    """The servicers over `engine`; the registry's over `registry_engine` when given (see
    `open_registry_engine`; the caller disposes it). Without one, a registry store of its own is
    opened here as needed, and lives as long as the process (`build_application` passes one)."""
    if registry_engine is None:
        registry_engine = open_registry_engine(config, engine)
    tracking_store = SqlTrackingStore(engine, config.effective_default_artifact_root)
    roots = artifact_roots_for(config.artifacts_destination_path, config.effective_default_artifact_root)
    return {
        TRACKING_SERVICE: TrackingServicer(tracking_store, roots),
        ARTIFACTS_SERVICE: ArtifactsServicer(roots, tracking_store, serving=config.serve_artifacts),
        REGISTRY_SERVICE: build_registry_servicer(
            config, registry_engine if registry_engine is not None else engine, tracking_store
        ),
    }


def build_registry_servicer(
    config: ServerConfig, registry_engine: Engine, tracking_store: SqlTrackingStore
) -> ModelRegistryServicer:
    """The registry over `registry_engine`, accepting model version sources under the default
    artifact root and the configured `model_source_roots` (besides runs' artifact roots)."""
    store = SqlRegistryStore(registry_engine, tracking_store)
    roots = (config.effective_default_artifact_root, *config.model_source_roots)
    sources = SourcePolicy(roots, store.run_artifact_uri, store.get_model_version_download_uri)
    return ModelRegistryServicer(store, sources)


def _calls_are_cpu_bound(config: ServerConfig) -> bool:
    """Whether servicer calls only ever compute: SQLite databases and a single worker process,
    so no call waits on a network or on another process's lock (see `Invoker`)."""
    uris = (config.backend_store_uri, config.effective_registry_store_uri)
    return config.workers == 1 and all(uri.startswith("sqlite:") for uri in uris)


def build_application(config: ServerConfig, *, migrate: bool = True) -> Application:
    """Open (and by default migrate) the database and build both edges' shared parts."""
    engine = create_engine_for(config.backend_store_uri)
    registry_engine: Engine | None = None
    try:
        if migrate:
            upgrade_database(engine)
        registry_engine = open_registry_engine(config, engine, migrate=migrate)
        services = build_services(config, engine, registry_engine)
    except BaseException:
        engine.dispose()
        if registry_engine is not None:
            registry_engine.dispose()
        raise
    methods = bind_services(services)
    invoker = Invoker(calls_inline=_calls_are_cpu_bound(config))
    artifacts: ArtifactsServicer = services[ARTIFACTS_SERVICE]
    gateway: ASGIApp = build_gateway(methods, invoker, artifact_routes(artifacts.destination))
    if not config.serve_artifacts:
        gateway = ArtifactsDisabled(gateway)
    return Application(config, engine, methods, invoker, gateway, registry_engine)


def _listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        # Several worker processes accept on one port; the kernel spreads connections across them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve(config: ServerConfig, *, migrate: bool = True, announce: bool = True) -> None:
    """Serve REST and gRPC until SIGINT/SIGTERM, then drain in-flight requests and close storage."""
    application = build_application(config, migrate=migrate)
    http_socket = _listening_socket(config.host, config.port, reuse_port=config.workers > 1)
    grpc_server: grpc.aio.Server | None = None
    try:
        grpc_server, grpc_port = build_grpc_server(
            application.methods, application.invoker, f"{config.host}:{config.grpc_port}"
        )
        await grpc_server.start()
        http_port = http_socket.getsockname()[1]
        uvicorn_config = uvicorn.Config(
            application.gateway,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="httptools",
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(uvicorn_config)
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # collector's scans, which otherwise walk it again on every full collection.
        gc.collect()
        gc.freeze()
        # A page of runs allocates tens of thousands of dicts that die with the request; collecting
        # every 700 allocations walks them again and again.
        gc.set_threshold(50_000, 20, 20)
        if announce:
            # Tests and scripts wait for this line to learn the ports (which may have been 0).
            print(
                f"polytrack server listening: http://{config.host}:{http_port} grpc://{config.host}:{grpc_port}",
                flush=True,
            )
        await server.serve(sockets=[http_socket])
    finally:
        if grpc_server is not None:
            await grpc_server.stop(grace=10)
        http_socket.close()
        application.close()
        log.info("polytrack server stopped")


def _run_loop(config: ServerConfig, migrate: bool, announce: bool) -> None:
    # Before the first large buffer, in every worker process.
    tune_allocator()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(config, migrate=migrate, announce=announce))


def _run_worker(config: ServerConfig, announce: bool) -> None:
    # Leave the terminal's process group: the parent forwards each signal exactly once, because
    # uvicorn treats a second SIGINT as "exit now without draining".
    os.setpgrp()
    _run_loop(config, migrate=False, announce=announce)


def run(config: ServerConfig) -> None:
    """Run the server until interrupted: in this process, or as `config.workers` processes.

    With several workers the databases are migrated once here, then each worker serves both ports
    (SO_REUSEPORT); the parent forwards SIGINT/SIGTERM to each worker, which drains and stops.
    """
    config.validate()
    if config.workers == 1:
        _run_loop(config, migrate=True, announce=True)
        return
    # Migrate once here (workers start with migrate=False), the registry's own database included.
    build_application(config, migrate=True).close()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_run_worker, args=(config, index == 0), name=f"polytrack-worker-{index}")
        for index in range(config.workers)
    ]
    for worker in workers:
        worker.start()

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()
