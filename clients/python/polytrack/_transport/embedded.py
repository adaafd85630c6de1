"""The embedded transport: the server's own servicers, in this process, over a local database.

With a `sqlite:///path` or `postgresql://...` tracking URI there is no server: the client opens
the database, brings its schema up to date and calls the same servicers `polytrack server` runs
(assembled by `polytrack_server.app.build_services`, so every service the server offers is
offered here too). Validation, defaults and error codes are therefore the server's, and a
`PolytrackError` becomes the `PolytrackException` the REST and gRPC transports would raise.

New experiments' artifacts go under `default_artifact_root`: by default the absolute path of
`./polytrack-artifacts` (or $POLYTRACK_ARTIFACTS_DESTINATION / $POLYTRACK_DEFAULT_ARTIFACT_ROOT,
as for the server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from polytrack._transport.base import AttemptError, BaseTransport, RetryPolicy, Rpc
from polytrack._transport.fork_gate import fork_gate
from polytrack.errors import PolytrackException

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["EmbeddedTransport"]


def _exception_of(error: Exception) -> PolytrackException:
    from polytrack_server.errors import PolytrackError

    if isinstance(error, PolytrackError):
        return PolytrackException(error.message, error.code.name, error.code.http_status)
    return PolytrackException(f"{type(error).__name__}: {error}", "INTERNAL_ERROR", 500)


class EmbeddedTransport(BaseTransport):
    """Serves RPCs in-process from the database at `database_uri` (SQLite or PostgreSQL)."""

    speaks_polytrack_extensions = True

    def __init__(
        self,
        database_uri: str,
        *,
        default_artifact_root: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(retry)
        try:
            from polytrack_server.app import build_services
            from polytrack_server.config import from_environment
            from polytrack_server.rpc import implementation_name
            from polytrack_server.store.engine import create_engine_for
            from polytrack_server.store.migrations import upgrade_database
        except ModuleNotFoundError as error:  # pragma: no cover - only without the server's dependencies
            raise PolytrackException(
                f"A {database_uri.split(':', 1)[0]}: tracking URI needs the polytrack server's "
                f"dependencies, which are missing ({error.name}); install polytrack[postgres] for "
                "PostgreSQL, or use an http:// or grpc:// tracking URI",
                "INVALID_PARAMETER_VALUE",
            ) from error
        self._implementation_name = implementation_name
        config = from_environment(
            backend_store_uri=database_uri,
            serve_artifacts=False,
            default_artifact_root=default_artifact_root,
        )
        engine: sa.Engine | None = None
        try:
            with fork_gate.call():
                engine = create_engine_for(database_uri)
                upgrade_database(engine)
                services = build_services(config, engine)
        except Exception as error:
            if engine is not None:
                engine.dispose()
            raise _exception_of(error) from error
        self._engine = engine
        self.default_artifact_root = config.effective_default_artifact_root
        self._servicers: dict[str, Any] = {
            service.full_name: servicer for service, servicer in services.items()
        }

    def _attempt(self, rpc: Rpc, request: Message, timeout: float | None) -> Message:
        servicer = self._servicers.get(rpc.service.full_name)
        if servicer is None:
            raise PolytrackException(
                f"{rpc.service.full_name} is not served by the embedded store", "ENDPOINT_NOT_FOUND", 404
            )
        implementation = getattr(servicer, self._implementation_name(rpc.name))
        try:
            with fork_gate.call():
                response: Message = implementation(request)
        except Exception as error:
            exception = _exception_of(error)
            transient = exception.error_code == "TEMPORARILY_UNAVAILABLE"
            raise AttemptError(exception, transient=transient, delivered=True) from error
        return response

    def _after_fork_in_child(self) -> None:
        # The pooled connections are the parent's (idle: see fork_gate): forget them unclosed, as
        # closing would end the parent's PostgreSQL sessions; new ones open on demand.
        self._engine.dispose(close=False)

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()

    def __repr__(self) -> str:
        # The URL's password stays out of logs and tracebacks.
        return f"EmbeddedTransport({self._engine.url.render_as_string(hide_password=True)!r})"
