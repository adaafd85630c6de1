"""Executor processes: one per client library and transport, spoken to in JSON lines.

An executor is described by `conformance/executors/<client>/executor.yaml`:

    command: ["{python}", "{dir}/executor.py"]   # {python}: this interpreter; {dir}: that folder
    transports: [REST, GRPC]                      # what the client library can speak
    description: polytrack's Python client (clients/python)

The runner starts `command + ["--transport", "rest"|"grpc", "--target", TARGET]` with the
repository root as working directory, writes one request per line on its stdin and reads one
answer per line from its stdout (see README.md, "Executor protocol"). Its stderr goes to a log
file whose tail is shown when the executor misbehaves.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no types; types-PyYAML is not a dependency

from conformance.runner.schema import ALL_TRANSPORTS, REPO_ROOT, SUITE_DIR

EXECUTORS_DIR = SUITE_DIR / "executors"
CONFIG_NAME = "executor.yaml"
DEFAULT_TIMEOUT = 120.0


class ExecutorError(Exception):
    """The executor cannot be started, died, timed out or broke the protocol."""


@dataclass(frozen=True)
class ClientConfig:
    """How to start the executor of one client library."""

    name: str
    directory: Path
    command: tuple[str, ...]
    transports: tuple[str, ...]
    description: str


def available_clients() -> list[str]:
    """Clients that have an executor (a folder with executor.yaml)."""
    return sorted(p.parent.name for p in EXECUTORS_DIR.glob(f"*/{CONFIG_NAME}"))


def load_client(name: str) -> ClientConfig:
    """The executor configuration of client `name`."""
    directory = EXECUTORS_DIR / name
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise ExecutorError(
            f"no executor for client {name!r}: {path.relative_to(REPO_ROOT)} does not exist "
            f"(available: {', '.join(available_clients()) or 'none'}; README.md explains how to add one)"
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("command"), list) or not data["command"]:
        raise ExecutorError(f"{path}: expected a mapping with a non-empty `command` list")
    transports = tuple(str(t).upper() for t in data.get("transports", ALL_TRANSPORTS))
    bad = set(transports) - set(ALL_TRANSPORTS)
    if bad:
        raise ExecutorError(f"{path}: unknown transports {sorted(bad)}")
    command = tuple(
        str(part).replace("{python}", sys.executable).replace("{dir}", str(directory))
        for part in data["command"]
    )
    return ClientConfig(name, directory, command, transports, str(data.get("description", "")))


class Executor:
    """A running executor for one client and transport."""

    def __init__(self, config: ClientConfig, transport: str, target: str, log_path: Path) -> None:
        self.config = config
        self.transport = transport
        self.target = target
        self.log_path = log_path
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._next_id = 0
        self._log: Any = None

    @property
    def label(self) -> str:
        return f"{self.config.name}/{self.transport.lower()}"

    def start(self) -> None:
        program = self.config.command[0]
        if shutil.which(program) is None and not Path(program).is_file():
            raise ExecutorError(f"executor {self.config.name}: {program!r} is not installed or not on PATH")
        command = [*self.config.command, "--transport", self.transport.lower(), "--target", self.target]
        self._log = self.log_path.open("a", encoding="utf-8")
        self._log.write(f"$ {' '.join(command)}\n")
        self._log.flush()
        self._lines = queue.Queue()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=REPO_ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, args=(self._process, self._lines), daemon=True)
        self._reader.start()

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def _tail(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-20:])

    def call(self, request: dict[str, Any], timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Send one request (without its id) and return the executor's answer (without its id)."""
        if self._process is None or self._process.poll() is not None:
            self.start()
        assert self._process is not None and self._process.stdin is not None
        self._next_id += 1
        line = json.dumps({"id": self._next_id, **request}, ensure_ascii=False, allow_nan=False)
        try:
            self._process.stdin.write(line + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            self.close()
            raise ExecutorError(
                f"executor {self.label} is not reading its input ({error})\n{self._tail()}"
            ) from None
        try:
            answer = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise ExecutorError(f"executor {self.label} did not answer within {timeout:.0f} s") from None
        if answer is None:
            code = self._process.wait()
            self.close()
            raise ExecutorError(f"executor {self.label} exited with status {code}\n{self._tail()}")
        try:
            decoded = json.loads(answer)
        except json.JSONDecodeError:
            self.close()
            raise ExecutorError(
                f"executor {self.label} wrote a line that is not JSON: {answer[:500]!r}"
            ) from None
        if not isinstance(decoded, dict) or decoded.get("id") != self._next_id:
            self.close()
            raise ExecutorError(f"executor {self.label} answered out of turn: {answer[:500]!r}")
        del decoded["id"]
        if sum(key in decoded for key in ("response", "error", "failure")) != 1:
            raise ExecutorError(
                f"executor {self.label}: an answer has one of response, error or failure: {decoded}"
            )
        return decoded

    def close(self) -> None:
        """Close stdin (the executor exits on end of input), then make sure it has exited."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if self._reader is not None:
                self._reader.join(timeout=10)
                self._reader = None
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
