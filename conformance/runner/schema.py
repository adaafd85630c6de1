"""Case files: YAML under `conformance/cases/`, each case parsed into `polytrack.conformance.v1.Case`.

A case file is a mapping with

* `cases`: the list of cases (each a `Case` in protobuf JSON form, snake_case field names);
* `defaults` (optional): fields merged into every case of the file that does not set them
  (e.g. `mlflow_compatible: true`);
* `common` (optional): anything, ignored by the loader; the place for YAML anchors of steps that
  several cases share (`- *create_run`).

A case that does not fit the schema, has a name outside its file's area, a name used twice, a
matcher or generator the runner does not know, or a transport its steps cannot use, stops loading
with a `CaseError` naming the file and the case.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no types; types-PyYAML is not a dependency
from google.protobuf import json_format

from conformance.runner import values
from conformance.runner.matchers import MatcherError, validate_expected

SUITE_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = SUITE_DIR.parent
CASES_DIR = SUITE_DIR / "cases"
_GENERATED_CASE_MODULE = REPO_ROOT / "gen" / "python" / "polytrack" / "conformance" / "v1" / "case_pb2.py"
# Struct numbers are doubles: integers beyond 2**53 would silently change.
_MAX_EXACT_INTEGER = 2**53
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)+$")
DEFAULT_SERVICE = "polytrack.v1.TrackingService"
# libyaml's safe loader when PyYAML was built with it (ten times faster), else the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CaseError(Exception):
    """A case file or case that cannot be used; the message names the file and the case."""


@cache
def case_pb2() -> ModuleType:
    """The generated module of case.proto (`polytrack.conformance.v1.case_pb2`).

    It is imported when installed as a package; otherwise it is loaded from `gen/python`, where
    `scripts/generate.py` writes it.
    """
    try:
        return importlib.import_module("polytrack.conformance.v1.case_pb2")
    except ImportError:
        pass
    if not _GENERATED_CASE_MODULE.is_file():
        raise CaseError(f"{_GENERATED_CASE_MODULE} is missing: run `python scripts/generate.py`")
    spec = importlib.util.spec_from_file_location("polytrack_conformance_case_pb2", _GENERATED_CASE_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def transport_name(number: int) -> str:
    """ "REST" or "GRPC" for a `Transport` enum number."""
    name: str = case_pb2().Transport.Name(number)
    return name


REST = "REST"
GRPC = "GRPC"
ALL_TRANSPORTS = (REST, GRPC)


@dataclass(frozen=True)
class LoadedCase:
    """A validated case: its message, where it came from, and the transports it runs on."""

    message: Any  # polytrack.conformance.v1.Case
    path: Path
    transports: tuple[str, ...]
    area: str
    features: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        name: str = self.message.name
        return name

    @property
    def description(self) -> str:
        description: str = self.message.description
        return description

    @property
    def mlflow_compatible(self) -> bool:
        return bool(self.message.mlflow_compatible)

    @property
    def steps(self) -> list[Any]:
        return list(self.message.steps)


def area_of(path: Path) -> str:
    """The name prefix of the cases in `path`: `runs_search.yaml` -> `runs/search`."""
    return path.stem.replace("_", "/")


def _check_numbers(value: Any, where: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int) and abs(value) > _MAX_EXACT_INTEGER:
        raise CaseError(f"{where}: integer {value} is too large to keep exactly; write it as a string")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(item, f"{where}[{index}]")


def _check_step(step: Any, index: int) -> None:
    where = f"step {index + 1}"
    kind = step.WhichOneof("action")
    if kind is None:
        raise CaseError(f"{where}: has neither `rpc` nor `http`")
    if kind == "rpc" and not step.rpc.method:
        raise CaseError(f"{where}: rpc without a method")
    if kind == "http" and (not step.http.method or not step.http.path.startswith("/")):
        raise CaseError(f"{where}: http needs a method and a path starting with '/'")
    expect = step.expect
    try:
        if expect.WhichOneof("outcome") == "response_subset":
            validate_expected(values.from_proto_value(expect.response_subset))
        for header, expected in expect.headers.items():
            if kind != "http":
                raise CaseError(f"{where}: header expectations apply to http steps only")
            if header != header.lower():
                raise CaseError(f"{where}: expected header names are lower case, got {header!r}")
            validate_expected(values.from_proto_value(expected))
        if kind == "rpc":
            values.validate_template(values.from_proto_struct(step.rpc.request))
        elif step.http.WhichOneof("body") == "json":
            values.validate_template(values.from_proto_value(step.http.json))
    except (MatcherError, values.TemplateError) as error:
        raise CaseError(f"{where}: {error}") from None
    if expect.WhichOneof("outcome") == "error" and expect.error.message_regex:
        try:
            re.compile(expect.error.message_regex)
        except re.error as error:
            raise CaseError(f"{where}: message_regex: {error}") from None
    for capture in step.captures:
        if not capture.name or not capture.path:
            raise CaseError(f"{where}: a capture needs a name and a path")
        if capture.name in values.RESERVED_NAMES:
            raise CaseError(f"{where}: capture name {capture.name!r} is reserved")
        if expect.WhichOneof("outcome") == "error":
            raise CaseError(f"{where}: cannot capture from a step expected to fail")


def _placeholders(step: Any) -> tuple[set[str], set[str]]:
    """Names used by the step's call, and by its expectation (which may use its own captures)."""
    used: set[str] = set()
    if step.WhichOneof("action") == "rpc":
        used |= values.names_used(values.from_proto_struct(step.rpc.request))
    else:
        http = step.http
        used |= values.names_used([http.path, dict(http.headers), [[q.name, q.value] for q in http.query]])
        if http.WhichOneof("body") == "json":
            used |= values.names_used(values.from_proto_value(http.json))
        elif http.WhichOneof("body") == "raw":
            used |= values.names_used(http.raw)
    expected: set[str] = set()
    if step.expect.WhichOneof("outcome") == "response_subset":
        expected |= values.names_used(values.from_proto_value(step.expect.response_subset))
    for header in step.expect.headers.values():
        expected |= values.names_used(values.from_proto_value(header))
    return used, expected


