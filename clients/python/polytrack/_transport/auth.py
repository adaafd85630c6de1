"""Credentials and TLS settings of the remote transports, read from the environment.

The variables are MLflow's, with a POLYTRACK_ twin that wins when both are set:

* `POLYTRACK_TRACKING_TOKEN` / `MLFLOW_TRACKING_TOKEN`: a bearer token;
* `POLYTRACK_TRACKING_USERNAME` + `POLYTRACK_TRACKING_PASSWORD` (or MLFLOW_*): basic credentials,
  used when no token is set;
* `POLYTRACK_TRACKING_INSECURE_TLS` / `MLFLOW_TRACKING_INSECURE_TLS`: `true` skips certificate
  checks (https:// and grpcs://);
* `POLYTRACK_TRACKING_SERVER_CERT_PATH` / `MLFLOW_TRACKING_SERVER_CERT_PATH`: a CA bundle to trust.

REST sends the credentials as the `Authorization` header, gRPC as `authorization` metadata.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from polytrack._transport.base import environment_value


@dataclass(frozen=True)
class Credentials:
    """A bearer token, or a username and password; both empty means anonymous."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_environment(cls) -> Credentials:
        """Credentials from POLYTRACK_TRACKING_* (then MLFLOW_TRACKING_*) variables."""
        return cls(
            token=environment_value("POLYTRACK_TRACKING_TOKEN", "MLFLOW_TRACKING_TOKEN"),
            username=environment_value("POLYTRACK_TRACKING_USERNAME", "MLFLOW_TRACKING_USERNAME"),
            password=environment_value("POLYTRACK_TRACKING_PASSWORD", "MLFLOW_TRACKING_PASSWORD"),
        )

    def authorization(self) -> str | None:
        """The value of the Authorization header, or None when anonymous."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            return f"Basic {base64.b64encode(pair).decode('ascii')}"
        return None

    def __repr__(self) -> str:
        # Never print secrets (exceptions and logs may show the transport's settings).
        kind = "token" if self.token else "basic" if self.username else "anonymous"
        return f"Credentials({kind})"


@dataclass(frozen=True)
class TlsSettings:
    """How to check the server's certificate on https:// and grpcs://."""

    insecure: bool = False
    server_cert_path: str | None = None

    @classmethod
    def from_environment(cls) -> TlsSettings:
        """Settings from POLYTRACK_TRACKING_INSECURE_TLS / _SERVER_CERT_PATH (then MLFLOW_*)."""
        insecure = environment_value("POLYTRACK_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_INSECURE_TLS")
        return cls(
            insecure=(insecure or "").lower() in ("1", "true", "yes"),
            server_cert_path=environment_value(
                "POLYTRACK_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_SERVER_CERT_PATH"
            ),
        )
