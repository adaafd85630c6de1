"""Servers under test: `conformance/implementations/<name>.yaml`.

    name: mlflow
    description: the official MLflow tracking server
    transports: [REST]               # transports the server speaks
    mlflow_compatible_only: true     # run only cases with mlflow_compatible: true
    features: []                     # optional features it has (cases' requires_features)
    known_failures:                  # cases expected to fail, with the reason
      - cases: ["experiments/update/deleted-experiment"]   # name globs
        transports: [REST]           # optional; default every transport
        clients: [python]            # optional; default every client
        reason: MLflow answers 500 INVALID_STATE, a server error for a client mistake

A known failure that passes fails the run ("stale known failure"), and a known-failure glob that
matches no case is an error, so the list cannot go stale.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML ships no types; types-PyYAML is not a dependency

from conformance.runner.schema import ALL_TRANSPORTS, SUITE_DIR, LoadedCase

IMPLEMENTATIONS_DIR = SUITE_DIR / "implementations"


class ImplementationError(Exception):
    """An implementation file that cannot be used."""


@dataclass(frozen=True)
class KnownFailure:
    """Cases expected to fail on some transports and clients, and why."""

    cases: tuple[str, ...]
    transports: tuple[str, ...]
    clients: tuple[str, ...]
    reason: str

    def covers(self, case_name: str, transport: str, client: str) -> bool:
        return (
            any(fnmatch.fnmatchcase(case_name, pattern) for pattern in self.cases)
            and (not self.transports or transport in self.transports)
            and (not self.clients or client in self.clients)
        )


@dataclass(frozen=True)
class Implementation:
    """A server under test: what it speaks, what it offers, where it is known to fail."""

    name: str
    description: str
    transports: tuple[str, ...]
    mlflow_compatible_only: bool
    features: frozenset[str]
    known_failures: tuple[KnownFailure, ...]

    def known_failure(self, case_name: str, transport: str, client: str) -> KnownFailure | None:
        """The known-failure entry covering this case run, if any."""
        for entry in self.known_failures:
            if entry.covers(case_name, transport, client):
                return entry
        return None

    def runs(self, case: LoadedCase) -> bool:
        """Whether the case belongs in a run against this implementation at all."""
        return case.mlflow_compatible or not self.mlflow_compatible_only

    def check_globs(self, cases: list[LoadedCase]) -> None:
        """Raises when a known-failure glob matches no case (a renamed or deleted case)."""
        names = [case.name for case in cases]
        for entry in self.known_failures:
            for pattern in entry.cases:
                if not fnmatch.filter(names, pattern):
                    raise ImplementationError(
                        f"implementations/{self.name}.yaml: known failure {pattern!r} matches no case"
                    )


def available() -> list[str]:
    return sorted(path.stem for path in IMPLEMENTATIONS_DIR.glob("*.yaml"))


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ImplementationError(f"{where}: expected a list of strings")
    return tuple(value)


def load(name: str, directory: Path = IMPLEMENTATIONS_DIR) -> Implementation:
    """The implementation called `name` (`<directory>/<name>.yaml`)."""
    path = directory / f"{name}.yaml"
    if not path.is_file():
        raise ImplementationError(f"no implementation {name!r}: {path} does not exist (have: {available()})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("name") != name:
        raise ImplementationError(f"{path}: expected a mapping with name: {name}")
    transports = tuple(
        t.upper() for t in _strings(data.get("transports", list(ALL_TRANSPORTS)), f"{path}: transports")
    )
    if set(transports) - set(ALL_TRANSPORTS):
        raise ImplementationError(f"{path}: transports must be among {ALL_TRANSPORTS}")
    failures: list[KnownFailure] = []
    for index, entry in enumerate(data.get("known_failures") or []):
        where = f"{path}: known_failures[{index}]"
        if not isinstance(entry, dict) or not entry.get("cases") or not str(entry.get("reason", "")).strip():
            raise ImplementationError(f"{where}: needs `cases` (globs) and a `reason`")
        unknown = set(entry) - {"cases", "transports", "clients", "reason"}
        if unknown:
            raise ImplementationError(f"{where}: unknown keys {sorted(unknown)}")
        failures.append(
            KnownFailure(
                cases=_strings(entry["cases"], f"{where}.cases"),
                transports=tuple(t.upper() for t in _strings(entry.get("transports"), f"{where}.transports")),
                clients=_strings(entry.get("clients"), f"{where}.clients"),
                reason=str(entry["reason"]).strip(),
            )
        )
    return Implementation(
        name=name,
        description=str(data.get("description", "")),
        transports=transports,
        mlflow_compatible_only=bool(data.get("mlflow_compatible_only", False)),
        features=frozenset(_strings(data.get("features"), f"{path}: features")),
        known_failures=tuple(failures),
    )