def _transports_of(case: Any) -> tuple[str, ...]:
    has_http = any(step.WhichOneof("action") == "http" for step in case.steps)
    listed = tuple(dict.fromkeys(transport_name(t) for t in case.transports))
    if "TRANSPORT_UNSPECIFIED" in listed:
        raise CaseError("transports: TRANSPORT_UNSPECIFIED is not a transport")
    if not listed:
        return (REST,) if has_http else ALL_TRANSPORTS
    if has_http and GRPC in listed:
        raise CaseError("transports: a case with http steps runs on REST only")
    return listed


def _parse_case(raw: Any, path: Path, area: str) -> LoadedCase:
    if not isinstance(raw, dict):
        raise CaseError("a case must be a mapping")
    _check_numbers(raw, "case")
    message = case_pb2().Case()
    try:
        json_format.ParseDict(raw, message)
    except json_format.ParseError as error:
        raise CaseError(f"does not fit polytrack.conformance.v1.Case: {error}") from None
    if not _NAME.match(message.name):
        raise CaseError(
            "name must be lower-case path segments of letters, digits, '-', '_' or '.', "
            "like 'experiments/create/already-exists'"
        )
    if not message.name.startswith(area + "/"):
        raise CaseError(f"a case in {path.name} must be named {area}/...")
    if not message.description.strip():
        raise CaseError("description is required")
    if not message.steps:
        raise CaseError("a case needs at least one step")
    captured: set[str] = set(values.RESERVED_NAMES)
    for index, step in enumerate(message.steps):
        _check_step(step, index)
        request_names, expected_names = _placeholders(step)
        unknown = request_names - captured
        captured.update(capture.name for capture in step.captures)
        unknown |= expected_names - captured
        if unknown:
            raise CaseError(
                f"step {index + 1}: uses {', '.join('${' + n + '}' for n in sorted(unknown))} "
                "before any step captures it"
            )
    for feature in message.requires_features:
        if not re.match(r"^[a-z0-9]+(-[a-z0-9]+)*$", feature):
            raise CaseError(f"requires_features: {feature!r} is not a kebab-case name")
    return LoadedCase(
        message=message,
        path=path,
        transports=_transports_of(message),
        area=area,
        features=tuple(message.requires_features),
    )


def load_file(path: Path) -> list[LoadedCase]:
    """The cases of one YAML file, validated; raises CaseError naming the file and case."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        raise CaseError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        raise CaseError(f"{path}: expected a mapping with a `cases` list")
    unknown = set(document) - {"cases", "defaults", "common"}
    if unknown:
        raise CaseError(
            f"{path}: unknown top-level keys {sorted(unknown)} (expected cases, defaults, common)"
        )
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise CaseError(f"{path}: `defaults` must be a mapping")
    area = area_of(path)
    loaded: list[LoadedCase] = []
    for index, raw in enumerate(document["cases"]):
        label = raw.get("name", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
        merged = {**defaults, **raw} if isinstance(raw, dict) else raw
        try:
            loaded.append(_parse_case(merged, path, area))
        except CaseError as error:
            raise CaseError(f"{path}: case {label}: {error}") from None
    return loaded


def load_cases(directory: Path = CASES_DIR) -> list[LoadedCase]:
    """Every case under `directory` (`*.yaml`), in file then file order; names must be unique."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise CaseError(f"no case files (*.yaml) in {directory}")
    cases: list[LoadedCase] = []
    seen: dict[str, Path] = {}
    for path in files:
        for case in load_file(path):
            if case.name in seen:
                raise CaseError(f"{path}: case {case.name}: name already used in {seen[case.name]}")
            seen[case.name] = path
            cases.append(case)
    return cases


def select(cases: list[LoadedCase], patterns: list[str] | None) -> list[LoadedCase]:
    """The cases whose name matches one of the glob `patterns` (all cases when there are none)."""
    if not patterns:
        return list(cases)
    return [case for case in cases if any(fnmatch.fnmatchcase(case.name, p) for p in patterns)]
